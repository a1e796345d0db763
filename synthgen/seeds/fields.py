"""What every seed format shares: one record's faults, its examples, and typed fields."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


class Fault(Exception):
    """One thing wrong with one record; the reader adds the file and line."""

    def __init__(self, code: str, field: str | None, message: str, hint: str) -> None:
        super().__init__(message)
        self.code = code
        self.field = field
        self.message = message
        self.hint = hint


@dataclass(frozen=True)
class Example:
    """One instruction/input/output triple taken from a record (a record may hold several)."""

    instruction: str
    input: str
    output: str
    instance: int | None = None  # 1-based, self-instruct only
    # a conversation's every turn as (role, content), its system prompt first; None for a
    # single exchange with no system prompt
    messages: tuple[tuple[str, str], ...] | None = None


@dataclass
class Parsed:
    """What one record yields: its own id (if any), examples, meta and soft warnings."""

    record_id: str | None
    examples: list[Example]
    meta: dict[str, Any]
    warnings: list[Fault] = field(default_factory=list)


def kind_of(value: Any) -> str:
    """A JSON value's kind in words, for error messages that say what was found instead."""
    if value is None:
        return "null"
    return {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "an array",
        dict: "an object",
    }.get(type(value), type(value).__name__)


def text(value: Any, name: str, *, required: bool = True) -> str:
    """A text field: a string (non-blank when required); optional fields accept null as ""."""
    if not required and value is None:
        return ""
    if not isinstance(value, str):
        quote = (
            f", e.g. {json.dumps(str(value))}"
            if isinstance(value, int | float) and not isinstance(value, bool)
            else ""
        )
        raise Fault(
            "wrong_type",
            name,
            f"must be a string, not {kind_of(value)}",
            f'put the text of "{name}" in double quotes{quote}',
        )
    if required and not value.strip():
        raise Fault(
            "empty",
            name,
            "empty or only whitespace",
            f"write the {name.split('.')[-1]} text, or remove the record",
        )
    return value

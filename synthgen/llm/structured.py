"""Structured answers: JSON out of a reply (fenced or wrapped in prose), and the one repair
re-ask that shows the model its unusable reply and what was wrong with it."""

from __future__ import annotations

import re
from typing import Any

import orjson

from synthgen.llm.types import ChatRequest


class ParseFailure(Exception):
    """A reply that does not hold the JSON asked for."""


_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.MULTILINE)


def parse_json(content: str) -> Any:
    """Strict JSON, tolerating a code fence or prose around one object (prompted mode)."""
    text = content.strip()
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        pass
    stripped = _FENCE.sub("", text).strip()
    start, end = stripped.find("{"), stripped.rfind("}")
    if start < 0 or end <= start:
        raise ParseFailure("reply is not JSON")
    try:
        return orjson.loads(stripped[start : end + 1])
    except orjson.JSONDecodeError as e:
        raise ParseFailure(f"reply is not valid JSON: {e}") from e


def extract_items(content: str, shape: str) -> list[Any]:
    """The items in a reply: the one object for shape "one", else its "tasks" list (its
    "conversations" list for shape "conversations", its "items" for "grounded")."""
    data = parse_json(content)
    if shape == "one":
        return [data]
    key = {"conversations": "conversations", "grounded": "items"}.get(shape, "tasks")
    if not isinstance(data, dict) or not isinstance(data.get(key), list):
        raise ParseFailure(f'expected an object with a "{key}" list')
    items: list[Any] = data[key]
    if not items and shape != "grounded":  # a chunk may yield nothing
        raise ParseFailure(f'"{key}" is empty')
    return items


def repair_request(req: ChatRequest, bad: str, ask: str) -> ChatRequest:
    """The same request with the unusable reply appended, then `ask`: the re-ask saying what
    was wrong with it (its words are the caller's: `prompts.repair_ask`)."""
    msgs = [*req.messages, {"role": "assistant", "content": bad}, {"role": "user", "content": ask}]
    return req.model_copy(update={"messages": msgs})

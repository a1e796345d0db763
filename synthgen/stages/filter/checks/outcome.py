"""What every executor returns: a failure (reason and the executor's message) or a pass."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from synthgen.settings.checks import CHECK_REASONS

REASONS = CHECK_REASONS  # by check


@dataclass(frozen=True)
class CheckFailure:
    """Why an output failed a check: a stable reason and the executor's own message."""

    reason: str
    detail: str


@dataclass(frozen=True)
class Subject:
    """What a check runs: the record's texts and the tests it carries (python)."""

    instruction: str
    input: str
    output: str
    tests: str = ""


class Executor(Protocol):
    """One check: runs a subject's output, returns None when it passes."""

    name: str
    executor: str  # what ran it, with its version, for provenance.checks

    def run(self, subject: Subject) -> CheckFailure | None:
        """The failure of `subject`'s output, or None."""
        ...

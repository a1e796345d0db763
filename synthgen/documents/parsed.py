"""What every parser returns, and the errors they share (no parser imports another)."""

from __future__ import annotations

from dataclasses import dataclass

from synthgen.errors import InputError, UsageError

EXTRA = "pip install 'synthgen[documents]'"


@dataclass(frozen=True)
class Parsed:
    """A document's extracted text and what produced it."""

    text: str
    parser: str
    parser_version: str


def missing_extra(name: str, package: str) -> UsageError:
    """The error for a parser whose optional package is not installed."""
    return UsageError(
        f"reading {name} documents needs the {package} package, which is not installed",
        hint=EXTRA,
    )


def decode(shown: str, data: bytes) -> str:
    """UTF-8 text exactly as in the file (newlines kept); else an error naming the file."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError(
            shown,
            f"not UTF-8 text (byte {e.start} is {data[e.start : e.start + 1]!r})",
            hint="convert the file to UTF-8 (e.g. iconv -f latin1 -t utf-8)",
        ) from e

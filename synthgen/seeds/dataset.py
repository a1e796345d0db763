"""Datasets as stages read them: synthgen records, or plain files from elsewhere, streamed.

A file holds one format throughout: synthgen's own records (they carry `provenance`), or any
seed format (alpaca, self-instruct, OpenAI messages, sharegpt, prompt-completion). Rows are
light (no pydantic) so that stages can stream a million of them; `to_record` makes the
canonical, validated record when a stage needs one.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from synthgen.errors import InputError, UsageError
from synthgen.records import Record, Turn, conversation_id, record_id
from synthgen.seeds.fields import Example, Fault, kind_of
from synthgen.seeds.formats import (
    FORMATS,
    KNOWN_SHAPES,
    REQUIRED,
    detect_format,
    guess_format,
    parse_record,
)
from synthgen.version import __version__

SYNTHGEN = "synthgen"
DATASET_FORMATS = (SYNTHGEN, *FORMATS)
# Reference sets (evaluation benchmarks) come in any shape: GSM8K's question/answer, MMLU's
# question/choices, HumanEval's prompt/canonical_solution... With ANY, a record in a known
# format reads as such and any other JSON object reads as its text fields.
ANY = "any"
QUESTION_KEYS = ("instruction", "question", "prompt", "problem", "query", "input", "text")
_ONE_PER_LINE = 'one JSON object per line, e.g. {"instruction": "...", "output": "..."}'


@dataclass(frozen=True, slots=True)
class Row:
    """One example of a dataset file, with where it was and what it looked like."""

    line: int  # 1-based line in the file (item number for a .json array)
    id: str  # a synthgen record's own id, else the content id
    instruction: str
    input: str
    output: str
    fmt: str
    raw: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)
    # a conversation's turns as {"role", "content"} dicts (system first), else None
    messages: list[dict[str, str]] | None = None

    @property
    def text(self) -> str:
        """Everything the row says, for measures over its whole text (dedup, diversity):
        every turn of a conversation; instruction, input and output otherwise."""
        if self.messages:
            return "\n".join(t["content"] for t in self.messages)
        return f"{self.instruction}\n{self.input}\n{self.output}"


def _row_id(ex: Example) -> str:
    """A content id: over every turn for a conversation, over its three fields otherwise."""
    if ex.messages:
        return conversation_id([Turn(role=r, content=c) for r, c in ex.messages])
    return record_id(ex.instruction, ex.input, ex.output)


def _is_synthgen(obj: dict[str, Any]) -> bool:
    return "provenance" in obj and "id" in obj and "instruction" in obj and "output" in obj


def _synthgen_row(path: str, line: int, obj: dict[str, Any]) -> Row:
    for name in ("instruction", "output"):
        if not isinstance(obj.get(name), str):
            raise InputError(
                path,
                f"must be a string, not {kind_of(obj.get(name))}",
                line=line,
                field=name,
                hint="fix the record; synthgen records hold instruction, input and output text",
            )
    inp = obj.get("input") or ""
    if not isinstance(inp, str):
        raise InputError(
            path, f"must be a string, not {kind_of(inp)}", line=line, field="input", hint=""
        )
    if not isinstance(obj["provenance"], dict):
        raise InputError(
            path,
            f"must be an object, not {kind_of(obj['provenance'])}",
            line=line,
            field="provenance",
            hint="remove the field to read the line as a plain record",
        )
    meta = obj.get("meta")
    return Row(
        line,
        str(obj["id"]),
        obj["instruction"],
        inp,
        obj["output"],
        SYNTHGEN,
        obj,
        meta if isinstance(meta, dict) else {},
        _turns(path, line, obj.get("messages")),
    )


def _turns(path: str, line: int, value: Any) -> list[dict[str, str]] | None:
    """A synthgen record's `messages`, checked: role/content objects, or absent."""
    if value is None:
        return None
    ok = isinstance(value, list) and all(
        isinstance(t, dict)
        and t.get("role") in ("system", "user", "assistant")
        and isinstance(t.get("content"), str)
        for t in value
    )
    if not ok:
        raise InputError(
            path,
            "must be a list of {role, content} turns (role system, user or assistant)",
            line=line,
            field="messages",
            hint="fix the turns, or remove messages to read the record as one exchange",
        )
    return [{"role": t["role"], "content": t["content"]} for t in value]


class _Detector:
    """Fixes the file's format on its first record and holds every later record to it."""

    def __init__(self, path: str, forced: str | None, empty_output: bool = False) -> None:
        if forced is not None and forced not in (*DATASET_FORMATS, ANY):
            raise UsageError(
                f"unknown format {forced!r}", hint=f"use one of: {', '.join(DATASET_FORMATS)}"
            )
        self.path, self.forced, self.fmt = path, forced, forced
        self.empty_output = empty_output
        self.first_line = 0

    def rows(self, line: int, obj: Any) -> list[Row]:
        """The rows one JSON line yields, in the file's format; a bad line raises with its place."""
        if not isinstance(obj, dict):
            raise InputError(
                self.path,
                f"not a JSON object but {kind_of(obj)}",
                line=line,
                hint=f"write {_ONE_PER_LINE}",
            )
        if self.forced == ANY:
            fmt = SYNTHGEN if _is_synthgen(obj) else detect_format(obj)
            if fmt is None:
                return [_text_row(self.path, line, obj)]
        else:
            fmt = self._format_of(line, obj)
        if fmt == SYNTHGEN:
            return [_synthgen_row(self.path, line, obj)]
        try:
            parsed = parse_record(obj, fmt, empty_output=self.empty_output)  # type: ignore[arg-type]
        except Fault as f:
            raise InputError(self.path, f.message, line=line, field=f.field, hint=f.hint) from None
        return [
            Row(
                line,
                _row_id(ex),
                ex.instruction,
                ex.input,
                ex.output,
                fmt,
                obj,
                parsed.meta,
                [{"role": r, "content": c} for r, c in ex.messages] if ex.messages else None,
            )
            for ex in parsed.examples
        ]

    def _format_of(self, line: int, obj: dict[str, Any]) -> str:
        looks = SYNTHGEN if _is_synthgen(obj) else detect_format(obj)
        if self.fmt is None:
            guess = looks or guess_format(obj)
            if guess is None:
                keys = ", ".join(sorted(obj)) or "none"
                raise InputError(
                    self.path,
                    f"matches no dataset format (its keys: {keys})",
                    line=line,
                    hint=f"synthgen records, or one of: {KNOWN_SHAPES}; rename the keys or "
                    "pass --format",
                )
            self.fmt, self.first_line = guess, line
            return guess
        fmt = self.fmt
        if fmt == SYNTHGEN:
            if looks == SYNTHGEN:
                return fmt
            missing = next(k for k in ("provenance", "id", "instruction", "output") if k not in obj)
            raise InputError(
                self.path,
                f"missing: this file holds synthgen records (from line {self.first_line}), "
                f"and this line is {looks or 'no known format'}",
                line=line,
                field=missing,
                hint="keep one format per file; give the line its synthgen fields or move it "
                "to a file of its own",
            )
        if looks in (None, fmt, SYNTHGEN) or all(k in obj for k in REQUIRED[fmt]):  # type: ignore[index]
            return fmt
        where = "--format was given" if self.forced else f"detected from line {self.first_line}"
        raise InputError(
            self.path,
            f"looks like {looks} format, but this file is {fmt} ({where})",
            line=line,
            hint=f"keep one format per file: convert this record to {fmt} or move it to a file "
            "of its own",
        )


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if value.strip() else []
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    return []


def _text_row(path: str, line: int, obj: dict[str, Any]) -> Row:
    """Any JSON object as a row: its question-like fields as the instruction, every other
    string (answers, choices, solutions) as the output."""
    fields = {k: _strings(v) for k, v in obj.items() if k != "id"}
    asks = [k for k in QUESTION_KEYS if fields.get(k)]
    if not asks:
        texts = sorted((k for k in fields if fields[k]), key=lambda k: -len(" ".join(fields[k])))
        asks = texts[:1]
    if not asks:
        raise InputError(
            path,
            "holds no text",
            line=line,
            hint="every evaluation item needs at least one string field",
        )
    instruction = "\n".join(s for k in asks for s in fields[k])
    output = "\n".join(s for k, v in fields.items() if k not in asks for s in v)
    return Row(line, record_id(instruction, "", output), instruction, "", output, ANY, obj)


def _open(path: Path) -> IO[bytes]:
    if str(path) == "-":
        return sys.stdin.buffer
    try:
        return path.open("rb")
    except FileNotFoundError:
        raise InputError(str(path), "file not found", hint="check the path") from None
    except IsADirectoryError:
        raise InputError(str(path), "is a directory", hint="pass a JSONL file") from None
    except OSError as e:
        raise InputError(str(path), f"cannot be read ({e.strerror})", hint="check it") from None


def _values(fh: IO[bytes], path: str) -> Iterable[tuple[int, Any]]:
    """(line or item number, parsed value): JSONL streamed line by line, or a JSON array."""
    first = fh.peek(64)[:64] if hasattr(fh, "peek") else b""
    if first.removeprefix(b"\xef\xbb\xbf").lstrip().startswith(b"["):
        try:
            doc = orjson.loads(fh.read().removeprefix(b"\xef\xbb\xbf"))
        except orjson.JSONDecodeError as e:
            raise InputError(
                path, f"not valid JSON ({e.msg})", line=e.lineno, hint="fix the JSON array"
            ) from None
        if isinstance(doc, list):
            yield from enumerate(doc, 1)
            return
        raise InputError(path, "a JSON file must hold an array of objects", hint="or use JSONL")
    for n, raw in enumerate(fh, 1):
        if n == 1:
            raw = raw.removeprefix(b"\xef\xbb\xbf")
        if not raw.strip():
            continue
        try:
            yield n, orjson.loads(raw)
        except orjson.JSONDecodeError as e:
            raise InputError(
                path,
                f"not valid JSON ({e.msg} at column {e.colno})",
                line=n,
                hint=f"fix or remove the line; write {_ONE_PER_LINE}",
            ) from None


def iter_rows(path: Path, fmt: str | None = None, *, empty_output: bool = False) -> Iterator[Row]:
    """Stream a dataset file's rows; a bad record is an InputError naming line and field.

    A blank output is such an error unless `empty_output` (a stage that ledgers it instead)."""
    name = str(path)
    detector = _Detector(name, fmt, empty_output)
    fh = _open(path)
    try:
        for line, value in _values(fh, name):
            yield from detector.rows(line, value)
    finally:
        if fh is not sys.stdin.buffer:
            fh.close()


def record_dict(row: Row, source_name: str, created_at: str = "") -> dict[str, Any]:
    """The canonical record of a row as a plain dict: synthgen rows as they are; rows from
    other files get "imported" provenance that says where they came from."""
    if row.fmt == SYNTHGEN:
        return row.raw
    source: dict[str, Any] = {"path": source_name, "line": row.line, "format": row.fmt}
    original = row.raw.get("id")
    if original is not None:
        source["id"] = str(original)
    body: dict[str, Any] = {
        "id": row.id,
        "instruction": row.instruction,
        "input": row.input,
        "output": row.output,
    }
    if row.messages:
        body["messages"] = row.messages
    return {
        **body,
        "meta": dict(row.meta),
        "provenance": {
            "run_id": "imported",
            "created_at": created_at,
            "synthgen_version": __version__,
            "config_sha256": "",
            "method": "imported",
            "parents": [],
            "source": source,
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "cost_usd": 0.0},
        },
    }


def to_record(row: Row, source_name: str, created_at: str = "") -> Record:
    """The validated canonical record of a row (an InputError if a synthgen record is bad)."""
    from pydantic import ValidationError

    try:
        return Record.model_validate(record_dict(row, source_name, created_at))
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InputError(
            source_name,
            first["msg"],
            line=row.line,
            field=where,
            hint="fix the record (synthgen records are written by `synthgen expand`), or "
            "remove its provenance to read it as a plain alpaca record",
        ) from None

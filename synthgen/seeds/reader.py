"""Read hand-written seed files in five formats, with errors that say file:line:field."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from synthgen.errors import InputError, UsageError
from synthgen.records import Frozen, Seed, canonical_json, sha256_hex
from synthgen.seeds.fields import Fault, kind_of
from synthgen.seeds.formats import (
    FORMATS,
    KNOWN_SHAPES,
    ONE_PER_LINE,
    REQUIRED,
    SeedFormat,
    detect_format,
    guess_format,
    iter_records,
    parse_record,
)

__all__ = [
    "FORMATS",
    "Problem",
    "SeedFile",
    "SeedFormat",
    "detect_format",
    "merge_seed_files",
    "read_seed_file",
    "read_seeds",
]


class Problem(Frozen):
    """One thing wrong with a seed file; `item` replaces `line` in JSON array files."""

    path: str
    line: int | None = None
    field: str | None = None
    message: str
    hint: str | None = None
    severity: Literal["error", "warning"] = "error"
    item: int | None = None
    code: str = "invalid"

    @property
    def where(self) -> str:
        """Where the problem is, as people read it: file:line, file item N, or just the file."""
        if self.item is not None:
            return f"{self.path} item {self.item}"
        return f"{self.path}:{self.line}" if self.line is not None else self.path

    def to_error(self) -> InputError:
        """The problem as the InputError a strict read raises, with an array item in the text."""
        if self.item is None:
            return InputError(
                self.path, self.message, line=self.line, field=self.field, hint=self.hint
            )
        # InputError knows lines, not array items: say the item in the message instead.
        what = f'field "{self.field}": {self.message}' if self.field else self.message
        err = InputError(self.path, f"item {self.item}: {what}", hint=self.hint)
        err.field = self.field
        return err

    def describe(self) -> str:
        """The same one-line text the strict reader would raise."""
        return self.to_error().message


class SeedFile(Frozen):
    """One file read: its format (None only if strict=False found no readable record)."""

    path: str
    format: SeedFormat | None
    tasks: int
    seeds: list[Seed]
    problems: list[Problem]


def _at(source: dict[str, Any]) -> str:
    return f"item {source['item']}" if "item" in source else f"line {source['line']}"


def _pos(source: dict[str, Any]) -> dict[str, Any]:
    return {"line": source.get("line"), "item": source.get("item")}


def _read_bytes(path: Path) -> bytes:
    hint = "check the path; seed files are JSONL (one object per line) or a .json array"
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError(str(path), "file not found", hint=hint) from None
    except IsADirectoryError:
        raise InputError(str(path), "is a directory", hint="pass the seed file itself") from None
    except OSError as e:
        raise InputError(
            str(path), f"cannot be read ({e.strerror})", hint="check the file's permissions"
        ) from None


def _seed_id(record_id: str | None, n_examples: int, k: int, content: dict[str, Any]) -> str:
    if record_id is not None:
        return record_id if n_examples == 1 else f"{record_id}#{k}"
    return "h_" + sha256_hex(canonical_json(content))[:12]


class _Reader:
    def __init__(self, path: str, fmt: SeedFormat | None, strict: bool) -> None:
        self.path, self.forced, self.strict = path, fmt is not None, strict
        self.fmt: SeedFormat | None = fmt
        self.detected_at = ""
        self.tasks = 0
        self.seeds: list[Seed] = []
        self.problems: list[Problem] = []
        self.seen: dict[str, dict[str, Any]] = {}
        self.records = 0

    def problem(self, pos: dict[str, Any], **kw: Any) -> None:
        """Raise the problem on a strict read (errors only); otherwise collect it for the report."""
        p = Problem(path=self.path, **pos, **kw)
        if self.strict and p.severity == "error":
            raise p.to_error()
        self.problems.append(p)

    def add(self, pos: dict[str, Any], value: Any) -> None:
        """Read one record into seeds, reporting what is wrong with it instead of stopping."""
        self.records += 1
        if isinstance(value, Fault):
            self.problem(pos, code=value.code, message=value.message, hint=value.hint)
            return
        if not isinstance(value, dict):
            kind = kind_of(value)
            hint = f"write {ONE_PER_LINE}"
            if "item" in pos:
                hint = (
                    'each item of the JSON array must be an object like {"instruction", "output"}'
                )
            self.problem(pos, code="not_object", message=f"not a JSON object but {kind}", hint=hint)
            return
        target = self.resolve(pos, value)
        if target is None:
            return
        try:
            parsed = parse_record(value, target)
        except Fault as f:
            self.problem(pos, code=f.code, field=f.field, message=f.message, hint=f.hint)
            return
        if self.fmt is None:
            self.fmt, self.detected_at = target, _at(pos)
        for w in parsed.warnings:
            self.problem(
                pos, code=w.code, field=w.field, message=w.message, hint=w.hint, severity="warning"
            )
        kept = 0
        for ex in parsed.examples:
            content: dict[str, Any] = {
                "instruction": ex.instruction,
                "input": ex.input,
                "output": ex.output,
            }
            if ex.messages is not None:  # a conversation: its id covers every turn
                content["messages"] = [{"role": r, "content": c} for r, c in ex.messages]
            sid = _seed_id(parsed.record_id, len(parsed.examples), ex.instance or 1, content)
            source: dict[str, Any] = {"file": self.path, **pos, "format": target}
            if ex.instance is not None:
                source["instance"] = ex.instance
            if sid in self.seen:
                self.problem(pos, **_duplicate(sid, self.seen[sid], same_file=True))
                continue
            self.seen[sid] = source
            self.seeds.append(Seed(id=sid, **content, meta=dict(parsed.meta), source=source))
            kept += 1
        if kept:
            self.tasks += 1

    def resolve(self, pos: dict[str, Any], obj: dict[str, Any]) -> SeedFormat | None:
        """The format to read this record as, or None after reporting why there is none."""
        looks = detect_format(obj)
        if self.fmt is None:
            guess = looks or guess_format(obj)
            if guess is None:
                keys = ", ".join(sorted(obj)) or "none"
                hint = f"recognised formats: {KNOWN_SHAPES}; rename the keys or pass --format"
                msg = f"matches no seed format (its keys: {keys})"
                self.problem(pos, code="unknown_format", message=msg, hint=hint)
            return guess
        if looks is None or looks == self.fmt or all(k in obj for k in REQUIRED[self.fmt]):
            return self.fmt
        if self.forced:
            msg = f"looks like {looks} format, but --format {self.fmt} was given"
            hint = f"drop --format to autodetect, or pass --format {looks}"
        else:
            msg = f"looks like {looks} format, but this file is {self.fmt}"
            msg += f" (detected from {self.detected_at})"
            hint = (
                f"keep one format per file: move this record to its own file or convert it to "
                f"{self.fmt}; --format {self.fmt} would read every line as {self.fmt}"
            )
        self.problem(pos, code="mixed_format", message=msg, hint=hint)
        return None

    def finish(self) -> SeedFile:
        """The file's result once every record is read; a file with no records is a problem too."""
        if self.records == 0:
            self.problem(
                {},
                code="empty_file",
                message="no records (the file is empty or has only blank lines)",
                hint=f"write {ONE_PER_LINE}",
            )
        return SeedFile(
            path=self.path,
            format=self.fmt,
            tasks=self.tasks,
            seeds=self.seeds,
            problems=self.problems,
        )


def _duplicate(sid: str, first: dict[str, Any], *, same_file: bool) -> dict[str, Any]:
    where = _at(first) if same_file else f"{first['file']} {_at(first)}"
    hint = "remove the duplicate, or run `synthgen seeds inspect` to list every duplicate"
    if sid.startswith("h_"):  # content-derived: same text, not just the same label
        msg = f"same instruction, input and output as {where}"
        return {"code": "duplicate", "message": msg, "hint": hint}
    hint = "give each record its own id; " + hint
    msg = f'duplicate id "{sid}" (first used on {where})'
    return {"code": "duplicate_id", "field": "id", "message": msg, "hint": hint}


def read_seed_file(path: Path, fmt: SeedFormat | None = None, *, strict: bool = True) -> SeedFile:
    """Read one seed file; strict raises InputError on the first error, else collects them."""
    if fmt is not None and fmt not in FORMATS:
        raise UsageError(f"unknown seed format {fmt!r}", hint=f"use one of: {', '.join(FORMATS)}")
    reader = _Reader(str(path), fmt, strict)
    for pos, value in iter_records(_read_bytes(path), json_file=path.suffix == ".json"):
        reader.add(pos, value)
    return reader.finish()


def merge_seed_files(
    files: Sequence[SeedFile], *, strict: bool = True
) -> tuple[list[Seed], list[Problem]]:
    """All seeds of several files; an id already seen in an earlier file is an error."""
    seen: dict[str, dict[str, Any]] = {}
    seeds: list[Seed] = []
    problems: list[Problem] = []
    for f in files:  # ids are already unique within each file
        for s in f.seeds:
            if s.id in seen:
                p = Problem(
                    path=f.path, **_pos(s.source), **_duplicate(s.id, seen[s.id], same_file=False)
                )
                if strict:
                    raise p.to_error()
                problems.append(p)
                continue
            seen[s.id] = s.source
            seeds.append(s)
    return seeds, problems


def read_seeds(paths: Sequence[Path], fmt: SeedFormat | None = None) -> list[Seed]:
    """Every seed of every file (strict), with ids unique across files."""
    if not paths:
        raise UsageError("no seed files given", hint="pass one or more seed files (JSONL or .json)")
    resolved: dict[Path, Path] = {}
    for p in paths:
        key = p.resolve()
        if key in resolved:
            raise UsageError(f"{p} is given twice", hint="pass each seed file once")
        resolved[key] = p
    seeds, _ = merge_seed_files([read_seed_file(p, fmt) for p in paths])
    return seeds

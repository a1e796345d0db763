"""`verify`: a run directory still is what its manifest says (hashes, counts, unique ids,
and no file it does not list)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
from pydantic import Field

from synthgen.core.datasets import RUN_DATA as DATA
from synthgen.core.datasets import RUN_LEDGER as DROPPED
from synthgen.core.datasets import RUN_MANIFEST as MANIFEST
from synthgen.core.manifest import file_sha256
from synthgen.errors import InputError
from synthgen.records import Frozen

VERDICTS_SUFFIX = ".verdicts.jsonl"
MAX_REPEATS_SHOWN = 20  # a run of duplicates is one problem, not a million lines


class VerifyResult(Frozen):
    """Whether a run directory checks out, and each problem found (each names its file)."""

    ok: bool
    problems: list[str]
    files_checked: int
    notes: list[str] = Field(default_factory=list)  # fine files beside it (audit verdicts)


def _load_manifest(run_dir: Path) -> dict[str, Any]:
    path = run_dir / MANIFEST
    hint = "pass a run directory written by `synthgen run` (its manifest.json is written last)"
    if not path.is_file():
        what = "not found" if run_dir.is_dir() else "not found (no such run directory)"
        raise InputError(str(path), what, hint=hint)
    try:
        doc = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as e:
        raise InputError(str(path), f"not valid JSON ({e.msg})", line=e.lineno, hint=hint) from None
    if not isinstance(doc, dict):
        raise InputError(str(path), "not a JSON object", hint=hint)
    for key in ("files", "counts"):
        if not isinstance(doc.get(key), dict):
            raise InputError(str(path), f'no "{key}" object: not a run manifest', hint=hint)
    return doc


def _check_files(run_dir: Path, files: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    root = run_dir.resolve()
    for name, want in sorted(files.items()):
        path = run_dir / name
        if Path(name).is_absolute() or not path.resolve().is_relative_to(root):
            problems.append(f"{name}: listed in the manifest but outside the run directory")
        elif not path.is_file():
            problems.append(f"{name}: missing (the manifest lists it)")
        elif file_sha256(path) != want:
            problems.append(f"{name}: sha256 differs from the manifest (changed after the run)")
    return problems


def _check_unlisted(run_dir: Path, files: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Files in the run directory the manifest does not list: problems (added or left after
    the run), and notes for the audit verdicts `synthgen audit` keeps beside a listed file."""
    listed = {Path(name).as_posix() for name in files} | {MANIFEST}
    found = sorted(p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*") if p.is_file())
    problems: list[str] = []
    notes: list[str] = []
    for name in found:
        if name in listed:
            continue
        # audit's default verdict file for X.jsonl (stages/audit/store.py: verdicts_path_for)
        audited = name.removesuffix(VERDICTS_SUFFIX) + ".jsonl"
        if name.endswith(VERDICTS_SUFFIX) and audited in listed:
            notes.append(f"{name}: audit verdicts for {audited}, not part of the run")
        else:
            problems.append(f"{name}: not listed in the manifest (added after the run?)")
    return problems, notes


def _lines(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, parsed JSON or None when not JSON) for each non-blank line, streamed."""
    with path.open("rb") as fh:
        for n, raw in enumerate(fh, 1):
            if raw.strip():
                try:
                    yield n, orjson.loads(raw)
                except orjson.JSONDecodeError:
                    yield n, None


def _check_data(run_dir: Path, kept: Any, listed: bool) -> list[str]:
    path = run_dir / DATA
    if not path.is_file():
        # A listed file that is missing has been named already.
        return [] if listed else [f"{DATA}: missing (a run always writes it)"]
    problems: list[str] = []
    first: dict[str, int] = {}
    repeats: list[str] = []
    records = 0
    for n, obj in _lines(path):
        records += 1
        rec_id = obj.get("id") if isinstance(obj, dict) else None
        if not isinstance(rec_id, str):
            problems.append(f"{DATA}:{n}: not a record with an id")
        elif rec_id in first:
            repeats.append(f"{DATA}:{n}: id {rec_id} repeats (first at line {first[rec_id]})")
        else:
            first[rec_id] = n
    problems += repeats[:MAX_REPEATS_SHOWN]
    if len(repeats) > MAX_REPEATS_SHOWN:
        problems.append(f"{DATA}: {len(repeats) - MAX_REPEATS_SHOWN} more repeated ids")
    if isinstance(kept, int) and records != kept:
        problems.append(f"{DATA}: {records} records, but the manifest counts kept = {kept}")
    return problems


def _check_dropped(run_dir: Path, dropped: dict[str, Any]) -> list[str]:
    path = run_dir / DROPPED
    seen: Counter[tuple[str, str]] = Counter()
    problems: list[str] = []
    if path.is_file():
        for n, obj in _lines(path):
            why = obj.get("dropped") if isinstance(obj, dict) else None
            if not isinstance(why, dict) or not isinstance(why.get("stage"), str):
                problems.append(f"{DROPPED}:{n}: not a ledger entry with dropped.stage/reason")
                continue
            seen[(why["stage"], str(why.get("reason")))] += 1
    want: Counter[tuple[str, str]] = Counter()
    for stage, reasons in dropped.items():
        for reason, n in reasons.items():
            want[(stage, reason)] = n
    for stage, reason in sorted(set(seen) | set(want)):
        have, expect = seen[(stage, reason)], want[(stage, reason)]
        if have != expect:
            where = DROPPED if path.is_file() else f"{DROPPED} (missing)"
            problems.append(
                f"{where}: {have} dropped at {stage}/{reason}, but the manifest counts {expect}"
            )
    return problems


def _counts(counts: dict[str, Any]) -> tuple[Any, dict[str, Any] | None, list[str]]:
    """counts.kept and counts.dropped, and problems with their shape."""
    problems: list[str] = []
    kept, candidates, dropped = counts.get("kept"), counts.get("candidates"), counts.get("dropped")

    def is_count(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool) and v >= 0

    for name, value in (("kept", kept), ("candidates", candidates)):
        if not is_count(value):
            problems.append(f"{MANIFEST}: counts.{name} is {value!r}, not a count")
    shaped = isinstance(dropped, dict) and all(
        isinstance(r, dict) and all(is_count(n) for n in r.values()) for r in dropped.values()
    )
    if not shaped:
        problems.append(f"{MANIFEST}: counts.dropped is not {{stage: {{reason: count}}}}")
        return kept, None, problems
    assert isinstance(dropped, dict)
    total = sum(n for r in dropped.values() for n in r.values())
    if is_count(kept) and is_count(candidates) and candidates != kept + total:
        problems.append(
            f"{MANIFEST}: counts.candidates = {candidates}, but kept {kept} + dropped {total} "
            f"= {kept + total}"
        )
    return kept, dropped, problems


def verify_run(run_dir: Path) -> VerifyResult:
    """Check a run directory against its manifest; an InputError when there is none."""
    run_dir = Path(run_dir)
    manifest = _load_manifest(run_dir)
    files: dict[str, Any] = manifest["files"]
    unlisted, notes = _check_unlisted(run_dir, files)
    problems = _check_files(run_dir, files) + unlisted
    kept, dropped, count_problems = _counts(manifest["counts"])
    problems += count_problems
    problems += _check_data(run_dir, kept, DATA in files)
    if dropped is not None:
        problems += _check_dropped(run_dir, dropped)
    return VerifyResult(ok=not problems, problems=problems, files_checked=len(files), notes=notes)

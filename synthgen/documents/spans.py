"""Recompute a grounded dataset's spans against the stored texts, trusting nothing it says:
each chunk's hash over its span, each quote at its span, each span inside its chunk."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from synthgen.core.datasets import RUN_DATA
from synthgen.core.verify import VerifyResult, verify_run
from synthgen.documents.store import TextStore
from synthgen.errors import InputError
from synthgen.records import sha256_hex
from synthgen.text.quotes import holds

MAX_PROBLEMS = 50  # a corrupted store breaks every record: the first ones say enough


def _records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open("rb") as fh:
        for n, raw in enumerate(fh, 1):
            if raw.strip():
                try:
                    obj = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    continue  # not a record: verify's other checks name it
                if isinstance(obj, dict):
                    yield n, obj


def _chunks(source: dict[str, Any]) -> list[dict[str, Any]]:
    """The record's chunk, and its second one for a multi-hop question."""
    hop = source.get("hop")
    return [source, *([hop] if isinstance(hop, dict) else [])]


def record_problems(rec: dict[str, Any], text: str) -> list[str]:
    """What does not hold in one grounded record, given its document's extracted text."""
    problems: list[str] = []
    spans = []
    for c in _chunks(rec["provenance"]["source"]):
        try:
            start, end = (int(x) for x in c["chunk_span"])
        except (KeyError, TypeError, ValueError):
            problems.append(f"chunk {c.get('chunk_id')}: no chunk_span")
            continue
        if not 0 <= start <= end <= len(text) or sha256_hex(text[start:end]) != c.get(
            "chunk_sha256"
        ):
            problems.append(f"chunk {c.get('chunk_id')} span [{start}, {end}]: sha256 differs")
        spans.append((c.get("chunk_id"), start, end))
    # K responses: each response's own quotes too (the first's are provenance.evidence)
    responses = rec.get("responses")
    extra = [
        ev
        for r in (responses if isinstance(responses, list) else [])
        if isinstance(r, dict)
        for ev in r.get("evidence") or []
    ]
    for ev in [*(rec["provenance"].get("evidence") or []), *extra]:
        try:
            s, e, quote, match = int(ev["start"]), int(ev["end"]), str(ev["quote"]), ev["match"]
        except (KeyError, TypeError, ValueError):
            problems.append(f"evidence {ev!r}: no start, end, quote or match")
            continue
        if not any(cs <= s <= e <= ce for _, cs, ce in spans):
            problems.append(f"quote span [{s}, {e}] is outside the record's chunk")
        elif not holds(quote, text[s:e], str(match)):
            problems.append(f"quote span [{s}, {e}] does not hold the quote ({match}): {quote!r}")
    return problems


def check_spans(data: Path, store: TextStore) -> tuple[int, list[str]]:
    """(grounded records checked, problems each naming its line and record) for a JSONL
    file whose extracted texts are in `store`."""
    checked, problems = 0, []
    texts: dict[str, str | None] = {}
    for n, rec in _records(data):
        prov = rec.get("provenance")
        source = prov.get("source") if isinstance(prov, dict) else None
        if not isinstance(source, dict) or "chunk_span" not in source:
            continue  # not grounded (an imported record's source names a file and line)
        checked += 1
        where = f"{data.name}:{n}: record {rec.get('id')}"
        sha = str(source.get("text_sha256"))
        if sha not in texts:
            try:
                texts[sha] = store.get(sha)
            except (InputError, ValueError) as e:
                problems.append(f"{where}: extracted text {sha[:12]}: {e}")
                texts[sha] = None
        text = texts[sha]
        if text is not None:
            problems += [f"{where}: {p}" for p in record_problems(rec, text)]
        if len(problems) >= MAX_PROBLEMS:
            problems.append(f"{data.name}: stopped after {MAX_PROBLEMS} problems")
            break
    return checked, problems


def store_for(data: Path) -> TextStore:
    """Where the texts of a dataset's spans are stored: `documents/` in a run directory,
    `<OUT>.documents/` beside a file that expand wrote."""
    if data.name == RUN_DATA:
        return TextStore(data.parent / "documents")
    return TextStore(data.with_name(data.name + ".documents"))


def verify_grounded(target: Path) -> VerifyResult:
    """A run directory checked against its manifest, or a JSONL file (expand's output) on
    its own; in both, every grounded record's spans recomputed."""
    if target.is_file():
        checked, problems = check_spans(target, store_for(target))
        note = f"{target.name}: {checked} grounded records, every span recomputed"
        return VerifyResult(ok=not problems, problems=problems, files_checked=1, notes=[note])
    result = verify_run(target)
    data = target / RUN_DATA
    if not data.is_file():
        return result
    checked, problems = check_spans(data, store_for(data))
    if not checked:
        return result
    notes = [*result.notes, f"{RUN_DATA}: {checked} grounded records, every span recomputed"]
    return VerifyResult(
        ok=result.ok and not problems,
        problems=result.problems + problems,
        files_checked=result.files_checked,
        notes=notes,
    )

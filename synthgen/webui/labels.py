"""The audit page's data: a seeded sample, labels in the verdict file `synthgen audit` uses,
and the same agreement numbers it prints (its own code, called, never copied)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import orjson

from synthgen.errors import InputError, UsageError
from synthgen.stages.audit.agreement import DECIDED, between_reviewers
from synthgen.stages.audit.review import AuditItem, draw_sample, summary
from synthgen.stages.audit.store import (
    VERDICTS,
    VerdictStore,
    read_verdicts,
    verdict_line,
    verdicts_by_auditor,
    verdicts_path_for,
)

ALL = 10**9  # --sample 0: every record
# Offered beside the ledger's own reasons when a reviewer rejects (free text is fine too).
COMMON_REASONS = (
    "below_threshold",
    "refusal",
    "truncated",
    "repetition",
    "output_equals_input",
    "factually_wrong",
    "off_task",
    "unsafe",
)


def _grounding(path: Path, ids: set[str]) -> dict[str, dict[str, Any]]:
    """provenance.source and provenance.evidence of the sampled grounded records, by id."""
    from synthgen.core.jsonl import iter_jsonl

    out: dict[str, dict[str, Any]] = {}
    for _, obj in iter_jsonl(path):
        prov = obj.get("provenance")
        if obj.get("id") in ids and isinstance(prov, dict) and isinstance(prov.get("source"), dict):
            evidence = prov.get("evidence")
            out[obj["id"]] = {
                "source": _with_chunk_text(path, prov["source"]),
                "evidence": [
                    e | {"span": [e["start"], e["end"]]} if _spanned(e) else e
                    for e in (evidence if isinstance(evidence, list) else [])
                ],
            }
    return out


def _spanned(e: Any) -> bool:
    return isinstance(e, dict) and isinstance(e.get("start"), int) and isinstance(e.get("end"), int)


def _with_chunk_text(data: Path, source: dict[str, Any]) -> dict[str, Any]:
    """A grounded record's source with its chunk's text, read from the texts its dataset
    stored (the spans refer to them), so the page can show the evidence in place."""
    from synthgen.documents.spans import store_for

    span, sha = source.get("chunk_span"), source.get("text_sha256")
    if not (isinstance(sha, str) and isinstance(span, list) and len(span) == 2):
        return source
    try:
        text = store_for(data).get(sha)
    except (InputError, ValueError):  # a missing or changed store: the record without it
        return source
    start, end = span
    return source | {"chunk_text": text[start:end], "span": [start, end]}


class AuditBook:
    """One dataset's sample and its labels; writes are serialised, other writers are seen."""

    def __init__(
        self, data: Path, *, sample: int, seed: int, include_dropped: bool, blind: bool = True
    ) -> None:
        from synthgen.core.datasets import dataset_of, ledger_of

        self.data = dataset_of(data)
        self.ledger = ledger_of(self.data)
        if include_dropped and self.ledger is None:
            raise InputError(
                str(data),
                "has no ledger of dropped candidates to sample from",
                hint="drop --include-dropped, or pass the dataset a stage or run wrote",
            )
        self.items = draw_sample(
            self.data, sample or ALL, seed, None, self.ledger if include_dropped else None
        )
        self.by_id = {i.id: i for i in self.items}
        self.grounded = _grounding(self.data, set(self.by_id)) if self.items else {}
        self.store = VerdictStore(verdicts_path_for(self.data))
        self._lock = threading.Lock()
        self.blind = blind

    def _refresh(self) -> None:
        """Re-read the verdict file: another writer (a terminal audit, a second review) may
        have appended to it; reading it whole is cheap beside a person's pace."""
        self.store.latest = read_verdicts(self.store.path)

    def item_view(self, k: int, item: AuditItem) -> dict[str, Any]:
        """What the page shows of one record before the reviewer decides (the judge only
        when not blind)."""
        return {
            "k": k,
            "id": item.id,
            "line": item.line,
            "dropped": item.dropped,
            "instruction": item.instruction,
            "input": item.input,
            "output": item.output,
            "messages": [{"role": r, "content": c} for r, c in item.messages or ()],
            **self.grounded.get(item.id, {}),
            **({} if self.blind else self.judge(item.id)),
        }

    def items_view(self) -> list[dict[str, Any]]:
        """Every sampled record as the page shows it."""
        return [self.item_view(k, i) for k, i in enumerate(self.items, 1)]

    def labels_of(self, reviewer: str) -> dict[str, dict[str, Any]]:
        """This reviewer's latest label per record, with the judge's view now that it is decided."""
        with self._lock:
            lines = verdicts_by_auditor(self.store.path)
        return {
            rid: self._label(rid, line["verdict"], line.get("note", ""))
            for (who, rid), line in lines.items()
            if who == reviewer and rid in self.by_id
        }

    def _label(self, rid: str, verdict: str, note: str) -> dict[str, Any]:
        """A label as the page shows it; a skip is no decision, so the judge stays hidden."""
        shown = self.judge(rid) if verdict in DECIDED else {}
        return {"verdict": verdict, "note": note, **shown}

    def judge(self, rid: str) -> dict[str, Any]:
        """The judge's verdict on one record (shown only once a reviewer decided it)."""
        item = self.by_id[rid]
        return {
            "judge": {
                "score": item.judge_score,
                "passed": item.judge_passed,
                "rationale": item.rationale,
            }
        }

    def decide(self, reviewer: str, rid: str, verdict: str, note: str) -> dict[str, Any]:
        """Append one label (the reviewer's name as its auditor) and reveal the judge's view."""
        item = self.by_id.get(rid)
        if item is None:
            raise UsageError(f"record {rid!r} is not in this review's sample")
        if verdict not in VERDICTS:
            raise UsageError(f"unknown verdict {verdict!r}", hint="accept, reject or skip")
        if not reviewer.strip():
            raise UsageError("a label needs the reviewer's name", hint="type it in the page")
        line = verdict_line(item.record(), verdict, note, reviewer.strip(), item.judge_score)
        with self._lock:  # one append at a time: concurrent reviewers never interleave lines
            self.store.add(line)
        return self._label(rid, verdict, note)

    def agreement(self) -> dict[str, Any]:
        """`synthgen audit`'s summary over the same verdict file, and agreement between
        reviewers."""
        with self._lock:
            self._refresh()
            judged = summary(self.items, self.store, self.data, None)
            between = between_reviewers(verdicts_by_auditor(self.store.path))
        return {**judged, "between": between}

    def export(self) -> bytes:
        """Every reviewer's latest label per record, as JSONL."""
        with self._lock:
            lines = verdicts_by_auditor(self.store.path)
        return b"".join(orjson.dumps(line) + b"\n" for line in lines.values())

    def reasons(self) -> list[str]:
        """The ledger's vocabulary of drop reasons (those in this data's ledger first)."""
        from synthgen.core.jsonl import iter_jsonl

        seen: dict[str, None] = {}
        if self.ledger is not None:
            for _, obj in iter_jsonl(self.ledger):
                dropped = obj.get("dropped")
                if isinstance(dropped, dict) and isinstance(dropped.get("reason"), str):
                    seen[dropped["reason"]] = None
        seen.update(dict.fromkeys(COMMON_REASONS))
        return [r for r in seen if r != "surplus"]

    def close(self) -> None:
        """Sync and close the verdict file."""
        with self._lock:
            self.store.close()

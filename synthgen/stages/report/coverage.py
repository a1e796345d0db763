"""Coverage of a grounded dataset: per document and chunk, what was kept and what dropped
(by reason), the share of chunks with a kept record, the share of the text kept evidence
covers, and the chunks that yielded nothing."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson

from synthgen.documents.model import Chunk, Document
from synthgen.records import Frozen


class ChunkCoverage(Frozen):
    """One chunk's outcome."""

    chunk_id: str
    document: str
    heading_path: list[str]
    kept: int
    dropped: dict[str, int]


class DocumentCoverage(Frozen):
    """One document's outcome over its chunks."""

    document: str
    chunks: int
    chunks_with_kept: int
    kept: int
    dropped: dict[str, int]
    evidence_chars: int
    chars: int


class Coverage(Frozen):
    """The coverage block of a grounded run's report and manifest."""

    chunks: int
    chunks_with_kept: int
    chunk_coverage: float
    evidence_chars: int
    chars: int
    evidence_coverage: float
    documents: list[DocumentCoverage]
    per_chunk: list[ChunkCoverage]
    empty_chunks: list[str]  # chunks with no kept record, in corpus order


def _lines(path: Path) -> Iterator[dict[str, Any]]:
    if not path.exists():
        return
    with path.open("rb") as fh:
        for raw in fh:
            try:
                obj = orjson.loads(raw)
            except orjson.JSONDecodeError:
                continue
            if isinstance(obj, dict):
                yield obj


def _source(obj: dict[str, Any]) -> dict[str, Any] | None:
    prov = obj.get("provenance")
    src = prov.get("source") if isinstance(prov, dict) else None
    return src if isinstance(src, dict) and "chunk_id" in src else None


def _union(spans: list[tuple[int, int]]) -> int:
    """Characters covered by the union of [start, end) spans."""
    total, reach = 0, -1
    for s, e in sorted(spans):
        if e <= reach:
            continue
        total += e - max(s, reach)
        reach = e
    return total


def coverage(
    data: Path, ledger: Path, documents: Sequence[Document], chunks: Sequence[Chunk]
) -> Coverage:
    """The coverage of the records in `data` and the drops in `ledger` over the corpus."""
    kept: Counter[str] = Counter()
    spans: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for rec in _lines(data):
        src = _source(rec)
        if src is None:
            continue
        kept[src["chunk_id"]] += 1
        for ev in rec["provenance"].get("evidence") or []:
            spans[str(src.get("text_sha256"))].append((int(ev["start"]), int(ev["end"])))
    dropped: dict[str, Counter[str]] = defaultdict(Counter)
    for entry in _lines(ledger):
        src = _source(entry)
        why = entry.get("dropped")
        if src is not None and isinstance(why, dict):
            dropped[src["chunk_id"]][str(why.get("reason"))] += 1
    per_chunk = [
        ChunkCoverage(
            chunk_id=c.id,
            document=c.document,
            heading_path=list(c.heading_path),
            kept=kept[c.id],
            dropped=dict(sorted(dropped[c.id].items())),
        )
        for c in chunks
    ]
    docs = []
    for d in documents:
        mine = [pc for pc in per_chunk if pc.document == d.path]
        drops: Counter[str] = Counter()
        for pc in mine:
            drops.update(pc.dropped)
        docs.append(
            DocumentCoverage(
                document=d.path,
                chunks=len(mine),
                chunks_with_kept=sum(1 for pc in mine if pc.kept),
                kept=sum(pc.kept for pc in mine),
                dropped=dict(sorted(drops.items())),
                evidence_chars=_union(spans[d.text_sha256]),
                chars=d.chars,
            )
        )
    with_kept = sum(1 for pc in per_chunk if pc.kept)
    chars = sum(d.chars for d in docs)
    evidence = sum(d.evidence_chars for d in docs)
    return Coverage(
        chunks=len(per_chunk),
        chunks_with_kept=with_kept,
        chunk_coverage=round(with_kept / len(per_chunk), 4) if per_chunk else 0.0,
        evidence_chars=evidence,
        chars=chars,
        evidence_coverage=round(evidence / chars, 4) if chars else 0.0,
        documents=docs,
        per_chunk=per_chunk,
        empty_chunks=[pc.chunk_id for pc in per_chunk if not pc.kept],
    )

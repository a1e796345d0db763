"""Coverage of a grounded dataset: per document and chunk, what was kept and what dropped
(by reason), the share of chunks with a kept record, the share of the text kept evidence
covers, and the chunks that yielded nothing."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson

from synthgen.documents.model import Chunk, Document
from synthgen.records import Frozen

_STORED = re.compile(r"documents/([0-9a-f]{64})\.txt")  # a run dir's stored extracted text


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


def _lines(path: Path | None) -> Iterator[dict[str, Any]]:
    if path is None or not path.exists():
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
    data: Path, ledger: Path | None, documents: Sequence[Document], chunks: Sequence[Chunk]
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


def seen_coverage(data: Path, ledger: Path | None) -> dict[str, Any] | None:
    """The coverage block `synthgen report` computes without re-reading the documents:
    for a run dir, over every chunk of the corpus its manifest lists (those that yielded
    nothing, or were never asked about, included); else over the chunks its records and
    drops name (a run ledgers every chunk it asked about, `[]` included), with the stored
    texts' sizes when they are beside the data. None when the data is not grounded."""
    whole = _manifest_corpus(data)
    if whole is not None:
        block = coverage(data, ledger, *whole)
        return {"scope": "every chunk of the corpus", **block.model_dump(mode="json")}
    chunks: dict[str, Chunk] = {}
    docs: dict[str, Document] = {}
    store = data.parent / "documents" if data.name == "data.jsonl" else None
    store = store or data.with_name(data.name + ".documents")
    for path in (data, ledger):
        for obj in _lines(path):
            src = _source(obj)
            if src is None or src["chunk_id"] in chunks:
                continue
            start, end = (int(x) for x in src["chunk_span"])
            sha = str(src.get("text_sha256"))
            text = store / f"{sha}.txt"
            chars = len(text.read_text(encoding="utf-8")) if text.is_file() else 0
            docs.setdefault(sha, _document(src, chars))
            chunks[src["chunk_id"]] = _chunk(src, start, end)
    if not chunks:
        return None
    order = sorted(chunks.values(), key=lambda c: (c.document, c.index))
    block = coverage(data, ledger, list(docs.values()), order)
    return {"scope": "chunks the run asked about", **block.model_dump(mode="json")}


def _document(src: dict[str, Any], chars: int) -> Document:
    return Document(
        path=str(src.get("document")),
        sha256=str(src.get("document_sha256")),
        parser=str(src.get("parser")),
        parser_version=str(src.get("parser_version")),
        text_sha256=str(src.get("text_sha256")),
        chars=chars,
    )


def _chunk(src: dict[str, Any], start: int, end: int) -> Chunk:
    cid = str(src["chunk_id"])
    index = cid.rpartition("#")[2]
    return Chunk(
        id=cid,
        document=str(src.get("document")),
        text_sha256=str(src.get("text_sha256")),
        index=int(index) if index.isdigit() else 0,
        start=start,
        end=end,
        sha256=str(src.get("chunk_sha256")),
        heading_path=tuple(src.get("heading_path") or ()),
        text="",
        tokens=0,
    )


def _manifest_corpus(data: Path) -> tuple[list[Document], list[Chunk]] | None:
    """A run dir's corpus as its manifest's coverage block lists it, every chunk in corpus
    order (the counts are recomputed from the data and ledger, never taken from it); each
    text's full sha256 from the stored texts the manifest lists. None outside a grounded
    run dir."""
    manifest = data.parent / "manifest.json"
    if data.name != "data.jsonl" or not manifest.is_file():
        return None
    try:
        m = orjson.loads(manifest.read_bytes())
    except orjson.JSONDecodeError:
        return None
    block = m.get("coverage") if isinstance(m, dict) else None
    if not isinstance(block, dict) or not isinstance(block.get("per_chunk"), list):
        return None
    files = m.get("files")
    stored = [_STORED.fullmatch(n) for n in files] if isinstance(files, dict) else []
    full = {hit[1][:12]: hit[1] for hit in stored if hit}
    chunks: list[Chunk] = []
    for pc in block["per_chunk"]:
        prefix = str(pc["chunk_id"]).rpartition("#")[0]
        src = {**pc, "text_sha256": full.get(prefix, prefix), "chunk_sha256": ""}
        chunks.append(_chunk(src, 0, 0))
    sha_of = {c.document: c.text_sha256 for c in chunks}
    docs = [
        _document({"document": d["document"], "text_sha256": sha_of.get(d["document"])}, d["chars"])
        for d in block.get("documents") or []
    ]
    return docs, chunks


def grounding_line(g: dict[str, Any]) -> str:
    """The coverage block in one line for the terminal: chunks with a kept record, the
    evidence's share of the text, and the chunks that yielded nothing."""
    empty = g["empty_chunks"]
    shown = ", ".join(empty[:8]) + (f" and {len(empty) - 8} more" if len(empty) > 8 else "")
    return (
        f"{g['chunks_with_kept']} of {g['chunks']} chunks ({g.get('scope', 'all chunks')}) "
        f"kept a record ({g['chunk_coverage']:.1%}); kept evidence covers "
        f"{g['evidence_coverage']:.1%} of the text"
        + (f"; yielded nothing: {shown}" if empty else "")
    )

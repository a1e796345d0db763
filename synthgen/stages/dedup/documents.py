"""Documents as dedup references: `dedup.decontaminate` (and `against`) may name .md, .txt,
.html, .pdf or .docx files as well as datasets; each chunk of such a document is a reference
row, so a record sharing a 13-gram with it is a leak like one from an evaluation set."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from synthgen.documents.parse import supported
from synthgen.seeds.dataset import Row, iter_rows


def reference_rows(path: Path, fmt: str | None) -> Iterator[Row]:
    """The rows of a dataset file, or one row per chunk of a document (its text as the
    instruction, the chunk's index as its line)."""
    if not (path.is_file() and supported(path)):
        yield from iter_rows(path, fmt, empty_output=True)
        return
    from synthgen.documents import load_corpus

    corpus = load_corpus([path.name], base=path.parent)
    for c in corpus.chunks:
        raw = {"id": c.id, "instruction": c.text}
        yield Row(c.index + 1, c.id, c.text, "", "", "document", raw)

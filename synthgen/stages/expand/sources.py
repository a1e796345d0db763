"""The corpus a grounded run draws on, as the checks and provenance need it: each chunk's
document, and where in the corpus a quote that is not in its own chunk comes from."""

from __future__ import annotations

import bisect
from pathlib import Path
from typing import Any

from synthgen.config import Config
from synthgen.documents.model import Chunk, Corpus, Document
from synthgen.text.quotes import Normalised, normalise


class Sources:
    """Read-only lookups over a corpus; normalised texts are made once, when first needed."""

    def __init__(self, corpus: Corpus) -> None:
        self.corpus = corpus
        self.chunks: tuple[Chunk, ...] = corpus.chunks
        self.documents: dict[str, Document] = {d.path: d for d in corpus.documents}
        self._by_text: dict[str, list[Chunk]] = {}
        for c in corpus.chunks:
            self._by_text.setdefault(c.text_sha256, []).append(c)
        self._normalised: dict[str, Normalised] = {}

    def document(self, chunk: Chunk) -> Document:
        """The document a chunk is part of."""
        return self.documents[chunk.document]

    def text(self, text_sha256: str) -> str:
        """A document's extracted text."""
        return self.corpus.text(text_sha256)

    def siblings(self, chunk: Chunk) -> list[Chunk]:
        """The chunks of the chunk's document, in order."""
        return self._by_text[chunk.text_sha256]

    def _norm(self, text_sha256: str) -> Normalised:
        if text_sha256 not in self._normalised:
            self._normalised[text_sha256] = normalise(self.text(text_sha256))
        return self._normalised[text_sha256]

    def find_elsewhere(self, quote: str, exclude: set[str]) -> Chunk | None:
        """The first chunk outside `exclude` (chunk ids) holding the quote, exactly or once
        normalised: a quote the model took from the examples or from another part."""
        q = quote.strip()
        nq = normalise(q).text
        if not nq:
            return None
        for sha, chunks in self._by_text.items():
            text = self.text(sha)
            at = text.find(q)
            if at < 0:
                n = self._norm(sha)
                found = n.text.find(nq)
                at = n.origin[found] if found >= 0 else -1
            if at >= 0:
                hit = chunks[bisect.bisect_right([c.start for c in chunks], at) - 1]
                if hit.id not in exclude:
                    return hit
        return None

    def fingerprint(self) -> list[dict[str, Any]]:
        """What of the corpus shapes the records, for the job hash: each chunk's id and hash."""
        return [{"id": c.id, "sha256": c.sha256, "document": c.document} for c in self.chunks]


def load_sources(cfg: Config) -> Sources | None:
    """The configured documents, read and chunked (None when none are configured); the
    paths are relative to the config file's folder, else to the working directory."""
    from synthgen.documents import load_corpus

    d = cfg.documents
    if not d.paths:
        return None
    corpus = load_corpus(
        d.paths,
        base=cfg.home or Path.cwd(),
        chunk_tokens=d.chunk_tokens,
        min_chunk_tokens=d.min_chunk_tokens,
    )
    return Sources(corpus)


def store_texts(sources: Sources, root: Path) -> None:
    """Each document's extracted text, stored once under `root` for `verify`."""
    from synthgen.documents import TextStore

    store = TextStore(root)
    for doc in sources.corpus.documents:
        store.put(sources.text(doc.text_sha256))


def documents_dir(output: Path) -> Path:
    """Where expand stores the extracted texts its records' spans refer to: beside OUTPUT."""
    return output.with_name(output.name + ".documents")


def grounded_identity(cfg: Config, sources: Sources) -> dict[str, Any]:
    """What of a grounded job shapes its records beyond the generation settings: the
    prompt, the checks' settings and every chunk (by id and hash)."""
    from synthgen import prompts
    from synthgen.fingerprint import fingerprint_dump

    return {
        "template": prompts.load("grounded").sha256,
        "grounding": fingerprint_dump(cfg.grounding, "grounding"),
        "chunks": sources.fingerprint(),
    }

"""The documents contract: what a file became (Document), its pieces (Chunk), and the set."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import PrivateAttr

from synthgen.records import Frozen


class Document(Frozen):
    """One source file: where it is, what its bytes and its extracted text hash to."""

    path: str  # as the user named it, relative to the config's folder (or the cwd)
    sha256: str  # of the file's bytes
    parser: str  # "text", "markdown", "docling-md", "html", "pdf", "docx"
    parser_version: str  # e.g. "pypdfium2 5.0.0"; "synthgen" for text and Markdown
    text_sha256: str  # of the extracted text as UTF-8: the name it is stored under
    chars: int  # len() of the extracted text


class Chunk(Frozen):
    """A span of a document's extracted text; a document's chunks tile it end to end."""

    id: str  # f"{text_sha256[:12]}#{index}"
    document: str  # the Document's path
    text_sha256: str
    index: int
    start: int  # Python str offsets into the extracted text
    end: int
    sha256: str  # of text[start:end]
    heading_path: tuple[str, ...]
    text: str  # == extracted[start:end]
    tokens: int


def chunk_id(text_sha256: str, index: int) -> str:
    """A chunk's id: the first 12 hex digits of its text's sha256, then its index."""
    return f"{text_sha256[:12]}#{index}"


class Corpus(Frozen):
    """Documents and their chunks, in the order they were named; extracted texts by sha256."""

    documents: tuple[Document, ...]
    chunks: tuple[Chunk, ...]
    # Paths whose extracted text repeats an earlier document's: left out, since their chunks
    # would have the same ids.
    duplicates: tuple[str, ...] = ()
    _texts: dict[str, str] = PrivateAttr(default_factory=dict)

    @classmethod
    def of(
        cls,
        documents: tuple[Document, ...],
        chunks: tuple[Chunk, ...],
        texts: Mapping[str, str],
        duplicates: tuple[str, ...] = (),
    ) -> Corpus:
        """A corpus holding `texts` (extracted text by its sha256) beside its documents."""
        corpus = cls(documents=documents, chunks=chunks, duplicates=duplicates)
        corpus._texts = dict(texts)
        return corpus

    def text(self, text_sha256: str) -> str:
        """The extracted text of a document, by the sha256 its Document and Chunks carry."""
        try:
            return self._texts[text_sha256]
        except KeyError:
            raise KeyError(f"no document in this corpus has text {text_sha256}") from None

    def chunks_of(self, document: str) -> tuple[Chunk, ...]:
        """The chunks of one document (by its path), in order."""
        return tuple(c for c in self.chunks if c.document == document)

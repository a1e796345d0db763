"""Documents in: parsers (Markdown and text as they are, HTML, PDF, DOCX), the stored
extracted text, and chunks with exact offsets that tile each document."""

from synthgen.documents.corpus import load_corpus
from synthgen.documents.model import Chunk, Corpus, Document
from synthgen.documents.store import TextStore

__all__ = ["Chunk", "Corpus", "Document", "TextStore", "load_corpus"]

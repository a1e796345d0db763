"""From a file's bytes to its extracted text: which parser, and the text exactly as read."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from synthgen.documents.parsed import Parsed, decode
from synthgen.errors import InputError, SynthgenError
from synthgen.records import sha256_hex

TEXT_SUFFIXES = {".txt": "text", ".text": "text", ".md": "markdown", ".markdown": "markdown"}
SUFFIXES = {**TEXT_SUFFIXES, ".html": "html", ".htm": "html", ".pdf": "pdf", ".docx": "docx"}
# docling's Markdown export marks each picture with this comment.
_DOCLING_MARKS = ("<!-- image -->", "<!-- formula-not-decoded -->")


def supported(path: Path) -> bool:
    """Whether synthgen reads files with this name's suffix."""
    return path.suffix.lower() in SUFFIXES


def _text(shown: str, data: bytes) -> Parsed:
    return Parsed(decode(shown, data), "text", "synthgen")


def _markdown(shown: str, data: bytes) -> Parsed:
    text = decode(shown, data)
    docling = shown.lower().endswith(".docling.md") or any(m in text for m in _DOCLING_MARKS)
    return Parsed(text, "docling-md" if docling else "markdown", "synthgen")


def _html(shown: str, data: bytes) -> Parsed:
    from synthgen.documents.html_text import parse_html

    return parse_html(shown, data)


def _pdf(shown: str, data: bytes) -> Parsed:
    from synthgen.documents.pdf_text import parse_pdf

    return parse_pdf(shown, data)


def _docx(shown: str, data: bytes) -> Parsed:
    from synthgen.documents.docx_text import parse_docx

    return parse_docx(shown, data)


PARSERS: dict[str, Callable[[str, bytes], Parsed]] = {
    "text": _text,
    "markdown": _markdown,
    "html": _html,
    "pdf": _pdf,
    "docx": _docx,
}


def parse(shown: str, path: Path) -> tuple[Parsed, str]:
    """Read and parse one file: its text and the sha256 of its bytes; InputError (exit 2)
    when it is unreadable or unsupported."""
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise InputError(
            shown,
            f"unsupported document type {path.suffix or '(no suffix)'!r}",
            hint="use .md, .txt, .html, .pdf or .docx (convert others, e.g. with docling)",
        )
    try:
        data = path.read_bytes()
    except OSError as e:
        raise InputError(shown, f"cannot read: {e.strerror}", hint="check the path") from e
    try:
        parsed = PARSERS[kind](shown, data)
    except SynthgenError:
        raise
    except Exception as e:
        # A malformed file a parser chokes on is the file's problem, named, not a traceback.
        raise InputError(
            shown,
            f"the {kind} parser failed on it ({type(e).__name__}: {e})",
            hint="check the file opens; convert it (e.g. to Markdown with docling) if it does",
        ) from e
    return parsed, sha256_hex(data)

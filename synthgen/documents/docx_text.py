"""DOCX text via python-docx: paragraphs and tables in order, headings from paragraph styles
written as Markdown `#` lines, so chunks get a heading path."""

from __future__ import annotations

import io
import re
import zipfile
from importlib.metadata import version
from typing import Any

from synthgen.documents.parsed import Parsed, missing_extra
from synthgen.errors import InputError

_HEADING_STYLE = re.compile(r"Heading (\d)")


def _style(paragraph: Any) -> str:
    style = paragraph.style
    return str(style.name) if style is not None and style.name else ""


def _paragraph(paragraph: Any) -> str:
    text = str(paragraph.text).strip()
    if not text:
        return ""
    style = _style(paragraph)
    m = _HEADING_STYLE.fullmatch(style)
    if m or style == "Title":
        level = int(m.group(1)) if m else 1
        return f"{'#' * min(level, 6)} {' '.join(text.split())}"
    if style.startswith("List"):
        return f"{'1.' if 'Number' in style else '-'} {text}"
    return text


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _table(table: Any) -> str:
    rows = [[_cell(c.text) for c in row.cells] for row in table.rows]
    if not rows:
        return ""
    width = max(len(r) for r in rows)
    rows = [r + [""] * (width - len(r)) for r in rows]
    lines = ["| " + " | ".join(r) + " |" for r in rows]
    lines.insert(1, "|" + "---|" * width)
    return "\n".join(lines)


def parse_docx(shown: str, data: bytes) -> Parsed:
    """A Word document's paragraphs and tables, in body order, a blank line between them."""
    try:
        import docx
        from docx.table import Table
        from docx.text.paragraph import Paragraph
    except ImportError:
        raise missing_extra("DOCX", "python-docx") from None
    try:
        document = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError) as e:
        raise InputError(shown, f"not a readable DOCX ({e})", hint="check it opens") from e
    parts = []
    for item in document.iter_inner_content():
        if isinstance(item, Paragraph):
            parts.append(_paragraph(item))
        elif isinstance(item, Table):
            parts.append(_table(item))
    text = "\n\n".join(p for p in parts if p)
    return Parsed(text + "\n" if text else "", "docx", f"python-docx {version('python-docx')}")

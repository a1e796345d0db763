"""PDF text via pypdfium2 (Apache/BSD), or pypdf (pure Python) when it is missing.

Never PyMuPDF, which is AGPL. Pages are joined by a blank line; line ends are "\n".
"""

from __future__ import annotations

import io
from importlib.metadata import version

from synthgen.documents.parsed import Parsed, missing_extra
from synthgen.errors import InputError

PAGE_BREAK = "\n\n"


# pdfium marks a hyphen it found at a line's end with U+0002: it is shown as a hyphen. Other
# control characters (but tab and newline) are layout debris, not text.
_CONTROLS = {c: None for c in range(32) if chr(c) not in "\t\n\r"} | {2: "-"}


def _clean(page: str) -> str:
    # pdfium ends lines with "\r\n" and may leave trailing spaces on a line.
    lines = page.replace("\r\n", "\n").replace("\r", "\n").translate(_CONTROLS).split("\n")
    return "\n".join(line.rstrip() for line in lines).strip("\n")


def _pdfium(shown: str, data: bytes) -> list[str]:
    import pypdfium2

    try:
        pdf = pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError as e:
        raise InputError(shown, f"not a readable PDF ({e})", hint="check the file opens") from e
    try:
        pages = []
        for page in pdf:
            textpage = page.get_textpage()
            pages.append(textpage.get_text_range())
            textpage.close()
            page.close()
        return pages
    finally:
        pdf.close()


def _pypdf(shown: str, data: bytes) -> list[str]:
    import pypdf

    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        return [page.extract_text() or "" for page in reader.pages]
    except (pypdf.errors.PyPdfError, ValueError, KeyError, IndexError, TypeError) as e:
        raise InputError(shown, f"not a readable PDF ({e})", hint="check the file opens") from e


def parse_pdf(shown: str, data: bytes) -> Parsed:
    """A PDF's text layer, page after page."""
    try:
        pages, used = _pdfium(shown, data), "pypdfium2"
    except ImportError:
        try:
            pages, used = _pypdf(shown, data), "pypdf"
        except ImportError:
            raise missing_extra("PDF", "pypdfium2 (or pypdf)") from None
    text = PAGE_BREAK.join(p for p in (_clean(p) for p in pages) if p.strip())
    return Parsed(text + "\n" if text else "", "pdf", f"{used} {version(used)}")

"""Tiny documents made on the fly (no binary fixtures in the repository): a PDF written by
hand, and a DOCX written with python-docx."""

from __future__ import annotations

from pathlib import Path


def _escape(line: str) -> str:
    return line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def pdf_bytes(pages: list[str]) -> bytes:
    """A PDF with a text layer: each page's lines in Helvetica, top down (ASCII text)."""
    n = len(pages)
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(n))
    objs.append(f"<< /Type /Pages /Kids [{kids}] /Count {n} >>".encode())
    font = 3 + 2 * n
    for i, page in enumerate(pages):
        shown = " ".join(f"({_escape(line)}) Tj T*" for line in page.split("\n"))
        stream = f"BT /F1 11 Tf 72 740 Td 14 TL {shown} ET".encode("latin-1")
        objs.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {4 + 2 * i} 0 R "
            f"/Resources << /Font << /F1 {font} 0 R >> >> >>".encode()
        )
        objs.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
    objs.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, obj in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (i, obj)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)


def write_docx(path: Path) -> Path:
    """A small Word file: a title, two heading levels, a list, a table and body text."""
    import docx

    d = docx.Document()
    d.add_heading("Pump manual", level=0)
    d.add_paragraph("Read this before you start the pump.")
    d.add_heading("Installation", level=1)
    d.add_paragraph("Mount the pump on a level surface.")
    d.add_paragraph("Tighten the four bolts.", style="List Bullet")
    d.add_heading("Pressure", level=2)
    table = d.add_table(rows=2, cols=2)
    for (r, c), text in {(0, 0): "Mode", (0, 1): "kPa", (1, 0): "eco", (1, 1): "40"}.items():
        table.cell(r, c).text = text
    d.add_paragraph("Never exceed 60 kPa.")
    d.save(str(path))
    return path

"""Each parser on a tiny document made in the test: the text it extracts, the parser named in
the Document, and an exit-2 error naming the file or the extra to install."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from support.documents import pdf_bytes, write_docx

from synthgen.documents import TextStore, load_corpus
from synthgen.documents.corpus import scan
from synthgen.errors import EXIT_USAGE, SynthgenError
from synthgen.records import sha256_hex


def one(tmp_path: Path, name: str, data: bytes | str) -> tuple[str, str, str]:
    """Load a single file; its parser, its parser version and its extracted text."""
    p = tmp_path / name
    p.write_bytes(data.encode() if isinstance(data, str) else data)
    corpus = load_corpus([name], base=tmp_path)
    (doc,) = corpus.documents
    text = corpus.text(doc.text_sha256)
    assert doc.path == name and doc.sha256 == sha256_hex(p.read_bytes())
    assert doc.text_sha256 == sha256_hex(text) and doc.chars == len(text)
    assert "".join(c.text for c in corpus.chunks) == text
    return doc.parser, doc.parser_version, text


def fails(tmp_path: Path, names: list[str]) -> SynthgenError:
    with pytest.raises(SynthgenError) as e:
        load_corpus(names, base=tmp_path)
    assert e.value.exit_code == EXIT_USAGE
    return e.value


def test_markdown_and_text_are_read_byte_for_byte(tmp_path: Path) -> None:
    raw = "\ufeff# Título\r\n\r\nLine one.\rOdd ending.\n\tTabbed  text\n"
    assert one(tmp_path, "a.md", raw) == ("markdown", "synthgen", raw)
    assert one(tmp_path, "b.txt", raw)[::2] == ("text", raw)


def test_docling_markdown_is_markdown_under_its_own_name(tmp_path: Path) -> None:
    raw = "## Results\n\n<!-- image -->\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"
    assert one(tmp_path, "paper.md", raw)[0] == "docling-md"
    assert one(tmp_path, "notes.docling.md", "# Plain\n\ntext\n")[0] == "docling-md"


def test_a_file_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    (tmp_path / "latin.txt").write_bytes("café\n".encode("latin-1"))
    err = fails(tmp_path, ["latin.txt"])
    assert "latin.txt" in err.render() and "not UTF-8" in err.render()


def test_html_keeps_the_main_text_and_its_structure(tmp_path: Path) -> None:
    page = """<!doctype html><html><head><title>Ignored</title>
    <style>p { color: red }</style><script>var x = "<p>no</p>";</script></head>
    <body><nav><a href="/">Home</a> | <a href="/x">Menu</a></nav>
    <main><h1>Pump  &amp; valve</h1><p>The pump   runs.<br>It is <b>quiet</b>.</p>
    <h2>Parts</h2><ul><li>Valve</li><li>Seal <i>ring</i></li></ul>
    <pre>make run
  --fast</pre>
    <table><tr><th>Mode</th><th>kPa</th></tr><tr><td>eco</td><td>40</td></tr></table>
    </main><footer>© 2026</footer></body></html>"""
    parser, version, text = one(tmp_path, "page.html", page)
    assert parser == "html" and version.startswith("selectolax ")
    assert text == (
        "# Pump & valve\n\nThe pump runs.\nIt is quiet.\n\n## Parts\n\n- Valve\n\n- Seal ring\n\n"
        "```\nmake run\n  --fast\n```\n\n| Mode | kPa |\n|---|---|\n| eco | 40 |\n"
    )
    corpus = load_corpus(["page.html"], base=tmp_path, chunk_tokens=16, min_chunk_tokens=0)
    assert ("Pump & valve", "Parts") in {c.heading_path for c in corpus.chunks}


def test_html_without_main_uses_the_body_its_title_and_its_declared_charset(
    tmp_path: Path,
) -> None:
    page = '<html><head><meta charset="iso-8859-1"><title>Caf\xe9</title></head>'
    page += "<body><div><p>Men\xfa del d\xeda.</p></div></body></html>"
    text = one(tmp_path, "old.htm", page.encode("latin-1"))[2]
    assert text == "# Café\n\nMenú del día.\n"


def test_html_list_items_keep_their_marker_around_paragraphs(tmp_path: Path) -> None:
    page = "<ol><li><p>First <em>step</em>.</p></li><li></li><li>Then</li></ol><p>After.</p>"
    assert one(tmp_path, "l.html", page)[2] == "1. First step.\n\n1. Then\n\nAfter.\n"


def test_pdf_pages_come_out_in_order(tmp_path: Path) -> None:
    data = pdf_bytes(["Pump manual", "Page two says (hello).\nSecond line."])
    parser, version, text = one(tmp_path, "m.pdf", data)
    assert parser == "pdf" and version.startswith("pypdfium2 ")
    assert text == "Pump manual\n\nPage two says (hello).\nSecond line.\n"


def test_pdf_text_loses_layout_debris_but_keeps_line_end_hyphens() -> None:
    from synthgen.documents.pdf_text import _clean

    assert _clean("\r\nPump hy\x02\r\nphen\x00 at 40\x0c kPa  \r\n\tnext\r\n") == (
        "Pump hy-\nphen at 40 kPa\n\tnext"
    )


def test_pdf_falls_back_to_pypdf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pypdfium2", None)  # as if not installed
    _, version, text = one(tmp_path, "m.pdf", pdf_bytes(["One line", "Two"]))
    assert version.startswith("pypdf ") and "One line" in text and "Two" in text


def test_a_pdf_without_a_text_layer_is_named_with_the_ocr_hint(tmp_path: Path) -> None:
    (tmp_path / "scan.pdf").write_bytes(pdf_bytes([""]))
    err = fails(tmp_path, ["scan.pdf"])
    assert "scan.pdf" in err.render() and "OCR" in err.render()


def test_docx_headings_come_from_paragraph_styles(tmp_path: Path) -> None:
    write_docx(tmp_path / "m.docx")
    corpus = load_corpus(["m.docx"], base=tmp_path, chunk_tokens=12, min_chunk_tokens=0)
    doc = corpus.documents[0]
    assert doc.parser == "docx" and doc.parser_version.startswith("python-docx ")
    assert corpus.text(doc.text_sha256) == (
        "# Pump manual\n\nRead this before you start the pump.\n\n# Installation\n\n"
        "Mount the pump on a level surface.\n\n- Tighten the four bolts.\n\n## Pressure\n\n"
        "| Mode | kPa |\n|---|---|\n| eco | 40 |\n\nNever exceed 60 kPa.\n"
    )
    assert ("Installation", "Pressure") in {c.heading_path for c in corpus.chunks}


@pytest.mark.parametrize("pdfium", [True, False])
def test_a_broken_pdf_or_docx_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pdfium: bool
) -> None:
    if not pdfium:
        monkeypatch.setitem(sys.modules, "pypdfium2", None)
    (tmp_path / "x.pdf").write_bytes(b"%PDF-1.4 then nothing")
    (tmp_path / "y.docx").write_bytes(b"PK\x03\x04 not really a zip")
    err = fails(tmp_path, ["x.pdf", "y.docx"])
    assert "x.pdf: not a readable PDF" in err.render()
    assert "y.docx: not a readable DOCX" in err.render()


def test_a_parser_that_chokes_names_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from synthgen.documents import parse

    def choke(shown: str, data: bytes) -> None:
        raise AttributeError("'NoneType' object has no attribute 'rels'")

    monkeypatch.setitem(parse.PARSERS, "docx", choke)
    (tmp_path / "odd.docx").write_bytes(b"PK")
    err = fails(tmp_path, ["odd.docx"])
    assert "odd.docx: the docx parser failed on it (AttributeError" in err.render()


@pytest.mark.parametrize(
    ("name", "modules"),
    [
        ("p.pdf", ("pypdfium2", "pypdf")),
        ("d.docx", ("docx", "docx.table", "docx.text.paragraph")),
        ("h.html", ("selectolax", "selectolax.lexbor")),
    ],
)
def test_a_missing_parser_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, modules: tuple[str, ...]
) -> None:
    (tmp_path / name).write_bytes(b"anything")
    for m in modules:
        monkeypatch.setitem(sys.modules, m, None)  # as if not installed
    err = fails(tmp_path, [name])
    assert name in err.render() and "pip install 'synthgen[documents]'" in err.render()


def test_folders_globs_and_every_problem_named_at_once(tmp_path: Path) -> None:
    (tmp_path / "docs" / "sub").mkdir(parents=True)
    (tmp_path / "docs" / "b.md").write_text("# B\n\nbee\n")
    (tmp_path / "docs" / "sub" / "a.txt").write_text("ay\n")
    (tmp_path / "docs" / "sub" / "copy.txt").write_text("ay\n")  # the same text again
    (tmp_path / "docs" / ".hidden.md").write_text("secret\n")
    (tmp_path / "docs" / "image.png").write_bytes(b"\x89PNG")
    corpus = load_corpus(["docs", "docs/*.md"], base=tmp_path)
    assert [d.path for d in corpus.documents] == ["docs/b.md", "docs/sub/a.txt"]
    assert load_corpus("docs", base=tmp_path).documents == corpus.documents
    assert corpus.duplicates == ("docs/sub/copy.txt",)
    (tmp_path / "empty.md").write_text("  \n\n")
    (tmp_path / "x.rtf").write_text("{\\rtf1}")
    err = fails(tmp_path, ["docs", "empty.md", "x.rtf", "gone.md", "none/*.md"])
    for name in ("empty.md", "x.rtf", "gone.md", "none/*.md"):
        assert name in err.render()
    assert "docs" not in err.render().replace("docs/", "")
    problems = scan(["empty.md"], base=tmp_path).problems
    assert [p.path for p in problems] == ["empty.md"]


def test_a_glob_under_a_folder_whose_name_has_glob_characters(tmp_path: Path) -> None:
    base = tmp_path / "[draft] notes"
    (base / "d").mkdir(parents=True)
    (base / "d" / "x.md").write_text("# X\n\nx\n")
    corpus = load_corpus(["d/*.md", "**/*.md"], base=base)
    assert [d.path for d in corpus.documents] == ["d/x.md"]
    absolute = load_corpus([str(base / "d" / "x.md")], base=tmp_path)
    assert corpus.documents[0].sha256 == absolute.documents[0].sha256


def test_the_text_store_keeps_texts_once_and_exactly(tmp_path: Path) -> None:
    store = TextStore(tmp_path / "documents")
    text = "line\r\nnext\n"
    digest = store.put(text)
    assert digest == sha256_hex(text) and store.get(digest) == text
    stored = store.path(digest)
    assert stored.read_bytes() == text.encode()
    before = stored.stat().st_mtime_ns
    stored.chmod(0o444)  # write-once: a second put must not write
    assert store.put(text) == digest and stored.stat().st_mtime_ns == before
    assert digest in store and "0" * 64 not in store
    stored.chmod(0o644)
    stored.write_text("changed")
    with pytest.raises(SynthgenError, match="changed"):
        store.get(digest)
    assert store.put(text) == digest and store.get(digest) == text  # written again
    with pytest.raises(SynthgenError, match="missing"):
        store.get("1" * 64)
    with pytest.raises(ValueError):
        store.path("../etc/passwd")

"""HTML main text via selectolax: the page's <main> (or <article>, or <body>) without scripts,
styles and navigation; headings become Markdown `#` lines so chunks get a heading path,
lists `- ` lines, tables pipe tables and <pre> fenced code, kept whole by the chunker."""

from __future__ import annotations

import codecs
import re
from importlib.metadata import version
from typing import Any

from synthgen.documents.parsed import Parsed, decode, missing_extra

_DROP = "script style nav noscript template aside footer form button select svg iframe head"
DROP = frozenset(_DROP.split())
_BLOCK = "p div section article main header blockquote figure figcaption dl dt dd ul ol hr"
BLOCK = frozenset(_BLOCK.split())
HEADINGS = {f"h{n}": n for n in range(1, 7)}
_CHARSET = re.compile(rb"""charset=["']?([A-Za-z0-9_.:-]+)""")
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")


def _squash(text: str) -> str:
    """Whitespace runs as one space, line by line (a <br> is a kept line break)."""
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def _oneline(text: str) -> str:
    return " ".join(text.split())


def _table(node: Any) -> str:
    rows = []
    for tr in node.css("tr"):
        cells = [_oneline(c.text(deep=True)).replace("|", "\\|") for c in tr.css("th, td")]
        if cells:
            rows.append(cells)
    if not rows:
        return ""
    width = max(len(r) for r in rows)
    lines = ["| " + " | ".join(r + [""] * (width - len(r))) + " |" for r in rows]
    lines.insert(1, "|" + "---|" * width)
    return "\n".join(lines)


def _fence(code: str) -> str:
    body = code.strip("\n")
    ticks = "`" * max(3, max((len(m) for m in re.findall(r"`{3,}", body)), default=0) + 1)
    return f"{ticks}\n{body}\n{ticks}"


class _Walker:
    """Walks the tree once, gathering inline text until a block ends it."""

    def __init__(self) -> None:
        self.out: list[str] = []
        self.buf: list[str] = []
        self.prefix = ""

    def flush(self) -> None:
        """End the current paragraph (or list item), if it has any text."""
        text = _squash("".join(self.buf))
        self.buf.clear()
        if text:  # a list item's marker waits for its first text (<li><p>…</p></li>)
            self.out.append(self.prefix + text)
            self.prefix = ""

    def block(self, text: str) -> None:
        """A block written as a whole (heading, table, code), after the paragraph before."""
        self.flush()
        if text:
            self.out.append(text)

    def walk(self, node: Any) -> None:
        """Gather the text under `node`, skipping what is not the page's content."""
        for child in node.iter(include_text=True):
            tag = child.tag
            if tag == "-text":
                self.buf.append(child.text(deep=False))
            elif tag in DROP or tag.startswith("-") or tag.startswith("!"):
                continue
            elif tag == "br":
                self.buf.append("\n")
            elif tag in HEADINGS:
                self.block(f"{'#' * HEADINGS[tag]} {_oneline(child.text(deep=True))}")
            elif tag == "pre":
                self.block(_fence(child.text(deep=True)))
            elif tag == "table":
                self.block(_table(child))
            elif tag == "li":
                self.flush()
                self.prefix = "1. " if node.tag == "ol" else "- "
                self.walk(child)
                self.flush()
                self.prefix = ""
            elif tag in BLOCK:
                self.flush()
                self.walk(child)
                self.flush()
            else:
                self.walk(child)


def _decode(shown: str, data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        m = _CHARSET.search(data[:4096])
        if m:
            try:
                return data.decode(codecs.lookup(m.group(1).decode("ascii")).name)
            except (LookupError, UnicodeDecodeError):
                pass
        return decode(shown, data)


def parse_html(shown: str, data: bytes) -> Parsed:
    """The page's main text as Markdown-like lines, a blank line between blocks."""
    try:
        from selectolax.lexbor import LexborHTMLParser
    except ImportError:
        raise missing_extra("HTML", "selectolax") from None
    tree = LexborHTMLParser(_decode(shown, data))
    root = (
        tree.css_first("main")
        or tree.css_first("[role=main]")
        or tree.css_first("article")
        or tree.body
        or tree.root
    )
    walker = _Walker()
    if root is not None:
        walker.walk(root)
        walker.flush()
    title = tree.css_first("title")
    if title is not None and not any(b.startswith("# ") for b in walker.out):
        name = _oneline(title.text(deep=True))
        walker.out[:0] = [f"# {name}"] if name and walker.out else []
    text = "\n\n".join(walker.out)
    return Parsed(text + "\n" if text else "", "html", f"selectolax {version('selectolax')}")

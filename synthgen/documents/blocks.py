"""A Markdown-shaped text as blocks with exact offsets: headings, paragraphs, tables, code.

Only boundaries are found here; the text itself is never changed. Blank lines belong to the
block before them, so the blocks tile the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Kind = Literal["heading", "text", "whole"]

_HEADING = re.compile(r" {0,3}(#{1,6})(?:[ \t]+(.*?))?[ \t]*#*[ \t]*\r?\n?\Z")
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")
_DELIMITER = re.compile(r"\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*")
_SETEXT = re.compile(r" {0,3}(=+|-+)[ \t]*\r?\n?")
_LIST_ITEM = re.compile(r" {0,3}(?:[-*+]|\d{1,9}[.)])[ \t]")


@dataclass(frozen=True)
class Block:
    """A span of the text and what it is: a heading line, running text, or a table or fenced
    code block that must stay whole."""

    start: int
    end: int
    kind: Kind
    path: tuple[str, ...]  # the heading path in force (for a heading: including itself)


def _lines(text: str) -> list[tuple[int, str]]:
    """Each line with its start offset, line endings kept."""
    out, pos = [], 0
    for line in text.splitlines(keepends=True):
        out.append((pos, line))
        pos += len(line)
    return out


def heading(line: str) -> tuple[int, str] | None:
    """An ATX heading's level and title, or None."""
    m = _HEADING.match(line)
    if not m:
        return None
    return len(m.group(1)), (m.group(2) or "").strip()


def _fence_end(lines: list[tuple[int, str]], i: int, marker: str) -> int:
    """The index of the line after a fence opened at line i (the end, if never closed)."""
    for j in range(i + 1, len(lines)):
        m = _FENCE.match(lines[j][1])
        closes = m and m.group(1)[0] == marker[0] and len(m.group(1)) >= len(marker)
        if m and closes and not lines[j][1][m.end() :].strip():
            return j + 1
    return len(lines)


def _is_table(lines: list[tuple[int, str]], i: int) -> bool:
    return (
        i + 1 < len(lines)
        and "|" in lines[i][1]
        and "|" in lines[i + 1][1]
        and "-" in lines[i + 1][1]
        and _DELIMITER.fullmatch(lines[i + 1][1].rstrip("\r\n")) is not None
    )


def blocks(text: str) -> list[Block]:
    """The text's blocks in order; together they cover it exactly."""
    lines = _lines(text)
    found: list[Block] = []
    stack: list[tuple[int, str]] = []
    i = 0
    while i < len(lines) and not lines[i][1].strip():
        i += 1  # leading blank lines have no block before them: they open the first one
    while i < len(lines):
        start, line = lines[i]
        start = start if found else 0
        if not found and (j := _front_matter(lines, i)):
            while j < len(lines) and not lines[j][1].strip():
                j += 1
            found.append(Block(0, lines[j][0] if j < len(lines) else len(text), "text", ()))
            i = j
            continue
        h, j = heading(line), i + 1
        if h is None and (under := _setext(lines, i)):
            h, j = (under, line.strip()), i + 2
        fence = _FENCE.match(line)
        kind: Kind = "text"
        if h:
            level, title = h
            stack = [s for s in stack if s[0] < level] + [(level, title)]
            kind = "heading"
        elif fence:
            kind, j = "whole", _fence_end(lines, i, fence.group(1))
        elif _is_table(lines, i):
            j = i + 2
            while j < len(lines) and "|" in lines[j][1] and lines[j][1].strip():
                j += 1
            kind = "whole"
        else:
            j = i + 1
            while j < len(lines) and lines[j][1].strip() and not _starts_block(lines, j):
                j += 1
        while j < len(lines) and not lines[j][1].strip():
            j += 1  # trailing blank lines stay with this block
        end = lines[j][0] if j < len(lines) else len(text)
        found.append(Block(start, end, kind, tuple(t for _, t in stack)))
        i = j
    if not found and text:
        found.append(Block(0, len(text), "text", ()))
    return found


def _front_matter(lines: list[tuple[int, str]], i: int) -> int:
    """The line after a YAML front matter block (--- … --- or ...) opening the file, else 0;
    its keys are not setext headings."""
    if lines[i][1].rstrip() != "---":
        return 0
    for j in range(i + 1, min(len(lines), i + 200)):
        if lines[j][1].rstrip() in ("---", "..."):
            return j + 1
    return 0


def _setext(lines: list[tuple[int, str]], i: int) -> int:
    """A setext heading's level (a line underlined by === or ---), else 0."""
    if i + 1 >= len(lines) or not lines[i][1].strip() or _starts_block(lines, i):
        return 0
    if is_list_item(lines[i][1]) or lines[i][1].startswith((" " * 4, "\t", ">")):
        return 0
    m = _SETEXT.fullmatch(lines[i + 1][1])
    return 0 if m is None else (1 if m.group(1)[0] == "=" else 2)


def _starts_block(lines: list[tuple[int, str]], j: int) -> bool:
    line = lines[j][1]
    return bool(heading(line) or _FENCE.match(line) or _is_table(lines, j))


def is_list_item(line: str) -> bool:
    """Whether a line opens a Markdown list item."""
    return _LIST_ITEM.match(line) is not None

"""Chunks that respect the text: split at headings, then paragraphs, then sentences.

Pieces are packed up to a token size, tiny ones merged into a neighbour, tables and fenced
code kept whole. Only boundaries are chosen: every chunk is text[start:end] of the source,
and the chunks tile it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from synthgen.documents.blocks import Block, Kind, blocks, is_list_item

Count = Callable[[str], int]

# A sentence ends at . ! ? (or …), maybe closed by quotes or brackets, then whitespace.
_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’)\]]*\s+")
_ABBREVIATION = re.compile(
    r"(?:\b(?:e\.g|i\.e|etc|vs|cf|al|approx|Mr|Mrs|Ms|Dr|Prof|St|No|Fig|Eq|Sec|Vol|pp)"
    r"|\b[A-Z])\.\s+\Z"
)
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Piece:
    """A span to become a chunk (or part of one), its token estimate and heading path."""

    start: int
    end: int
    tokens: int
    kind: Kind
    path: tuple[str, ...]


def _sentences(text: str, start: int, end: int) -> list[int]:
    """Cut points inside text[start:end] after each sentence (and its whitespace)."""
    cuts = []
    for m in _SENTENCE_END.finditer(text, start, end):
        if m.end() >= end:
            break
        if _ABBREVIATION.search(text, max(start, m.start() - 8), m.end()):
            continue
        nxt = text[m.end()]
        if nxt.isalpha() and nxt.islower():
            continue  # "approx. three": not a sentence's end
        cuts.append(m.end())
    return cuts


def _list_items(text: str, start: int, end: int) -> list[int]:
    """Cut points before each list item after the first, inside text[start:end]."""
    cuts, pos = [], start
    for line in text[start:end].splitlines(keepends=True):
        if pos > start and is_list_item(line):
            cuts.append(pos)
        pos += len(line)
    return cuts


def _words(text: str, start: int, end: int, limit: int, count: Count) -> list[int]:
    """Cut points after whitespace so each piece stays under `limit` tokens; a run with no
    whitespace longer than that is cut every 4 * limit characters."""
    cuts: list[int] = []
    s, good, approx = start, None, 0
    prev = start
    for m in _SPACE.finditer(text, start, end):
        c = m.end()
        if c >= end:
            break
        # Summing the words' counts overestimates a little; the piece is counted whole only
        # when that sum passes the limit, so the work stays linear in the text.
        approx += count(text[prev:c])
        prev = c
        if approx > limit:
            approx = count(text[s:c])
        if approx <= limit:
            good = c
            continue
        cut = good if good is not None and good > s else c
        cuts.append(cut)
        s = cut
        approx = count(text[s:c]) if c > s else 0
        good = c if c > s and approx <= limit else None
    if good is not None and good > s and count(text[s:end]) > limit:
        cuts.append(good)
    out: set[int] = set(cuts)
    for a, b in zip([start, *cuts], [*cuts, end], strict=True):
        if count(text[a:b]) > limit:
            out.update(range(a + 4 * limit, b, 4 * limit))
    return sorted(out - {start, end})


def _split(text: str, block: Block, limit: int, count: Count) -> list[Piece]:
    """A running-text block as pieces each under `limit` tokens where the text allows:
    list items, then sentences, then words."""

    def piece(a: int, b: int) -> Piece:
        return Piece(a, b, count(text[a:b]), block.kind, block.path)

    whole = piece(block.start, block.end)
    if block.kind != "text" or whole.tokens <= limit:
        return [whole]
    out: list[Piece] = []
    for level in (_list_items, _sentences):
        cuts = level(text, block.start, block.end)
        if cuts:
            for a, b in zip([block.start, *cuts], [*cuts, block.end], strict=True):
                out += _split(text, Block(a, b, "text", block.path), limit, count)
            return out
    cuts = _words(text, block.start, block.end, limit, count)
    return [piece(a, b) for a, b in zip([block.start, *cuts], [*cuts, block.end], strict=True)]


def _pack(pieces: list[Piece], limit: int) -> list[list[Piece]]:
    """Pieces grouped greedily up to `limit` tokens; a heading after content starts a group,
    so a group holds one section (or the headings that lead into the next)."""
    groups: list[list[Piece]] = []
    cur: list[Piece] = []
    tokens, has_content = 0, False
    for p in pieces:
        # Headings with nothing under them yet stay with what follows them.
        if has_content and (p.kind == "heading" or tokens + p.tokens > limit):
            groups.append(cur)
            cur, tokens, has_content = [], 0, False
        cur.append(p)
        tokens += p.tokens
        has_content = has_content or p.kind != "heading"
    if cur:
        groups.append(cur)
    return groups


def _merge_tiny(groups: list[list[Piece]], limit: int, minimum: int) -> list[list[Piece]]:
    """Groups under `minimum` tokens joined to the next group (else the one before) when the
    two still fit in `limit`; one pass."""
    out: list[list[Piece]] = []
    sizes: list[int] = []

    def settle() -> None:
        # The last group is tiny and the next did not fit: it joins the one before.
        if len(out) > 1 and sizes[-1] < minimum and sizes[-2] + sizes[-1] <= limit:
            last, size = out.pop(), sizes.pop()
            out[-1].extend(last)
            sizes[-1] += size

    for g in groups:
        size = sum(p.tokens for p in g)
        if out and sizes[-1] < minimum and sizes[-1] + size <= limit:
            out[-1].extend(g)
            sizes[-1] += size
            continue
        settle()
        out.append(list(g))
        sizes.append(size)
    settle()
    return out


@dataclass(frozen=True)
class Span:
    """One chunk's span and heading path, before it becomes a Chunk."""

    start: int
    end: int
    path: tuple[str, ...]


def _path(group: list[Piece]) -> tuple[str, ...]:
    """The heading path in force at the group's first content (past leading headings)."""
    for p in group:
        if p.kind != "heading":
            return p.path
    return group[-1].path


def spans(text: str, limit: int, minimum: int, count: Count) -> list[Span]:
    """The chunk spans of `text`: they tile it (first start 0, last end len(text))."""
    if not text:
        return []
    pieces = [p for b in blocks(text) for p in _split(text, b, limit, count)]
    groups = _merge_tiny(_pack(pieces, limit), limit, minimum)
    return [Span(g[0].start, g[-1].end, _path(g)) for g in groups]

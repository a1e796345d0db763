"""Find a quoted passage in a source text: exact, then after normalisation, then a close
alignment, always as a span of the ORIGINAL text (an offset map undoes the normalisation)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

MatchType = Literal["exact", "normalised", "fuzzy"]

MIN_QUOTE_WORDS = 6  # a shorter quote ("the company", "in 1998") proves nothing
FUZZY_MIN_SCORE = 90.0  # rapidfuzz partial ratio (0-100) a close alignment must reach

_QUOTE_CHARS = str.maketrans(
    {c: "'" for c in "\u2018\u2019\u201a\u201b\u2032\u0060\u00b4"}
    | {c: '"' for c in "\u201c\u201d\u201e\u201f\u2033\u00ab\u00bb"}
    | {c: "-" for c in "\u2010\u2011\u2012\u2013\u2014\u2015\u2212"}
)
_DROPPED = {"\u00ad", "\u200b", "\u200c", "\u200d", "\ufeff"}  # soft hyphen, zero widths
_HYPHEN_BREAK = re.compile(r"(?<=\w)-[ \t]*\r?\n\s*(?=\w)")  # "exam-\nple" → "example"
_WORD = re.compile(r"\w+")
_DIGITS = re.compile(r"\d+")


@dataclass(frozen=True)
class Normalised:
    """A text's comparison form and, for each of its characters, where it began in the original."""

    text: str
    origin: list[int]  # origin[i] = offset in the original of text[i]; one more at the end

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original span of text[start:end] (end exclusive, trailing spaces excluded)."""
        last = self.origin[end - 1] + 1 if end > start else self.origin[start]
        return self.origin[start], last


def normalise(text: str) -> Normalised:
    """Quote characters and dashes unified, hyphenation at line ends joined, invisible
    characters dropped, whitespace runs as one space, lower case; with the offset map."""
    joins = {m.start(): m.end() for m in _HYPHEN_BREAK.finditer(text)}
    out: list[str] = []
    origin: list[int] = []
    i, n = 0, len(text)
    while i < n:
        if i in joins:
            i = joins[i]
            continue
        c = text[i]
        if c in _DROPPED:
            i += 1
            continue
        if c.isspace():
            if out and out[-1] != " ":
                out.append(" ")
                origin.append(i)
            i += 1
            continue
        low = c.translate(_QUOTE_CHARS).lower()
        # a character whose lower case is longer (İ) keeps one slot, so the map stays 1:1
        out.append(low if len(low) == 1 else c)
        origin.append(i)
        i += 1
    if out and out[-1] == " ":
        out.pop()
        origin.pop()
    origin.append(n)
    return Normalised("".join(out), origin)


@dataclass(frozen=True)
class Located:
    """Where a quote is in a text: its original span, how it matched, and the score."""

    start: int
    end: int
    match: MatchType
    score: float = 100.0


def word_count(quote: str) -> int:
    """How many words a quote has (letters or digits in a run)."""
    return len(_WORD.findall(quote))


def locate(quote: str, text: str, fuzzy_min: float = FUZZY_MIN_SCORE) -> Located | None:
    """The quote's span in `text`: exact, else normalised, else a close alignment scoring at
    least `fuzzy_min` (rapidfuzz); None when it is not there."""
    q = quote.strip()
    if not q:
        return None
    at = text.find(q)
    if at >= 0:
        return Located(at, at + len(q), "exact")
    nt, nq = normalise(text), normalise(q).text
    if not nq:
        return None
    at = nt.text.find(nq)
    if at >= 0:
        return Located(*nt.span(at, at + len(nq)), "normalised")
    if fuzzy_min > 100:
        return None
    from rapidfuzz.fuzz import partial_ratio_alignment

    got = partial_ratio_alignment(nq, nt.text, score_cutoff=fuzzy_min)
    if got is None or got.dest_end <= got.dest_start:
        return None
    # The alignment may end mid-word: the span is widened to whole words, and it is the
    # widened span that must score, as verify recomputes exactly that.
    s, e = _widen(nt.text, got.dest_start, got.dest_end)
    # The window is the quote's length: a quote with a misspelt word may start or end a
    # word beyond it, so the word boundaries around it are tried too.
    score, s, e = _best(nq, nt.text, _near(nt.text, s), _near(nt.text, e))
    # A near-verbatim quote may differ in spelling, never in a number: "every 15 minutes"
    # is not "every 19 minutes", however close the strings are.
    if score < fuzzy_min or _DIGITS.findall(nq) != _DIGITS.findall(nt.text[s:e]):
        return None
    return Located(*nt.span(s, e), "fuzzy", round(score, 1))


def _near(text: str, at: int, words: int = 2) -> list[int]:
    """Word boundaries within `words` words either side of `at` (itself included)."""
    found = {at}
    for step in (-1, 1):
        i, seen = at, 0
        while 0 < i < len(text) and seen < words:
            i += step
            if 0 < i < len(text) and text[i] == " ":
                found |= {i, i + 1}  # the end of one word, the start of the next
                seen += 1
    return sorted(found)


def _best(quote: str, text: str, starts: list[int], ends: list[int]) -> tuple[float, int, int]:
    """The (score, start, end) of the best-scoring span with ends among the candidates."""
    from rapidfuzz.fuzz import ratio

    best = (-1.0, 0, 0)
    for a in starts:
        for b in ends:
            if a < b:
                s, e = _widen(text, a, b)
                score = ratio(quote, text[s:e])
                if score > best[0]:
                    best = (score, s, e)
    return best


def _widen(text: str, start: int, end: int) -> tuple[int, int]:
    """The span grown to whole words at both ends, trimmed of spaces."""
    while start > 0 and text[start - 1].isalnum() and text[start].isalnum():
        start -= 1
    while end < len(text) and text[end - 1].isalnum() and text[end].isalnum():
        end += 1
    while start < end and text[start] == " ":
        start += 1
    while end > start and text[end - 1] == " ":
        end -= 1
    return start, end


def holds(quote: str, original: str, match: str, fuzzy_min: float = FUZZY_MIN_SCORE) -> bool:
    """Whether `original` (the text at a recorded span) still bears the quote as `match` says:
    verify's recomputation, without trusting the record."""
    if match == "exact":
        return original == quote.strip()
    a, b = normalise(quote).text, normalise(original).text
    if match == "normalised":
        return a == b and bool(a)
    if match == "fuzzy":
        from rapidfuzz.fuzz import ratio

        return bool(a) and ratio(a, b) >= fuzzy_min and _DIGITS.findall(a) == _DIGITS.findall(b)
    return False


COPY_NGRAM = 8  # words: a run this long is copied, not written


def copied_share(answer: str, source: str, n: int = COPY_NGRAM) -> float:
    """The share of `source`'s word n-grams that `answer` repeats verbatim (0 when the
    source is shorter than n words): how much of its chunk an answer copies."""
    from synthgen.text.normalise import words

    src, ans = words(source), words(answer)
    if len(src) < n or len(ans) < n:
        return 0.0
    grams = {tuple(ans[i : i + n]) for i in range(len(ans) - n + 1)}
    covered = [False] * len(src)
    for i in range(len(src) - n + 1):
        if tuple(src[i : i + n]) in grams:
            covered[i : i + n] = [True] * n
    return sum(covered) / len(src)

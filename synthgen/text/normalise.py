"""Text normalisation for duplicate detection: one canonical form, words, shingles, tokens."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

# Punctuation and symbols become spaces (so "end.Next" stays two words); "_" is a \w
# character but punctuation to people.
_PUNCT = re.compile(r"[^\w\s]|_")
_ROUGE_TOKEN = re.compile(r"[a-z0-9]+")

TEXT_FIELDS = ("instruction", "input", "output")


# The same rule for ASCII text as one bytes.translate table (NFKC and casefold are no-ops or
# plain lowercasing there): most text takes this path, several times faster than the regex.
_ASCII = bytes(32 if _PUNCT.match(chr(b)) else ord(chr(b).lower()) for b in range(128)) + bytes(
    range(128, 256)
)


def words(text: str) -> list[str]:
    """The normalised text's words: NFKC, casefold, punctuation and symbols as spaces."""
    if text.isascii():
        return text.encode().translate(_ASCII).decode().split()
    text = unicodedata.normalize("NFKC", text).casefold()
    return _PUNCT.sub(" ", text).split()


def normalise(text: str) -> str:
    """NFKC, casefold, punctuation stripped, whitespace collapsed: what "the same text" means."""
    return " ".join(words(text))


def id_char(i: int) -> str:
    """Token id i as one character, so that rapidfuzz's Indel over strings (its fastest
    path) is Indel over token sequences; the surrogate block, which str cannot hold on its
    own, is stepped over. ValueError past the last code point (about 1.1M distinct ids)."""
    c = i + 1 if i + 1 < 0xD800 else i + 1 + 0x800
    if c > 0x10FFFF:
        raise ValueError(f"token id {i} has no character")
    return chr(c)


def word_shingles(ws: list[str], n: int = 2) -> list[str]:
    """Word n-grams as strings; a text shorter than n is one shingle of all its words."""
    if len(ws) < n:
        return [" ".join(ws)] if ws else []
    return [" ".join(ws[i : i + n]) for i in range(len(ws) - n + 1)]


def rouge_tokens(text: str) -> list[str]:
    """rouge_score's default tokenizer without stemming (as Self-Instruct used it): lowercase,
    runs of [a-z0-9] are tokens, everything else separates them."""
    return _ROUGE_TOKEN.findall(text.lower())


def jaccard(a: Iterable[object], b: Iterable[object]) -> float:
    """Set overlap of two texts' shingles, the near-duplicate measure; two empties are equal."""
    sa, sb = set(a), set(b)
    if not sa and not sb:
        return 1.0
    return len(sa & sb) / len(sa | sb)


def rouge_l_f(lcs: int, new_len: int, kept_len: int) -> float:
    """ROUGE-L F1 computed with rouge_score's own float operations (target = the new text,
    prediction = the kept one), so that a score on the 0.7 boundary rounds the same way."""
    if lcs == 0 or new_len == 0 or kept_len == 0:
        return 0.0
    precision = lcs / kept_len
    recall = lcs / new_len
    return 2 * precision * recall / (precision + recall)


def joined(values: dict[str, str], fields: tuple[str, ...]) -> str:
    """The text a record is compared on: the chosen fields, one per line."""
    return "\n".join(values[f] for f in fields if values[f])

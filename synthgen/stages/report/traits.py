"""The teacher's fingerprint: habits a model passes to its data, measured on outputs.

Each trait is a regular expression; its rate is the share of outputs where it occurs. The
drift of a trait is its rate in the data over its rate in the human seeds, smoothed so that a
trait the seeds never show does not divide by zero.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import NamedTuple

RATIO_SMOOTHING = 0.02  # added to both rates: 0% → 10% reads as 6×, not infinity


class Trait(NamedTuple):
    """A habit: plain-words description, a pattern, and literals one of which any match holds."""

    description: str
    pattern: re.Pattern[str]
    anchors: tuple[str, ...]  # a cheap `in` test on these skips the regex on most texts
    lowercase: bool  # the pattern is written for lower-cased text


TRAITS: dict[str, Trait] = {
    "hedging": Trait(
        "hedging phrases (it's important to note, generally, it depends, may vary...)",
        re.compile(
            r"\b(?:it(?:'s| is) (?:important|worth) (?:to note|noting|to remember)|"
            r"keep in mind|generally speaking|in general|it depends|may vary|can vary|"
            r"not always|i(?:'m| am) not (?:sure|certain)|perhaps|possibly|"
            r"it(?:'s| is) (?:possible|likely) that)\b"
        ),
        (
            "important",
            "worth",
            "keep in",
            "general",
            "depends",
            "vary",
            "not ",
            "perhaps",
            "possib",
            "likely",
        ),
        True,
    ),
    "refusal": Trait(
        "refusals (I can't help with, I'm unable to...)",
        re.compile(
            r"\b(?:i (?:can(?:not|'t)|won't|will not) (?:help|assist|provide|comply|do that)|"
            r"i(?:'m| am) (?:unable|not able) to|i must decline)\b"
        ),
        ("can't", "cannot", "won't", "will not", "unable", "not able", "decline"),
        True,
    ),
    "as_an_ai": Trait(
        '"as an AI" phrasing',
        re.compile(r"\b(?:as an ai\b|as a(?:n ai)? language model|i am an ai\b|i'm an ai\b)"),
        ("an ai", "language model"),
        True,
    ),
    "apology": Trait(
        "apologies (sorry, I apologize...)",
        re.compile(r"\b(?:i apologi[sz]e|my apologies|sorry)\b"),
        ("apologi", "sorry"),
        True,
    ),
    "markdown_list": Trait(
        "markdown list lines (-, *, 1.)",
        re.compile(r"(?m)^[ \t]*(?:[-*+]|\d{1,2}[.)])[ \t]+\S"),
        ("- ", "* ", "+ ", ". ", ") ", "-\t", "*\t", ".\t"),
        False,
    ),
    "markdown_heading": Trait(
        "markdown headings (#, ##...)", re.compile(r"(?m)^[ \t]*#{1,6}[ \t]+\S"), ("#",), False
    ),
    "exclamation": Trait("exclamation marks (not !=)", re.compile(r"!(?!=)"), ("!",), False),
}
TRAIT_NAMES = tuple(TRAITS)


def _has(trait: Trait, text: str, low: str) -> bool:
    t = low if trait.lowercase else text
    return any(a in t for a in trait.anchors) and trait.pattern.search(t) is not None


def trait_hits(text: str) -> list[bool]:
    """Which traits occur in one text, in TRAIT_NAMES order."""
    low = text.lower()
    return [_has(t, text, low) for t in TRAITS.values()]


class TraitCounter:
    """Streams texts and counts, per trait, the texts where it occurs."""

    def __init__(self) -> None:
        self.n = 0
        self.hits = [0] * len(TRAITS)

    def add(self, text: str) -> None:
        """Count the traits of one text."""
        self.n += 1
        for i, hit in enumerate(trait_hits(text)):
            self.hits[i] += hit

    def add_all(self, texts: Iterable[str]) -> TraitCounter:
        """Count the traits of every text; returns self, to chain."""
        for t in texts:
            self.add(t)
        return self

    def rates(self) -> dict[str, float]:
        """Each trait's share of the texts seen (0 before any)."""
        return {
            name: (h / self.n if self.n else 0.0) for name, h in zip(TRAITS, self.hits, strict=True)
        }


def trait_ratio(data_rate: float, seed_rate: float) -> float:
    """(data + s) ÷ (seeds + s) with s = RATIO_SMOOTHING: 1 = as in the seeds."""
    return (data_rate + RATIO_SMOOTHING) / (seed_rate + RATIO_SMOOTHING)

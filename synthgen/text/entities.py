"""The checkable facts of an answer: numbers, dates and capitalised names, each of which a
grounded answer may only state when its source (or its question) states it too."""

from __future__ import annotations

import re

from synthgen.text.quotes import normalise

# 1,250 · 3.5 · 1998 · 42% · 2024-05-01 (a date is its numbers, each checked)
_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*(?![\w])")
# A capitalised word (or a run of them) that does not open a sentence: "Marie Curie", "NASA".
_NAME = re.compile(
    r"\b[A-Z][\w'\-]*(?:\s+(?:(?:von|van|de|der|den|da|di|du|la|le|del|bin|al)\s+)*[A-Z][\w'\-]*)*"
)
_SENTENCE_START = re.compile(r"(?:^|[.!?:;\n]\s*|[\"'(\[]\s*)$")
_IGNORED = frozenset({"I", "I'm", "I've", "I'd", "I'll", "OK", "A", "An", "The"})
# Words that open sentences; capitalised there, they are not part of a name that follows.
_OPENERS = frozenset(
    [
        "The",
        "A",
        "An",
        "In",
        "On",
        "At",
        "It",
        "Its",
        "This",
        "That",
        "These",
        "Those",
        "He",
        "She",
        "They",
        "We",
        "You",
        "His",
        "Her",
        "Their",
        "Our",
        "For",
        "From",
        "By",
        "With",
        "After",
        "Before",
        "During",
        "When",
        "While",
        "According",
        "Yes",
        "No",
        "And",
        "But",
        "Or",
        "So",
        "As",
        "If",
        "Then",
        "There",
        "Since",
        "Until",
        "Of",
        "To",
    ]
)


def answer_entities(answer: str) -> list[str]:
    """The numbers and names an answer states, in order, each once."""
    found: list[str] = []
    for m in _NUMBER.finditer(answer):
        found.append(m.group().rstrip(".,"))
    for m in _NAME.finditer(answer):
        words = m.group().split()
        if _SENTENCE_START.search(answer[: m.start()]) and (
            len(words) == 1 or words[0] in _OPENERS
        ):
            words = words[1:]  # capitalised because it opens the sentence, not as a name
        name = " ".join(w for w in words if w not in _IGNORED)
        if name:
            found.append(name)
    return list(dict.fromkeys(found))


def _numbers_of(text: str) -> set[str]:
    return {_plain_number(m.group()) for m in _NUMBER.finditer(text)}


def _plain_number(n: str) -> str:
    """1,250 and 1250 are one number; so are 3.50 and 3.5."""
    n = n.rstrip(".,").replace(",", "")
    if "." in n:
        n = n.rstrip("0").rstrip(".")
    return n


def unsupported(answer: str, *sources: str) -> list[str]:
    """The numbers and names in `answer` that none of `sources` states (whole words, any case)."""
    where = " ".join(normalise(s).text for s in sources)
    numbers = _numbers_of(" ".join(sources))
    missing: list[str] = []
    for ent in answer_entities(answer):
        if _NUMBER.fullmatch(ent):
            if _plain_number(ent) not in numbers:
                missing.append(ent)
            continue
        needle = normalise(ent).text
        if not re.search(rf"(?<!\w){re.escape(needle)}(?!\w)", where):
            # a name stated in parts ("Curie" for "Marie Curie") is still the source's
            parts = [p for p in needle.split() if len(p) > 2]
            if not parts or not all(re.search(rf"(?<!\w){re.escape(p)}", where) for p in parts):
                missing.append(ent)
    return missing

"""The stand-in's grounded mode: a prompt holding <chunk> blocks and asking for quoted answers
gets task-shaped JSON whose quotes are sentences of the chunk it was given, and, on demand,
the faults a real model makes (each one a reason the faithfulness checks must name).

NOTHING HERE IS USEFUL DATA: questions are templates around the chunk's own words.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Sequence
from typing import Any

import orjson

# The faults `grounded_faults` may list. Reply-wide: "empty" ({"items": []}), "malformed"
# (cut-off JSON, again on the repair re-ask); per item: the rest.
REPLY_FAULTS = ("empty", "malformed")
ITEM_FAULTS = ("fabricated", "short", "elsewhere", "number", "unanswerable", "copy")
FAULTS = REPLY_FAULTS + ITEM_FAULTS

_CHUNK = re.compile(r'<chunk id="([^"]*)"[^>]*>\n(.*?)\n</chunk>', re.S)
_EXAMPLE_QUOTE = re.compile(r'^Quote: "(.+)"$', re.M)
_ANSWER = re.compile(r"^Answer: (.*)$", re.M)
_SENTENCE = re.compile(r"[^.!?]+(?:[.!?]+|$)")  # across line breaks: kept as they are
_NUMBER = re.compile(r"\d+")
_QUESTIONS = (
    "What does the passage say about {topic}?",
    "According to the text, what is true of {topic}?",
    "What detail does the document give on {topic}?",
    "Which fact about {topic} does the source record?",
    "How does the text describe {topic}?",
)
_FILLER = (
    "quiet harbor engines rarely follow the seasonal budget of a careful orchestra",
    "every remote lighthouse keeps a detailed journal of unusual bakery festivals",
    "the narrow vineyard predicts a generous marathon beside the ancient glacier",
)


def is_grounded(messages: list[Any], schema: dict[str, Any] | None) -> bool:
    """Whether a request is a grounded prompt: a chunk in the prompt, quotes in the schema."""
    if not schema or "quotes" not in orjson.dumps(schema).decode():
        return False
    return any(_CHUNK.search(_text(m)) for m in messages if isinstance(m, dict))


def reply(
    messages: list[Any],
    schema: dict[str, Any] | None,
    choice: int,
    faults: Sequence[str],
    seed: object,
) -> str | None:
    """The content for a grounded prompt or a grounded verdict; None for any other request."""
    if schema is None:
        return None
    props = schema.get("properties", {})
    if "supported" in props and any(
        _CHUNK.search(_text(m)) for m in messages if isinstance(m, dict)
    ):
        return verdict_reply(messages)
    if "answer" in props and is_grounded(messages, schema):
        return response_reply(messages, choice, seed)
    if is_grounded(messages, schema):
        return grounded_reply(messages, schema, choice, faults, seed)
    return None


def verdict_reply(messages: list[Any]) -> str:
    """A verdict that reads the chunk as a stand-in can: the answer is contradicted when one
    of its numbers is not in the chunk, supported when none is missing and most of its
    longer words are in the chunk."""
    prompt = _first_user(messages)
    chunk = " ".join(text for _, text in _CHUNK.findall(prompt)).lower()
    answer = (_ANSWER.findall(prompt) or [""])[-1].lower()
    missing = set(_NUMBER.findall(answer)) - set(_NUMBER.findall(chunk))
    words = set(re.findall(r"[a-z]{5,}", answer))
    found = len(words & set(re.findall(r"[a-z]{5,}", chunk)))
    supported = not missing and found >= len(words) / 2
    verdict = {"supported": supported, "contradicts": bool(missing), "answerable": True}
    return orjson.dumps(verdict).decode()


def response_reply(messages: list[Any], choice: int, seed: object) -> str:
    """One more answer to a grounded question (K responses): a sentence of the chunk, picked
    by the request's seed, retold, and quoted."""
    prompt = _first_user(messages)
    digest = hashlib.sha256(f"{prompt}#{seed}#{choice}".encode()).digest()
    chunks = [text for _, text in _CHUNK.findall(prompt)]
    sentences = _sentences(" ".join(chunks))
    quote = sentences[int.from_bytes(digest[:4], "big") % len(sentences)]
    return orjson.dumps({"answer": _retold(quote), "quotes": [quote]}).decode()


def _text(message: dict[str, Any]) -> str:
    content = message.get("content")
    return content if isinstance(content, str) else ""


def _first_user(messages: list[Any]) -> str:
    """The grounded prompt itself: a repair re-ask repeats it, so it draws the same fault."""
    for m in messages:
        if isinstance(m, dict) and m.get("role") == "user":
            return _text(m)
    return ""


def _max_items(schema: dict[str, Any]) -> int:
    items = schema.get("properties", {}).get("items", {})
    return int(items.get("maxItems", 1)) if isinstance(items, dict) else 1


def grounded_reply(
    messages: list[Any],
    schema: dict[str, Any],
    choice: int,
    faults: Sequence[str],
    seed: object = None,
) -> str:
    """The content of choice `choice`: quoted answers from the prompt's chunk, as many as
    the schema allows. With `faults`, the chunk's index picks one (or none) in turn, so a
    document of a few chunks shows every fault, a repair re-ask repeats its reply's fault,
    and a chunk with a reply-wide fault never yields (as a real dud chunk would not)."""
    prompt = _first_user(messages)
    # The request's seed too, as a model samples anew with another seed; a repair re-ask
    # keeps its request's seed and prompt, so it draws the same.
    digest = hashlib.sha256(f"{prompt}#{seed}#{choice}".encode()).digest()
    rng = random.Random(int.from_bytes(digest, "big"))
    found = _CHUNK.findall(prompt)
    chunks = [text for _, text in found]
    elsewhere = [q for q in _EXAMPLE_QUOTE.findall(prompt) if q not in " ".join(chunks)]
    listed = [f for f in FAULTS if f in faults]
    modes = [*listed, "clean", "clean"] if listed else ["clean"]
    index = _chunk_index(found[0][0]) if found else 0
    mode = modes[index % len(modes)]
    if mode == "empty":
        return '{"items": []}'
    items = []
    first = rng.randrange(1000)  # items quote different sentences while the chunk has them
    for i in range(max(1, _max_items(schema))):
        fault = mode if i == 0 and mode in ITEM_FAULTS else "clean"
        items.append(_item(rng, chunks, elsewhere, fault, first + i))
    text = orjson.dumps({"items": items}).decode()
    return text[: len(text) // 2] if mode == "malformed" else text


def _chunk_index(chunk_id: str) -> int:
    """The index in a chunk id ("<text sha256 prefix>#<index>"); 0 when it has none."""
    tail = chunk_id.rpartition("#")[2]
    return int(tail) if tail.isdigit() else 0


def _retold(quote: str) -> str:
    """An answer in the quote's words, never seven of them in a row (so not a copy)."""
    words = quote.rstrip(".!?").split()
    parts = [" ".join(words[i : i + 5]) for i in range(0, len(words), 5)]
    return ", then ".join(parts) + "."  # "then" breaks every run of 8 copied words


def _sentences(text: str) -> list[str]:
    found = [s.strip() for s in _SENTENCE.findall(text)]
    # prose only: a heading line, a table row or a code fence is not a sentence to quote
    prose = [s.rpartition("\n\n")[2] for s in found]
    ok = [s for s in prose if len(s.split()) >= 6 and not re.search(r"[|#`]", s)]
    return ok or [text.strip()]


def _item(
    rng: random.Random, chunks: list[str], elsewhere: list[str], mode: str, nth: int
) -> dict[str, Any]:
    """One question, its answer and quotes from the chunk's `nth` sentence (round the
    chunk); `mode` names the fault it carries, if any."""
    chunk = chunks[nth % len(chunks)] if chunks else ""
    sentences = _sentences(chunk)
    quote = sentences[nth % len(sentences)]
    words = [w.strip(".,;:!?\"'()") for w in quote.split()]
    topic = " ".join(w.lower() for w in words[1:5] if w)
    item: dict[str, Any] = {
        "instruction": rng.choice(_QUESTIONS).format(topic=topic),
        "answer": _retold(quote),
        "quotes": [quote],
        "answerable": True,
    }
    if mode == "fabricated":
        item["quotes"] = [rng.choice(_FILLER)]
    elif mode == "short":
        item["quotes"] = [" ".join(quote.split()[:3])]
    elif mode == "elsewhere":
        item["quotes"] = [rng.choice(elsewhere) if elsewhere else rng.choice(_FILLER)]
    elif mode == "number":
        taken = {int(n) for n in _NUMBER.findall(" ".join(chunks))}
        n = next(k for k in range(1009, 10**6, 7) if k not in taken)
        item["answer"] = f"{_retold(quote)} This happened {n} times."
    elif mode == "unanswerable":
        item["instruction"] = "What colour was the author's first bicycle?"
        item["answer"] = "The passage does not say."
        item["answerable"] = False
    elif mode == "copy":
        item["answer"] = " ".join(chunks)
    return item

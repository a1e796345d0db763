"""The stand-in's grounded conversations: a grounded prompt whose schema asks for
conversations (`exchanges`) gets conversations whose every assistant turn retells and
quotes a sentence of the chunk; a fault of `grounded_faults` lands on one turn (the
second, or the only one), so the checks must name the turn. Any other request goes on to
grounded.reply.

NOTHING HERE IS USEFUL DATA: turns are templates around the chunk's own words.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Sequence
from typing import Any

import orjson

import synthgen.standin.grounded as G

_LENGTHS = re.compile(r"exchanges, in order: ([\d, ]+)")


def is_chat(schema: dict[str, Any] | None) -> bool:
    """Whether a grounded request asks for conversations: its items have `exchanges`."""
    items = ((schema or {}).get("properties", {}).get("items") or {}).get("items") or {}
    return isinstance(items, dict) and "exchanges" in (items.get("properties") or {})


def reply(
    messages: list[Any],
    schema: dict[str, Any] | None,
    choice: int,
    faults: Sequence[str],
    seed: object,
) -> str | None:
    """The content for a grounded conversation prompt, else grounded.reply's."""
    if not (is_chat(schema) and G.is_grounded(messages, schema)):
        return G.reply(messages, schema, choice, faults, seed)
    assert schema is not None
    prompt = G._first_user(messages)
    # as grounded.reply: the request's seed too, and a repair re-ask draws the same
    digest = hashlib.sha256(f"{prompt}#{seed}#{choice}".encode()).digest()
    rng = random.Random(int.from_bytes(digest, "big"))
    found = G._CHUNK.findall(prompt)
    chunks = [text for _, text in found]
    elsewhere = [q for q in G._EXAMPLE_QUOTE.findall(prompt) if q not in " ".join(chunks)]
    listed = [f for f in G.FAULTS if f in faults]
    modes = [*listed, "clean", "clean"] if listed else ["clean"]
    mode = modes[(G._chunk_index(found[0][0]) if found else 0) % len(modes)]
    if mode == "empty":
        return '{"items": []}'
    got = _LENGTHS.search(prompt)
    lengths = [int(n) for n in re.findall(r"\d+", got.group(1))] if got else [2]
    nth = rng.randrange(1000)  # turns quote different sentences while the chunk has them
    convs = []
    for c, length in enumerate(lengths[: max(1, G._max_items(schema))]):
        turns = max(1, length)
        bad = min(1, turns - 1) if c == 0 and mode in G.ITEM_FAULTS else -1
        exchanges = []
        answerable = True
        for t in range(turns):
            item = G._item(rng, chunks, elsewhere, mode if t == bad else "clean", nth)
            nth += 1
            answerable = answerable and bool(item["answerable"])
            exchanges.append(
                {"user": item["instruction"], "assistant": item["answer"], "quotes": item["quotes"]}
            )
        convs.append({"system": "", "exchanges": exchanges, "answerable": answerable})
    text = orjson.dumps({"items": convs}).decode()
    return text[: len(text) // 2] if mode == "malformed" else text

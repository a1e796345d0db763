"""The stand-in and generation.axes: a prompt that states attributes gets instructions that
carry them (as a real model's would show them), and a judge fault that fails most records of
one axis value, read from the judged instruction, so steering can be tested end to end.
NOT A MODEL: the tags are placeholder text like the rest."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from synthgen.standin.content import Pin, message_text

# The heading synthgen's prompts state a call's values under (stages/expand/axes.HEADING);
# spelled here too, as the stand-in imports nothing of synthgen's stages.
_HEADING = "Attributes every example must have:"
_LINE = re.compile(r"^- ([^:\n]+): (.+)$", re.M)
_INSTRUCTION = re.compile(r"<instruction>(.*?)</instruction>", re.S)


def attribute_tags(messages: list[Any]) -> str:
    """` [name: value; ...]` for the attributes the last user message states, else ""."""
    for msg in reversed(messages):
        if isinstance(msg, dict) and msg.get("role") == "user":
            text = message_text(msg.get("content"))
            _, found, tail = text.rpartition(_HEADING)
            if not found:
                return ""
            pairs = _LINE.findall(tail)
            return f" [{'; '.join(f'{k}: {v}' for k, v in pairs)}]" if pairs else ""
    return ""


def axis_fail_pin(messages: list[Any], marker: str | None, share: float) -> Pin | None:
    """The schema minimum for `share` of the judged instructions that carry `marker` (e.g.
    `difficulty: hard`), chosen by a hash of the instruction; None for every other request."""
    if marker is None:
        return None
    text = "\n".join(message_text(m.get("content")) for m in messages if isinstance(m, dict))
    blocks = _INSTRUCTION.findall(text)
    if not blocks or marker not in blocks[-1]:
        return None
    h = int.from_bytes(hashlib.sha256(blocks[-1].encode()).digest()[:8], "big")
    return (lambda lo, hi: lo) if h / 2**64 < share else None

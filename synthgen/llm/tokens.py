"""Token counts: tiktoken when its encoding files are already on disk, else an estimate.

tiktoken downloads encodings on first use, which synthgen never triggers. Without the
files, a token is estimated as 4 characters (OpenAI's rule of thumb for English text);
the estimate is labelled as such wherever it is shown.
"""

from __future__ import annotations

import hashlib
import math
import os
import tempfile
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

CHARS_PER_TOKEN = 4
_BLOB = "https://openaipublic.blob.core.windows.net/encodings/{}.tiktoken"


def estimate(text: str) -> int:
    """Tokens at 4 characters each: the fallback when tiktoken's files are not on disk."""
    return max(1, math.ceil(len(text) / CHARS_PER_TOKEN)) if text else 0


def _cache_dir() -> Path:
    for var in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR"):
        if os.environ.get(var):
            return Path(os.environ[var])
    return Path(tempfile.gettempdir()) / "data-gym-cache"


@lru_cache(maxsize=8)
def _encoder(model: str) -> Callable[[str], int] | None:
    try:
        import tiktoken
    except ImportError:
        return None
    try:
        name = tiktoken.encoding_name_for_model(model)
    except KeyError:
        name = "o200k_base"
    cached = _cache_dir() / hashlib.sha1(_BLOB.format(name).encode()).hexdigest()
    if not cached.exists():
        return None
    enc = tiktoken.get_encoding(name)
    return lambda text: len(enc.encode(text, disallowed_special=()))


def counter(model: str) -> tuple[Callable[[str], int], str]:
    """A token counter for `model` and its method: "tiktoken" or "estimate (chars/4)"."""
    enc = _encoder(model)
    if enc is None:
        return estimate, "estimate (chars/4)"
    return enc, "tiktoken"


def messages_tokens(messages: list[dict[str, str]], count: Callable[[str], int]) -> int:
    """A chat prompt's token count, for reserving budget and rate before it is sent."""
    # About 4 tokens of framing per message, as in OpenAI's chat format.
    return sum(count(m.get("content", "")) + 4 for m in messages) + 2


# A reported count up to this multiple of the first choice's estimate, and below this share
# of all choices' estimates, counts the first choice only (an honest count of a long first
# choice and short others is near all choices' estimate, so it is believed).
FIRST_CHOICE_ONLY = 1.5
ALL_CHOICES_SHARE = 0.75


def completion_tokens(reported: int | None, choices: list[str]) -> tuple[int, bool]:
    """An answer's completion tokens from the reported count and its choices' texts (in index
    order), and whether the others were estimated: some servers (llama.cpp) count only the
    first choice when n > 1, which would let a budget undercount."""
    if reported is None:
        return sum(estimate(c) for c in choices), False
    first, others = estimate(choices[0]) if choices else 0, sum(estimate(c) for c in choices[1:])
    short = reported < (first + others) * ALL_CHOICES_SHARE
    if others and reported <= first * FIRST_CHOICE_ONLY and short:
        return reported + others, True
    return reported, False

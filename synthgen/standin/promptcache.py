"""The stand-in's prompt cache (switch `prompt_cache`): a prompt's leading characters shared
with one of the recent prompts are reported as `usage.prompt_tokens_details.cached_tokens`
(a token per four characters, as the stand-in counts tokens), the way OpenAI, vLLM and
llama.cpp report a prefix they have seen. Arrival order decides what is recent, so with
several requests in flight the figures vary from run to run, as a real cache's do."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from synthgen.standin import content as C

RECENT = 64  # prompts remembered


class PromptCache:
    """The last RECENT prompts, most recent last."""

    def __init__(self) -> None:
        self.recent: OrderedDict[str, None] = OrderedDict()

    def cached_tokens(self, messages: list[Any]) -> int:
        """Tokens of the longest prefix `messages` share with a recent prompt; remembers them."""
        text = "".join(f"<{m.get('role')}>{C.message_text(m.get('content'))}" for m in messages)
        shared = max((_shared(text, t) for t in self.recent), default=0)
        self.recent[text] = None
        self.recent.move_to_end(text)
        while len(self.recent) > RECENT:
            self.recent.popitem(last=False)
        return shared // 4


def _shared(a: str, b: str) -> int:
    """How many leading characters `a` and `b` have in common."""
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:  # binary search: slices compare in C, a character loop would not
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo

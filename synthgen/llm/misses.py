"""What a client does with a request its cache cannot answer, fixed when the client is built.

Online sends it; Offline refuses it (`--offline` replays a cached run and sends nothing);
batch mode (`BatchMisses`, llm/batching.py) queues it for the Batch API and leaves its job
undecided. A client reads its policy and never swaps it: the one thing that moves is batch
mode's phase, and the policy owns that, not the client nor whoever holds it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Protocol

from synthgen.errors import UsageError
from synthgen.llm.cache import Capabilities
from synthgen.llm.types import ChatRequest


class Asker(Protocol):
    """What a policy reads of the client that missed (LLMClient; fakes in tests)."""

    @property
    def model(self) -> str:
        """The model asked."""

    @property
    def endpoint(self) -> str:
        """host[:port] of the endpoint asked."""

    @property
    def caps(self) -> Capabilities:
        """What the endpoint was found to support (n, structured output)."""


class MissPolicy(ABC):
    """A client's cache-miss policy: send, refuse, or queue for a batch."""

    @property
    def defers(self) -> bool:
        """Whether a miss now waits for a batch (a window may then ask everything at once)."""
        return False

    @abstractmethod
    def on_miss(
        self,
        client: Asker,
        req: ChatRequest,
        keys: list[str],
        missing: list[int],
        followup: bool,
    ) -> None:
        """Return to have the missing samples of `req` sent online now, or raise to not send
        them. `followup`: a re-ask that depends on an answer (a repair, a longer retry)."""


@dataclass(frozen=True)
class Online(MissPolicy):
    """Every miss is sent to the endpoint: the default."""

    def on_miss(
        self,
        client: Asker,
        req: ChatRequest,
        keys: list[str],
        missing: list[int],
        followup: bool,
    ) -> None:
        """Send it."""


@dataclass(frozen=True)
class Offline(MissPolicy):
    """Answer from the cache only: a miss is an error and nothing is sent (`--offline`)."""

    def on_miss(
        self,
        client: Asker,
        req: ChatRequest,
        keys: list[str],
        missing: list[int],
        followup: bool,
    ) -> None:
        """Refuse it, naming the request so the user can tell what changed."""
        raise OfflineMiss(
            f"--offline: no cached answer for a {client.model} request "
            f"(key {keys[missing[0]][:16]}…, prompt starting {_first_words(req)!r})",
            hint="the config changed since the cached run (a different prompt, model or "
            "seed), or this run needs more than was cached (a larger target): run "
            "without --offline to fetch it",
        )


class OfflineMiss(UsageError):
    """--offline met a request that was never answered before: nothing may be sent."""


def _first_words(req: ChatRequest) -> str:
    """The start of the request's last message, to recognise it by."""
    text = str(req.messages[-1].get("content", "")) if req.messages else ""
    return " ".join(text.split())[:60]

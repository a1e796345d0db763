"""What the client takes and gives back."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from synthgen.records import StructuredPath, Usage, canonical_json, sha256_hex

# re-exported: their old home, for the client and batch code that read them here
from synthgen.text.urls import endpoint_host as endpoint_host
from synthgen.text.urls import is_local as is_local
from synthgen.text.urls import scrub_url as scrub_url

# The header synthgen's stand-in answers with: a run against it says so in its outputs, since
# what it writes is placeholder text, not a model's (learned as the `standin` capability).
STANDIN_HEADER = "x-synthgen-standin"

# One machine however it is spelled; cache keys and learned capabilities use the first.
LOOPBACK = ("127.0.0.1", "localhost", "[::1]", "0.0.0.0")


def _host_port(endpoint: str) -> tuple[str, str]:
    if endpoint.startswith("["):
        host, _, rest = endpoint.partition("]")
        return host + "]", rest
    host, sep, port = endpoint.rpartition(":")
    return (host, sep + port) if sep else (endpoint, "")


def canonical_host(endpoint: str) -> str:
    """host[:port] as `endpoint_host` gives it, loopback spellings made one (the port stays),
    so that `localhost` and `127.0.0.1` share a cache."""
    host, port = _host_port(endpoint)
    return LOOPBACK[0] + port if host.lower() in LOOPBACK else endpoint


def other_spellings(endpoint: str) -> list[str]:
    """The other ways to write a loopback host[:port]; none for any other host."""
    host, port = _host_port(endpoint)
    if host.lower() not in LOOPBACK:
        return []
    return [h + port for h in LOOPBACK[1:]]


class ChatRequest(BaseModel):
    """One logical chat request; `n` samples of it are wanted."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    messages: list[dict[str, str]]
    temperature: float = 1.0
    top_p: float = 1.0
    max_tokens: int = 1024
    seed: int | None = None
    json_schema: dict[str, Any] | None = None
    schema_name: str = "reply"
    n: int = Field(default=1, ge=1)

    _identity: tuple[int, str, str] | None = PrivateAttr(default=None)

    def identity(self, model: str) -> str:
        """sha256 of `logical(model)`, computed once per request object (model_copy copies
        private attributes, so the memo is tied to this very object)."""
        memo = self._identity
        if memo is None or memo[0] != id(self) or memo[1] != model:
            memo = (id(self), model, sha256_hex(canonical_json(self.logical(model))))
            self._identity = memo
        return memo[2]

    def logical(self, model: str) -> dict[str, Any]:
        """The cache identity of this request (n excluded: each sample is its own entry)."""
        return {
            "model": model,
            "messages": self.messages,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_tokens": self.max_tokens,
            "seed": self.seed,
            "schema": self.json_schema,
            "schema_name": self.schema_name,
        }


class Answer(BaseModel):
    """One choice of a reply, from the endpoint or replayed from the cache."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    content: str | None
    finish_reason: str | None
    request_id: str | None
    resolved_model: str
    upstream_model: str | None = None  # named by a router's headers, when one answered
    structured: StructuredPath
    sampling: Literal["single", "n", "separate"]
    usage: Usage
    # When the answer first arrived (UTC, seconds, "Z"): records made from it carry this
    # time, so a replay from the cache writes the same bytes.
    received_at: str = ""
    cached: bool = False
    key: str = ""


class RequestStats(BaseModel):
    """One client's request counters, summed into the run summary and manifest."""

    model_config = ConfigDict(extra="forbid")
    sent: int = 0
    cached: int = 0
    retried: int = 0
    failed: int = 0
    rate_limited: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0  # of the prompt tokens, from the endpoint's prompt cache
    fallbacks: list[str] = Field(default_factory=list)
    # Live, for progress lines: requests holding a slot now, and completion tokens received
    # so far (streamed ones counted chunk by chunk as they arrive, then set to the usage).
    in_flight: int = 0
    tokens_streamed: int = 0

    def count(self, usage: Usage) -> None:
        """Add one answer's tokens (a cached answer's too) to the totals."""
        self.prompt_tokens += usage.prompt_tokens
        self.completion_tokens += usage.completion_tokens
        self.cached_tokens += usage.cached_tokens


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore")


class WireMessage(_Wire):
    """The one field of a choice's message synthgen reads: its text."""

    content: str | None = None


class WireChoice(_Wire):
    """One sampled answer in a completion, with why generation stopped."""

    index: int = 0
    message: WireMessage = WireMessage()
    finish_reason: str | None = None


class WirePromptDetails(_Wire):
    """`usage.prompt_tokens_details`: how many prompt tokens the server's prompt cache held."""

    cached_tokens: int | None = None


class WireUsage(_Wire):
    """Token usage as the server reports it, for settling the budget to real spend."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    prompt_tokens_details: WirePromptDetails | None = None

    @property
    def cached_tokens(self) -> int:
        """Prompt tokens served from the prompt cache (0 when the server does not say)."""
        details = self.prompt_tokens_details
        found = details.cached_tokens if details is not None else None
        return min(max(0, found or 0), self.prompt_tokens)


class WireCompletion(_Wire):
    """The part of a chat.completion body synthgen uses, validated straight from the bytes
    (cheaper than the SDK's full object, and tolerant of servers that omit fields)."""

    id: str | None = None
    model: str | None = None
    choices: list[WireChoice]
    usage: WireUsage | None = None

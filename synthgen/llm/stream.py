"""Streamed chat answers: when to stream, the fallbacks when an endpoint refuses it, one
request sent and its answer read (chunks parsed in `sse.py`), and live counters for progress.

Streaming turns the client's timeout into the longest silence between two chunks (httpx's
read timeout) instead of the time of the whole answer: a slow model that is still writing
is never cut off, an endpoint that goes silent is.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from synthgen.llm.policy import json_message
from synthgen.llm.sse import ChunkAssembler, SSEDecoder, StreamError
from synthgen.llm.types import RequestStats, WireCompletion
from synthgen.llm.wire import parse_completion

if TYPE_CHECKING:
    import httpx2
    import openai

    from synthgen.llm.cache import Capabilities


@dataclass(frozen=True)
class Reply:
    """What one request brought back: the completion, and how it travelled."""

    completion: WireCompletion
    request_id: str | None
    headers: Mapping[str, str]
    usage_missing: bool = False  # streamed with include_usage asked, but no usage came
    counted: int = 0  # completion tokens already counted into the live stats while streaming


# What each streaming fallback turns off, and its name in the run's fallbacks.
_FALLBACKS = {
    "stream": ("stream", "stream->none"),
    "stream_options": ("stream_options", "stream_options->none"),
    "stream_usage": ("stream_options", "stream_usage->estimate"),
}


class LiveRequests:
    """The live counters of one command's clients, for its progress line: the command makes
    one and hands it down to where its clients are built, which register here."""

    def __init__(self) -> None:
        self.members: weakref.WeakSet[Streaming] = weakref.WeakSet()
        self.lock = threading.Lock()  # the progress ticker reads from its own thread

    def add(self, member: Streaming) -> None:
        """Count a client's requests from now on (held weakly: a closed client may go)."""
        with self.lock:
            self.members.add(member)

    def totals(self) -> tuple[int, int]:
        """Requests in flight and completion tokens received, over the registered clients."""
        with self.lock:
            items = list(self.members)
        return sum(s.stats.in_flight for s in items), sum(s.stats.tokens_streamed for s in items)

    def sent(self) -> int:
        """Requests sent so far over the registered clients (answers replayed not counted)."""
        with self.lock:
            items = list(self.members)
        return sum(s.stats.sent for s in items)


class Streaming:
    """Whether a client streams, and what its endpoint was found not to take.

    Streaming costs the client a parse per chunk: on a fast endpoint that is throughput lost
    for nothing. So answers stream where the timeout bites: from local endpoints (a model on
    this machine, whose tokens come far too slowly for their parsing to matter), and from any
    endpoint once one of its requests timed out (remembered for later runs)."""

    def __init__(
        self,
        caps: Capabilities,
        stats: RequestStats,
        local: bool,
        live: LiveRequests | None = None,
    ) -> None:
        """`live`: where a progress line reads this client's counters, if anywhere."""
        self.caps, self.stats = caps, stats
        self.on = local or caps.get("stream", "") == "on"
        if live is not None:
            live.add(self)

    def flags(self) -> dict[str, Any]:
        """The SDK keywords of the next attempt, as far as the endpoint takes them."""
        if not self.on or self.caps.get("stream", "") == "off":
            return {}
        if self.caps.get("stream_options", "on") == "off":
            return {"stream": True}
        return {"stream": True, "stream_options": {"include_usage": True}}

    def refused(self, e: Exception, sent: dict[str, Any]) -> bool:
        """Whether a 400/422 refuses a streaming flag that was sent; if so, stop sending it."""
        which = rejected_flag(e, sent)
        if which is not None:
            self.fall_back(which, f"{which} rejected: {json_message(e) or e}")
        return which is not None

    def fall_back(self, which: str, detail: str) -> None:
        """Remember what an endpoint does not take, so later runs start without it."""
        cap, name = _FALLBACKS[which]
        self.caps.learn(cap, "off", detail)
        self.stats.fallbacks.append(name)

    def timed_out(self) -> None:
        """A request timed out: stream from now on, so that a slow answer can finish."""
        if self.on or self.caps.get("stream", "") == "off":
            return
        self.on = True
        self.caps.learn("stream", "on", "a request timed out: answers stream from now on")
        self.stats.fallbacks.append("timeout->stream")

    def arrived(self, tokens: int) -> None:
        """Count streamed tokens as they come, for the progress line."""
        self.stats.tokens_streamed += tokens


def rejected_flag(e: Exception, sent: dict[str, Any]) -> str | None:
    """Which streaming flag a 400/422 refuses ("stream_options" or "stream"), if any."""
    if not sent.get("stream"):
        return None
    body = getattr(e, "body", None)
    err = body.get("error", body) if isinstance(body, dict) else None
    param = err.get("param") if isinstance(err, dict) else None
    text = (json_message(e) or "").lower()
    if "stream_options" in sent and (
        param == "stream_options" or "stream_options" in text or "include_usage" in text
    ):
        return "stream_options"
    if param == "stream" or "stream" in text:
        return "stream"
    return None


async def exchange(
    sdk: openai.AsyncOpenAI, kw: dict[str, Any], on_tokens: Callable[[int], None]
) -> Reply:
    """Send one chat request and read its whole answer, streamed or in one piece."""
    counted = 0

    def arrived(k: int) -> None:
        nonlocal counted
        counted += k
        on_tokens(k)

    raw = await sdk.chat.completions.with_raw_response.create(**kw)
    response = raw.http_response
    if kw.get("stream") and is_event_stream(response):
        completion, has_usage = await read_stream(response, arrived)
        missing = "stream_options" in kw and not has_usage
        return Reply(completion, raw.request_id, raw.headers, missing, counted)
    # Not streamed, or an endpoint that ignored `stream` and answered in one piece.
    body = await read_body(response) if kw.get("stream") else response.content
    return Reply(parse_completion(body), raw.request_id, raw.headers)


async def read_stream(
    response: httpx2.Response, on_tokens: Callable[[int], None]
) -> tuple[WireCompletion, bool]:
    """The completion a streamed response makes up, and whether it carried usage; network
    failures come out as the SDK's own errors, so the one retry layer treats them as usual."""
    import httpx2
    import openai

    assembler, decoder = ChunkAssembler(), SSEDecoder()
    try:
        async for chunk in response.aiter_bytes():
            tokens = 0
            for data in decoder.feed(chunk):
                tokens += assembler.add(data)
            if tokens:
                on_tokens(tokens)
        for data in decoder.close():
            assembler.add(data)
    except httpx2.TimeoutException as e:
        raise openai.APITimeoutError(request=response.request) from e
    except httpx2.TransportError as e:
        raise openai.APIConnectionError(request=response.request) from e
    except StreamError as e:
        raise openai.APIError(e.message, response.request, body=e.body) from e
    finally:
        await response.aclose()
    if not assembler.finished:
        # The body ended before the answer did: a dropped connection, worth another try.
        raise openai.APIConnectionError(
            message="the stream ended before the answer did", request=response.request
        )
    return assembler.completion(), assembler.usage is not None


def is_event_stream(response: httpx2.Response) -> bool:
    """Whether an answer came as server-sent events (some endpoints ignore `stream`)."""
    return "text/event-stream" in response.headers.get("content-type", "")


async def read_body(response: httpx2.Response) -> bytes:
    """The whole body of an answer that was asked to stream but came in one piece."""
    import httpx2
    import openai

    try:
        return await response.aread()
    except httpx2.TimeoutException as e:
        raise openai.APITimeoutError(request=response.request) from e
    except httpx2.TransportError as e:
        raise openai.APIConnectionError(request=response.request) from e

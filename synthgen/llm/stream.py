"""Streamed chat answers: when to stream, the fallbacks when an endpoint refuses it, one
request sent and its answer read (chunks parsed in `sse.py`), and live counters for progress.

Streaming turns the client's timeout into the longest silence between two chunks (httpx's
read timeout) instead of the time of the whole answer: a slow model that is still writing
is never cut off, an endpoint that goes silent is.
"""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from synthgen.llm.firsttoken import FirstToken, timings_rate
from synthgen.llm.policy import json_message
from synthgen.llm.sse import ChunkAssembler, SSEDecoder, StreamError
from synthgen.llm.tokens import estimate, messages_tokens
from synthgen.llm.types import RequestStats, WireCompletion, WireUsage
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
        timeout_s: float | None = None,
    ) -> None:
        """`live`: where a progress line reads this client's counters, if anywhere.
        `timeout_s`: the client's timeout; on a local endpoint a streamed request may wait
        longer for its first token, as long as its prompt needs (firsttoken.py)."""
        self.caps, self.stats = caps, stats
        self.on = local or caps.get("stream", "") == "on"
        self.first_token = FirstToken(timeout_s) if local and timeout_s else None
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
    sdk: openai.AsyncOpenAI,
    kw: dict[str, Any],
    on_tokens: Callable[[int], None],
    first: FirstToken | None = None,
) -> Reply:
    """Send one chat request and read its whole answer, streamed or in one piece. With
    `first` (a local endpoint), a streamed request waits for its first token as long as its
    prompt needs; after it, the timeout is the longest silence between chunks, as ever."""
    counted = 0

    def arrived(k: int) -> None:
        nonlocal counted
        counted += k
        on_tokens(k)

    first = first if kw.get("stream") else None
    extra: dict[str, Any] = {}
    prompt = 0
    if first is not None:
        import httpx2

        prompt = messages_tokens(kw["messages"], estimate)
        t = first.timeout_s
        wait = first.allowance(prompt)
        extra["timeout"] = httpx2.Timeout(connect=min(t, 30.0), read=wait, write=t, pool=t)
    sent = time.monotonic()
    if first is None:
        raw = await sdk.chat.completions.with_raw_response.create(**kw)
    else:
        raw = await _headers_in_time(sdk, kw, extra, first.timeout_s)
    response = raw.http_response
    if kw.get("stream") and is_event_stream(response):
        silence = first.timeout_s if first is not None else None
        got = await read_stream(response, arrived, silence)
        completion, has_usage = got.completion, got.usage is not None
        if first is not None and got.first_token_at is not None:
            ttft = got.first_token_at - sent
            first.waited(ttft)
            n = got.usage.prompt_tokens if got.usage is not None else prompt
            first.learn(*(timings_rate(got.timings) or (n, ttft)))
        missing = "stream_options" in kw and not has_usage
        return Reply(completion, raw.request_id, raw.headers, missing, counted)
    # Not streamed, or an endpoint that ignored `stream` and answered in one piece.
    body = await read_body(response) if kw.get("stream") else response.content
    return Reply(parse_completion(body), raw.request_id, raw.headers)


async def _headers_in_time(
    sdk: openai.AsyncOpenAI, kw: dict[str, Any], extra: dict[str, Any], timeout_s: float
) -> Any:
    """The response to a streamed request, its headers within the timeout as ever: only a
    server that has taken the request (it answered) is given longer for the first token; one
    that says nothing at all is cut off at the timeout."""
    import openai

    try:
        async with asyncio.timeout(timeout_s):
            return await sdk.chat.completions.with_raw_response.create(**kw, **extra)
    except TimeoutError as e:
        import httpx2

        url = f"{str(sdk.base_url).rstrip('/')}/chat/completions"
        raise openai.APITimeoutError(request=httpx2.Request("POST", url)) from e


@dataclass(frozen=True)
class Streamed:
    """A streamed answer: the completion, its usage and timings, when its first token came."""

    completion: WireCompletion
    usage: WireUsage | None
    timings: dict[str, Any] | None
    first_token_at: float | None  # time.monotonic() when the first content arrived


async def read_stream(
    response: httpx2.Response, on_tokens: Callable[[int], None], silence_s: float | None = None
) -> Streamed:
    """The completion a streamed response makes up; network failures come out as the SDK's
    own errors, so the one retry layer treats them as usual. `silence_s`: once the first
    token came, the longest wait for the next chunk (else httpx's read timeout is that)."""
    import httpx2
    import openai

    assembler, decoder = ChunkAssembler(), SSEDecoder()
    first_at: float | None = None
    chunks = response.aiter_bytes()
    try:
        while True:
            try:
                if first_at is None or silence_s is None:
                    chunk = await anext(chunks)
                else:
                    async with asyncio.timeout(silence_s):
                        chunk = await anext(chunks)
            except StopAsyncIteration:
                break
            tokens = 0
            for data in decoder.feed(chunk):
                tokens += assembler.add(data)
            if tokens:
                first_at = first_at or time.monotonic()
                on_tokens(tokens)
        for data in decoder.close():
            assembler.add(data)
    except (httpx2.TimeoutException, TimeoutError) as e:
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
    timings = assembler.timings
    return Streamed(assembler.completion(), assembler.usage, timings, first_at)


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

"""Streamed answers, pinned with injected fakes: chunk assembly, the fallbacks an endpoint forces,
an unchanged cache key, and the live progress line (fake clock, fake stream, no wall clock)."""

from __future__ import annotations

import asyncio
import io
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx2
import orjson
import pytest

from synthgen.config import EndpointConfig
from synthgen.core.console import Console, LiveLine, ProgressLine, Pulse
from synthgen.core.store import migrate
from synthgen.llm.cache import Capabilities, ResponseCache, request_key
from synthgen.llm.client import LLMClient, RequestFailed
from synthgen.llm.cost import Budget
from synthgen.llm.limits import Clock
from synthgen.llm.sse import ChunkAssembler, SSEDecoder
from synthgen.llm.stream import LiveRequests
from synthgen.llm.tokens import estimate
from synthgen.llm.types import Answer, ChatRequest, endpoint_host
from synthgen.standin.sse import chunk_events

LOCAL = "http://127.0.0.1:8080/v1"  # a local endpoint: answers stream from the start
REMOTE = "http://fake.test/v1"  # a remote one: answers stream only after a timeout
REQ = ChatRequest(messages=[{"role": "user", "content": "Say hi."}], max_tokens=16)


# --- chunk assembly -------------------------------------------------------------------------


def sse(*events: dict[str, Any] | str, crlf: bool = False) -> bytes:
    """Server-sent events as an endpoint writes them: one `data:` line and a blank line each."""
    nl = "\r\n" if crlf else "\n"
    out = [f"data: {e if isinstance(e, str) else orjson.dumps(e).decode()}{nl}{nl}" for e in events]
    return "".join(out).encode()


def chunk(index: int = 0, content: str | None = None, finish: str | None = None) -> dict[str, Any]:
    delta = {} if content is None else {"content": content}
    choice = {"index": index, "delta": delta, "finish_reason": finish}
    return {"id": "chatcmpl-9", "model": "m-0001", "choices": [choice]}


USAGE = {"id": "chatcmpl-9", "choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 3}}


def assemble(body: bytes, cut: int) -> ChunkAssembler:
    """Decode `body` arriving in pieces of `cut` bytes, as a network would split it."""
    assembler, decoder = ChunkAssembler(), SSEDecoder()
    for at in range(0, len(body), cut):
        for data in decoder.feed(body[at : at + cut]):
            assembler.add(data)
    for data in decoder.close():
        assembler.add(data)
    return assembler


@pytest.mark.parametrize("cut", [1, 3, 7, 64, 10_000])
@pytest.mark.parametrize("crlf", [False, True])
def test_chunks_make_up_content_finish_reason_model_id_and_usage(cut: int, crlf: bool) -> None:
    body = sse(
        chunk(content=""),
        chunk(content="Hel"),
        chunk(content="lo"),
        chunk(finish="length"),
        USAGE,
        "[DONE]",
        crlf=crlf,
    )
    a = assemble(b": keep-alive ping\n\n" + body, cut)
    c = a.completion()
    assert a.finished and a.done
    assert (c.id, c.model) == ("chatcmpl-9", "m-0001")
    (choice,) = c.choices
    assert (choice.message.content, choice.finish_reason) == ("Hello", "length")
    assert c.usage is not None and (c.usage.prompt_tokens, c.usage.completion_tokens) == (7, 3)


def test_interleaved_choices_and_a_choice_without_text() -> None:
    body = sse(
        chunk(1, "b1"), chunk(0, "a1"), chunk(1, "b2"), chunk(2), chunk(0, finish="stop"),
        chunk(1, finish="stop"), chunk(2, finish="content_filter"), "[DONE]",
    )  # fmt: skip
    c = assemble(body, 5).completion()
    got = [(x.index, x.message.content, x.finish_reason) for x in c.choices]
    assert got == [(0, "a1", "stop"), (1, "b1b2", "stop"), (2, None, "content_filter")]
    assert c.usage is None


def test_the_stand_ins_events_reassemble_its_completion() -> None:
    text = '{"tasks": [{"instruction": "Ünïcode ✓ and \\"quotes\\""}]}' * 3
    body = {
        "id": "chatcmpl-standin-4",
        "created": 1,
        "model": "m-standin-0001",
        "system_fingerprint": "x",
        "choices": [{"index": 0, "message": {"content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 11, "completion_tokens": 40},
    }
    a = assemble(b"".join(chunk_events(body, True, 5)), 13)
    c = a.completion()
    assert c.choices[0].message.content == text and c.usage is not None
    assert c.usage.completion_tokens == 40 and c.id == "chatcmpl-standin-4"
    without = assemble(b"".join(chunk_events(body, False, 5)), 13).completion()
    assert without.usage is None and without.choices[0].message.content == text


# --- the client over a scripted streaming endpoint -----------------------------------------

# A fresh response per request (a streamed body can be read once), or a transport error.
Step = Callable[[], httpx2.Response] | Exception


def streamed(*events: dict[str, Any] | str) -> Step:
    """An answer as server-sent events."""
    return lambda: sse_response(sse(*events))


def sse_response(content: bytes | AsyncIterator[bytes]) -> httpx2.Response:
    return httpx2.Response(200, content=content, headers={"content-type": "text/event-stream"})


def plain(content: str = "hi") -> Step:
    """An answer in one piece, as without streaming."""
    choice = {"index": 0, "message": {"content": content}, "finish_reason": "stop"}
    body = {"id": "chatcmpl-1", "model": "m-0001", "choices": [choice]}
    body["usage"] = {"prompt_tokens": 5, "completion_tokens": 1}
    return lambda: httpx2.Response(200, json=body)


def refused(param: str, message: str) -> Step:
    error = {"message": message, "type": "invalid_request_error", "param": param}
    return lambda: httpx2.Response(400, json={"error": error})


OK = (chunk(content="hi"), chunk(finish="stop"), USAGE, "[DONE]")


@dataclass
class Endpoint:
    """Answers request k with `steps[k]` (the last repeats); records every request body."""

    steps: list[Step]
    seen: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.seen.append(orjson.loads(request.content))
        step = self.steps[min(len(self.seen) - 1, len(self.steps) - 1)]
        if isinstance(step, Exception):
            raise step
        return step()


def make_client(
    db: sqlite3.Connection,
    endpoint: Endpoint,
    base_url: str = LOCAL,
    live: LiveRequests | None = None,
) -> LLMClient:
    async def no_sleep(seconds: float) -> None:
        pass

    cfg = EndpointConfig(base_url=base_url, model="m", max_attempts=3, backoff_base_s=0.1)
    return LLMClient(
        cfg,
        "sk-test",
        ResponseCache(db),
        Capabilities(db, endpoint_host(base_url), "m"),
        Budget(price=None),
        clock=Clock(now=lambda: 0.0, sleep=no_sleep),
        http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(endpoint)),
        live=live,
    )


def chat(client: LLMClient, req: ChatRequest = REQ) -> list[Answer]:
    return asyncio.run(client.chat(req))


def test_a_local_endpoint_streams_with_usage_asked(db: sqlite3.Connection) -> None:
    ep = Endpoint([streamed(*OK)])
    client = make_client(db, ep)
    (a,) = chat(client)
    assert ep.seen[0]["stream"] is True and ep.seen[0]["stream_options"] == {"include_usage": True}
    assert (a.content, a.finish_reason, a.resolved_model) == ("hi", "stop", "m-0001")
    assert (a.usage.prompt_tokens, a.usage.completion_tokens) == (7, 3)
    assert client.stats.fallbacks == [] and client.stats.sent == 1
    assert client.stats.tokens_streamed == 3 and client.stats.in_flight == 0


def test_missing_usage_is_estimated_and_not_asked_for_again(db: sqlite3.Connection) -> None:
    text = "a reply of some forty characters or so.."
    ep = Endpoint([streamed(chunk(content=text), chunk(finish="stop"), "[DONE]")])
    client = make_client(db, ep)
    (a,) = chat(client)
    assert a.usage.completion_tokens == estimate(text) and a.usage.prompt_tokens > 0
    assert client.stats.fallbacks == ["stream_usage->estimate"]
    assert client.caps.get("stream_options", "") == "off"
    chat(client, REQ.model_copy(update={"max_tokens": 17}))
    assert ep.seen[1]["stream"] is True and "stream_options" not in ep.seen[1]


def test_a_refused_stream_options_is_dropped_at_once(db: sqlite3.Connection) -> None:
    ep = Endpoint(
        [refused("stream_options", "Unrecognized argument: stream_options"), streamed(*OK)]
    )
    client = make_client(db, ep)
    (a,) = chat(client)
    assert a.content == "hi" and len(ep.seen) == 2
    assert "stream_options" in ep.seen[0] and "stream_options" not in ep.seen[1]
    assert ep.seen[1]["stream"] is True
    assert client.stats.fallbacks == ["stream_options->none"] and client.stats.retried == 0
    assert Capabilities(db, "127.0.0.1:8080", "m").get("stream_options", "") == "off"


def test_a_refused_stream_falls_back_to_one_piece_answers(db: sqlite3.Connection) -> None:
    ep = Endpoint([refused("stream", "streaming is not supported"), plain("whole")])
    client = make_client(db, ep)
    (a,) = chat(client)
    assert a.content == "whole" and [s.get("stream") for s in ep.seen] == [True, None]
    assert client.stats.fallbacks == ["stream->none"] and client.budget.outstanding == 0
    # Learned for the endpoint: a later run does not ask again.
    again = make_client(db, Endpoint([plain("later")]))
    chat(again, REQ.model_copy(update={"max_tokens": 17}))
    assert again.stream.flags() == {}


def test_an_endpoint_that_ignores_stream_is_read_whole(db: sqlite3.Connection) -> None:
    client = make_client(db, Endpoint([plain("whole")]))
    (a,) = chat(client)
    assert a.content == "whole" and client.stats.fallbacks == []
    assert client.stats.tokens_streamed == 1  # counted when the answer came


def test_a_remote_endpoint_streams_only_after_a_timeout(db: sqlite3.Connection) -> None:
    ep = Endpoint([plain("first"), httpx2.ReadTimeout("slow"), streamed(*OK)])
    client = make_client(db, ep, REMOTE)
    chat(client)
    (a,) = chat(client, REQ.model_copy(update={"max_tokens": 17}))
    assert a.content == "hi" and [s.get("stream") for s in ep.seen] == [None, None, True]
    assert client.stats.retried == 1 and client.stats.fallbacks == ["timeout->stream"]
    # Remembered: the next run against this endpoint streams from its first request.
    assert make_client(db, Endpoint([plain()]), REMOTE).stream.flags()["stream"] is True


def test_a_stream_cut_short_is_retried_and_an_error_event_fails(db: sqlite3.Connection) -> None:
    cut = streamed(chunk(content="half"))  # no finish_reason, no [DONE]: the body just ends
    ep = Endpoint([cut, streamed(*OK)])
    client = make_client(db, ep)
    (a,) = chat(client)
    assert a.content == "hi" and client.stats.retried == 1 and len(ep.seen) == 2
    failing = make_client(db, Endpoint([streamed({"error": {"message": "slot unavailable"}})]))
    with pytest.raises(RequestFailed, match="slot unavailable"):
        chat(failing, REQ.model_copy(update={"max_tokens": 17}))


def test_in_flight_and_tokens_are_live_while_a_stream_runs(db: sqlite3.Connection) -> None:
    gate = asyncio.Event()

    async def body() -> AsyncIterator[bytes]:
        yield sse(chunk(content="x" * 40))
        await gate.wait()
        yield sse(chunk(finish="stop"), USAGE, "[DONE]")

    live = LiveRequests()  # what a command hands down to where its clients are built
    idle = make_client(db, Endpoint([]), live=live)  # a second client of the same command
    unseen = make_client(db, Endpoint([]))  # another command's: not in these totals
    unseen.stats.in_flight, unseen.stats.tokens_streamed = 5, 500

    async def scenario() -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
        client = make_client(db, Endpoint([lambda: sse_response(body())]), live=live)
        before = live.totals()
        task = asyncio.create_task(client.chat(REQ))
        for _ in range(100_000):  # yield to the request until its first chunk is in
            if client.stats.tokens_streamed:
                break
            await asyncio.sleep(0)
        during = (client.stats.in_flight, client.stats.tokens_streamed)
        totals = live.totals()
        gate.set()
        await task
        return before, during, totals

    before, during, totals = asyncio.run(scenario())
    assert during == (1, 10)  # 40 characters, estimated as they came
    # The command's two clients, and nothing of any other command's.
    assert before == (0, 0) and totals == (1, 10) and idle.stats.in_flight == 0


# --- the cache key --------------------------------------------------------------------------

KEY_REQ = ChatRequest(
    messages=[
        {"role": "system", "content": "You write data."},
        {"role": "user", "content": "Say hi."},
    ],
    temperature=0.7,
    max_tokens=64,
    seed=3,
    json_schema={"type": "object"},
)
# Computed by the client as it was before answers streamed (git HEAD at the change): a state
# dir written then must still replay.
PINNED = (
    "ec0e0b97afcd93ca684a4ce33544a8c1da0aa27adb6413ea56929da4e3e1283e",
    "c7403eee557c858527370465bf891c92975840199baafe2d8254c4c265c5e3cf",
)


def test_the_cache_key_is_what_it_was_before_streaming(db: sqlite3.Connection) -> None:
    host = endpoint_host(LOCAL)
    assert tuple(request_key(host, KEY_REQ.identity("m"), i) for i in (0, 1)) == PINNED
    ep = Endpoint([streamed(*OK)])
    client = make_client(db, ep)
    assert client.stream.flags()  # this client streams ...
    assert (client.key(KEY_REQ, 0), client.key(KEY_REQ, 1)) == PINNED  # ... under the same keys


def test_a_streamed_answer_is_cached_like_one_piece(db: sqlite3.Connection) -> None:
    local = make_client(db, Endpoint([streamed(*OK)]))
    (streamed_answer,) = chat(local)
    body = db.execute("SELECT body FROM responses").fetchone()[0]
    cached = orjson.loads(body)
    assert set(cached) == set(Answer.model_fields) - {"cached", "key"}
    assert cached["content"] == "hi" and cached["usage"]["completion_tokens"] == 3
    # A client that does not stream replays it, and sends nothing.
    other = sqlite3.connect(":memory:", isolation_level=None)
    migrate(other)
    not_streaming = make_client(other, Endpoint([plain("hi")]), LOCAL)
    not_streaming.stream.on = False
    (whole,) = chat(not_streaming)
    differ = {"request_id", "received_at", "usage", "resolved_model", "key"}
    assert whole.model_dump(exclude=differ) == streamed_answer.model_dump(exclude=differ)
    (replayed,) = chat(local)
    assert replayed.cached and replayed.content == "hi" and local.stats.sent == 1


# --- the progress line ----------------------------------------------------------------------


class FakeTime:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


class Counters:
    def __init__(self) -> None:
        self.in_flight, self.tokens = 0, 0

    def __call__(self) -> tuple[int, int]:
        return self.in_flight, self.tokens


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_line_shows_requests_in_flight_and_tokens_per_second(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CI", "1")  # a CI log: plain lines, every interval at most
    clock, counters, out = FakeTime(), Counters(), io.StringIO()
    line = ProgressLine(out, clock, interval=5.0)
    live = LiveLine(line, Pulse(counters, clock, window=10.0).text, "expand: starting")
    live.tick()
    counters.in_flight = 4
    clock.t += 2.0
    live.tick()  # within the interval: nothing new is printed
    clock.t += 3.0
    counters.tokens = 150
    live.tick()
    live.update("expand: 5/20 records")
    clock.t += 5.0
    counters.tokens = 350
    live.update("expand: 10/20 records")
    clock.t += 20.0
    counters.tokens = 550  # the rate is that of the last 10 s or so, not since the start
    live.tick()
    counters.in_flight = 0
    clock.t += 20.0
    live.update("expand: 20/20 records", final=True)
    assert out.getvalue().splitlines() == [
        "expand: starting",
        "expand: starting · 4 in flight · 30 tok/s",
        "expand: 10/20 records · 4 in flight · 35 tok/s",
        "expand: 10/20 records · 4 in flight · 10 tok/s",
        "expand: 20/20 records",
    ]


def test_a_message_never_lands_on_a_redrawn_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    term = Terminal()
    console = Console(term)
    line = console.progress(FakeTime(), interval=0.2)
    LiveLine(line, lambda: "", "filter: calibrating: 3/20 seeds judged").tick()
    console.say("calibration: the judge passed 20/20 human seeds")
    console.say("and a second message starts on a line of its own")
    assert term.getvalue() == (
        "\r\x1b[2Kfilter: calibrating: 3/20 seeds judged\n"
        "calibration: the judge passed 20/20 human seeds\n"
        "and a second message starts on a line of its own\n"
    )
    # Another console's messages know nothing of this line: the state is the console's.
    other = Terminal()
    Console(other).say("elsewhere")
    assert other.getvalue() == "elsewhere\n"


def test_the_ticker_redraws_until_the_block_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "1")
    out, ticked = io.StringIO(), threading.Event()
    line = ProgressLine(out, FakeTime(), interval=0.01)

    def extra() -> str:
        ticked.set()
        return ""

    live = LiveLine(line, extra, "run: starting")
    with live.ticking():
        assert ticked.wait(timeout=30)  # the ticker thread draws on its own
    assert out.getvalue().startswith("run: starting\n") and live.stopped.is_set()


def test_the_rate_is_never_negative_when_a_count_corrects_the_estimate() -> None:
    clock, counters = FakeTime(), Counters()
    pulse = Pulse(counters, clock, window=10.0)
    counters.in_flight, counters.tokens = 2, 400
    pulse.text()
    clock.t += 5.0
    counters.tokens = 380  # an answer ended: its 420 estimated tokens were 400 counted
    assert pulse.text() == "2 in flight · 0 tok/s"

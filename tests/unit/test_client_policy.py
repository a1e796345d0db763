"""The client's retry policy, pinned with injected fakes: a scripted transport under the real
openai SDK, a clock whose sleep only records the delay and moves fake time, scripted jitter."""

from __future__ import annotations

import asyncio
import random
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx2
import pytest

from synthgen.config import EndpointConfig
from synthgen.errors import EndpointConfigError, EndpointUnreachable
from synthgen.llm.cache import Capabilities, ResponseCache
from synthgen.llm.client import (
    RATE_LIMIT_PATIENCE,
    LLMClient,
    RequestFailed,
    RequestRejected,
)
from synthgen.llm.cost import Budget
from synthgen.llm.limits import Clock
from synthgen.llm.policy import UNREACHABLE_ATTEMPTS, UNREACHABLE_WAIT_S
from synthgen.llm.types import Answer, ChatRequest

BASE = 1.0  # backoff_base_s
CAP = 4.0  # backoff_max_s
ATTEMPTS = 3  # max_attempts
REQ = ChatRequest(messages=[{"role": "user", "content": "Say hi."}], max_tokens=16)
SCHEMA_REQ = REQ.model_copy(update={"json_schema": {"type": "object"}})

# What the fake endpoint does for one request: answer this, or raise this transport error.
Step = httpx2.Response | Exception


class FakeClock:
    """Time that moves only when someone sleeps; every requested delay is recorded."""

    def __init__(self) -> None:
        self.t = 0.0
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += max(0.0, seconds)


class ScriptedRandom(random.Random):
    """`random()` returns `value` every time, so each jittered wait is known exactly."""

    def __init__(self, value: float) -> None:
        super().__init__(0)
        self.value = value
        self.draws = 0

    def random(self) -> float:
        self.draws += 1
        return self.value


@dataclass
class FakeEndpoint:
    """Answers request k with `steps[k]` (the last step repeats); records every request."""

    steps: list[Step]
    seen: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        import json

        self.seen.append(json.loads(request.content))
        step = self.steps[min(len(self.seen) - 1, len(self.steps) - 1)]
        if isinstance(step, Exception):
            raise step
        return step


def completion(content: str = "hi") -> httpx2.Response:
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "fake-model-0001",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
    }
    return httpx2.Response(200, json=body)


def status(
    http_status: int, message: str = "nope", headers: dict[str, str] | None = None, **error: Any
) -> httpx2.Response:
    """An OpenAI-shaped error answer; `error` adds fields such as code= or param=."""
    body = {"error": {"message": message, "type": "invalid_request_error", **error}}
    return httpx2.Response(http_status, json=body, headers=headers)


@dataclass
class Rig:
    client: LLMClient
    endpoint: FakeEndpoint
    clock: FakeClock
    rng: ScriptedRandom
    db: sqlite3.Connection

    def chat(self, req: ChatRequest = REQ) -> list[Answer]:
        return asyncio.run(self._chat(req))

    async def _chat(self, req: ChatRequest) -> list[Answer]:
        return await self.client.chat(req)


MakeRig = Callable[..., Rig]


@pytest.fixture
def rig(db: sqlite3.Connection) -> MakeRig:
    """A client over a scripted transport, a fake clock and a constant jitter draw."""

    def make(*steps: Step, jitter: float = 0.0, **cfg: Any) -> Rig:
        defaults = {"max_attempts": ATTEMPTS, "backoff_base_s": BASE, "backoff_max_s": CAP}
        ep_cfg = EndpointConfig(
            base_url="http://fake.test/v1", model="fake-model", **{**defaults, **cfg}
        )
        endpoint = FakeEndpoint(list(steps))
        clock, rng = FakeClock(), ScriptedRandom(jitter)
        client = LLMClient(
            ep_cfg,
            "sk-test",
            ResponseCache(db),
            Capabilities(db, "fake.test", "fake-model"),
            Budget(price=None),
            clock=Clock(now=clock.now, sleep=clock.sleep),
            rng=rng,
            http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(endpoint)),
        )
        return Rig(client, endpoint, clock, rng, db)

    return make


def test_a_good_answer_is_sent_once_without_waiting(rig: MakeRig) -> None:
    r = rig(completion("hello"))
    (a,) = r.chat()
    assert a.content == "hello" and not a.cached
    assert len(r.endpoint.seen) == 1 and r.client.stats.sent == 1
    assert r.clock.sleeps == [] and r.client.stats.retried == 0


# --- waits --------------------------------------------------------------------------------


@pytest.mark.parametrize("jitter", [0.0, 0.5, 0.999999])
@pytest.mark.parametrize(
    ("headers", "server_s"),
    [
        ({"retry-after": "3"}, 3.0),
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after-ms": "250", "retry-after": "1"}, 0.25),  # the precise one wins
    ],
)
@pytest.mark.parametrize("code", [429, 503])
def test_retry_after_is_honoured(
    rig: MakeRig, code: int, headers: dict[str, str], server_s: float, jitter: float
) -> None:
    r = rig(status(code, "slow down", headers), completion(), jitter=jitter)
    r.chat()
    # The server's wait plus a little jitter (at most 5%, at most 50 ms); never less.
    expected = server_s + jitter * min(0.05, server_s / 10 + 0.001)
    assert r.clock.sleeps == [expected]
    assert r.clock.sleeps[0] >= server_s
    assert len(r.endpoint.seen) == 2 and r.client.stats.retried == 1


def test_retry_after_longer_than_the_backoff_is_not_cut_short(rig: MakeRig) -> None:
    # The backoff after attempt 1 would be 0.5 s; the server asks for 30 s.
    r = rig(status(503, "busy", {"retry-after": "30"}), completion())
    r.chat()
    assert r.clock.sleeps == [30.0]


@pytest.mark.parametrize("jitter", [0.0, 0.5, 0.999999])
def test_backoff_is_jittered_exponential_and_capped(rig: MakeRig, jitter: float) -> None:
    r = rig(status(500, "boom"), jitter=jitter, max_attempts=6)
    with pytest.raises(RequestFailed):
        r.chat()
    bases = [min(CAP, BASE * 2 ** (k - 1)) for k in range(1, 6)]
    assert bases == [1.0, 2.0, 4.0, 4.0, 4.0]
    assert r.clock.sleeps == [b * (0.5 + jitter / 2) for b in bases]
    for delay, b in zip(r.clock.sleeps, bases, strict=True):
        assert 0.5 * b <= delay <= 1.0 * b
    assert len(r.endpoint.seen) == 6


# --- what is never retried ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "raised", "reason"),
    [
        (
            status(400, "context length exceeded", code="context_length_exceeded"),
            RequestRejected,
            "request_rejected",
        ),
        (status(422, "unprocessable"), RequestRejected, "request_rejected"),
        (status(400, "flagged", code="content_filter"), RequestRejected, "content_filter"),
        (status(401, "bad key"), EndpointConfigError, None),
        (status(403, "forbidden"), EndpointConfigError, None),
        (status(404, "no such model"), EndpointConfigError, None),
    ],
    ids=["400", "422", "content_filter", "401", "403", "404"],
)
def test_refusals_are_never_retried(
    rig: MakeRig, answer: httpx2.Response, raised: type[Exception], reason: str | None
) -> None:
    r = rig(answer, completion())
    with pytest.raises(raised) as info:
        r.chat()
    if reason is not None:
        assert isinstance(info.value, RequestRejected) and info.value.reason == reason
    assert len(r.endpoint.seen) == 1 and r.clock.sleeps == []
    assert r.client.stats.retried == 0 and r.client.stats.failed == 0
    assert r.client.budget.outstanding == 0  # the reservation was given back


@pytest.mark.parametrize("code", [405, 413, 415, 418, 451])
def test_an_unexpected_status_refuses_the_request_once(rig: MakeRig, code: int) -> None:
    r = rig(status(code, "Request Entity Too Large (proxy limit 1 MB)"), completion())
    with pytest.raises(RequestRejected) as info:
        r.chat()
    assert info.value.reason == "request_rejected"
    assert info.value.message == (
        f"the endpoint answered HTTP {code}: Request Entity Too Large (proxy limit 1 MB)"
    )
    assert len(r.endpoint.seen) == 1 and r.clock.sleeps == []
    assert r.client.budget.outstanding == 0


def test_an_html_413_from_a_proxy_is_read_as_text(rig: MakeRig) -> None:
    page = (
        "<html>\r\n<head><title>413 Request Entity Too Large</title></head>\r\n<body>\r\n"
        "<center><h1>413 Request Entity Too Large</h1></center>\r\n</body>\r\n</html>\r\n"
    )
    r = rig(httpx2.Response(413, text=page, headers={"content-type": "text/html"}))
    with pytest.raises(RequestRejected) as info:
        r.chat()
    assert info.value.message == (
        "the endpoint answered HTTP 413: 413 Request Entity Too Large 413 Request Entity Too Large"
    )


def test_an_unexpected_status_after_a_retry_still_refuses(rig: MakeRig) -> None:
    r = rig(status(503, "busy"), status(413, "too large"))
    with pytest.raises(RequestRejected, match="HTTP 413: too large"):
        r.chat()
    assert len(r.endpoint.seen) == 2 and r.clock.sleeps == [0.5]


def test_a_rejected_json_schema_falls_back_without_waiting(rig: MakeRig) -> None:
    r = rig(status(400, "json_schema is not supported", param="response_format"), completion())
    (a,) = r.chat(SCHEMA_REQ)
    assert a.structured == "json_object" and r.client.stats.fallbacks == [
        "json_schema->json_object"
    ]
    formats = [s["response_format"]["type"] for s in r.endpoint.seen]
    assert formats == ["json_schema", "json_object"] and r.clock.sleeps == []


@pytest.mark.parametrize(
    "answer",
    [
        httpx2.Response(200, text="<html>all good</html>", headers={"content-type": "text/html"}),
        httpx2.Response(200, json={"object": "list", "data": []}),
        httpx2.Response(200, json={"choices": []}),  # once asked again for ever
        httpx2.Response(200, json=[1, 2, 3]),
    ],
    ids=["not_json", "not_a_completion", "no_choices", "array"],
)
def test_a_reply_that_is_not_a_completion_is_rejected_once(
    rig: MakeRig, answer: httpx2.Response
) -> None:
    r = rig(answer, completion())
    with pytest.raises(RequestRejected) as info:
        r.chat()
    assert info.value.reason == "invalid_response"
    assert info.value.message.startswith("the endpoint's reply is not a chat completion: ")
    assert len(r.endpoint.seen) == 1 and r.clock.sleeps == []
    assert r.client.budget.outstanding == 0
    assert len(r.client.cache) == 0  # nothing unusable is cached


# --- what is retried, and how often ---------------------------------------------------------


@pytest.mark.parametrize(
    "failure",
    [
        status(408, "timeout"),
        status(409, "conflict"),
        status(500, "boom"),
        status(503, "unavailable"),
        httpx2.ReadTimeout("timed out"),
    ],
    ids=["408", "409", "500", "503", "read_timeout"],
)
def test_transient_failures_are_retried_up_to_max_attempts(rig: MakeRig, failure: Step) -> None:
    r = rig(failure)
    with pytest.raises(RequestFailed, match="gave up after retrying"):
        r.chat()
    assert len(r.endpoint.seen) == ATTEMPTS and r.client.stats.sent == ATTEMPTS
    assert r.clock.sleeps == [0.5, 1.0]  # base·2^(k-1) × 0.5 with the jitter draw at 0
    assert r.client.stats.retried == ATTEMPTS - 1 and r.client.stats.failed == 1
    assert r.client.budget.outstanding == 0


def test_once_the_endpoint_has_answered_connect_errors_are_retried_up_to_max_attempts(
    rig: MakeRig,
) -> None:
    r = rig(completion("first"), httpx2.ConnectError("connection refused"))
    r.chat()
    with pytest.raises(RequestFailed, match="gave up after retrying"):
        r.chat(REQ.model_copy(update={"max_tokens": 17}))  # not cached: sent
    assert len(r.endpoint.seen) == 1 + ATTEMPTS and r.client.stats.sent == 1
    assert r.clock.sleeps == [0.5, 1.0]
    assert r.client.stats.retried == ATTEMPTS - 1 and r.client.stats.failed == 1


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        (httpx2.ConnectError("connection refused"), "connection refused"),
        (httpx2.ConnectTimeout("timed out"), "connection timed out"),
    ],
    ids=["refused", "connect_timeout"],
)
def test_an_endpoint_that_never_connected_is_unreachable_after_quick_tries(
    rig: MakeRig, failure: Step, reason: str
) -> None:
    r = rig(failure, backoff_base_s=8.0, backoff_max_s=60.0)  # slow backoff, not used here
    with pytest.raises(EndpointUnreachable) as raised:
        r.chat()
    assert raised.value.message == f"cannot connect to http://fake.test/v1: {reason}"
    assert raised.value.exit_code == 2 and "--base-url" in (raised.value.hint or "")
    assert len(r.endpoint.seen) == UNREACHABLE_ATTEMPTS < ATTEMPTS
    assert r.clock.sleeps == [UNREACHABLE_WAIT_S] * (UNREACHABLE_ATTEMPTS - 1)
    assert r.client.stats.sent == 0 and r.client.stats.failed == 1
    # every later request stops at once, sending nothing
    with pytest.raises(EndpointUnreachable):
        r.chat(REQ.model_copy(update={"max_tokens": 17}))
    assert len(r.endpoint.seen) == UNREACHABLE_ATTEMPTS


def test_a_slow_first_answer_is_not_an_unreachable_endpoint(rig: MakeRig) -> None:
    r = rig(httpx2.ReadTimeout("timed out"), completion("late"))
    (a,) = r.chat()
    assert a.content == "late" and r.client.stats.sent == 2


def test_a_transient_failure_then_success_returns_the_answer(rig: MakeRig) -> None:
    r = rig(httpx2.ConnectError("reset"), status(502, "bad gateway"), completion("late"))
    (a,) = r.chat()
    assert a.content == "late" and len(r.endpoint.seen) == 3
    assert r.clock.sleeps == [0.5, 1.0] and r.client.stats.failed == 0


def test_429_gets_rate_limit_patience_times_the_attempts(rig: MakeRig) -> None:
    # A fixed rpm (high enough never to wait) keeps adaptive pacing out of the recorded sleeps.
    r = rig(status(429, "rate limited", {"retry-after-ms": "100"}), rpm=60_000)
    with pytest.raises(RequestFailed, match="RateLimitError"):
        r.chat()
    limit = ATTEMPTS * RATE_LIMIT_PATIENCE
    assert limit == 12 and len(r.endpoint.seen) == limit
    assert r.clock.sleeps == [0.1] * (limit - 1)
    assert r.client.stats.rate_limited == limit and r.client.stats.failed == 1


# --- the cache ------------------------------------------------------------------------------


def test_a_cached_answer_is_replayed_without_sending(rig: MakeRig) -> None:
    r = rig(completion("first"))
    (first,) = r.chat()
    (again,) = r.chat()
    assert again.cached and again.content == "first" and again.key == first.key
    assert len(r.endpoint.seen) == 1 and r.client.stats.cached == 1
    # A new client over the same state (a rerun) replays it too, from an endpoint that only
    # ever fails.
    rerun = rig(status(500, "down"))
    (replayed,) = rerun.chat()
    assert replayed.cached and replayed.content == "first"
    assert rerun.endpoint.seen == [] and rerun.clock.sleeps == []
    assert rerun.client.stats.sent == 0


# --- the stand-in, told apart ---------------------------------------------------------------


def test_an_answer_with_the_standin_header_is_remembered_as_the_standin(rig: MakeRig) -> None:
    from synthgen.llm.types import STANDIN_HEADER

    marked = completion("hello")
    marked.headers[STANDIN_HEADER] = "1"
    r = rig(marked)
    r.chat()
    assert r.client.caps.get("standin", "") == "1"
    # learned in the state dir: an offline replay of the same run knows it too
    assert Capabilities(r.db, "fake.test", "fake-model").get("standin", "") == "1"


def test_an_endpoint_without_the_header_is_not_called_the_standin(rig: MakeRig) -> None:
    r = rig(completion("hello"))
    r.chat()
    assert r.client.caps.get("standin", "") == ""


def test_a_5xx_between_answers_is_retried_soon_while_the_failures_stay_blips(
    rig: MakeRig,
) -> None:
    # The endpoint answers, then fails one request twice: both retries are a blip's (base
    # 0.05 s, doubling; × 0.5 with the jitter draw at 0), not the configured base's 0.5, 1.0.
    r = rig(completion("first"), status(500, "boom"), status(502, "bad gateway"), completion())
    r.chat()
    r.chat(REQ.model_copy(update={"max_tokens": 17}))
    assert r.clock.sleeps == [0.025, 0.05]


def test_5xx_with_nothing_answered_back_off_as_configured(rig: MakeRig) -> None:
    # No answer has come yet (an endpoint that may be down): not a blip, so the configured
    # base (1.0, doubling; × 0.5 with the jitter draw at 0).
    r = rig(status(500, "boom"), status(502, "bad gateway"), completion())
    r.chat()
    assert r.clock.sleeps == [0.5, 1.0]

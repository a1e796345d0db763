"""Pacing without an announced limit, and what a proxy in front of the model changes: pinned
on simulated endpoints (a token bucket, simulated minutes, no real time) and on a scripted
transport under the real client."""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

import httpx2
import pytest
from support.ratesim import Endpoint, simulate

from synthgen.config import EndpointConfig
from synthgen.errors import EXIT_USAGE, EndpointConfigError
from synthgen.llm.cache import Capabilities, ResponseCache
from synthgen.llm.client import LLMClient, RequestRejected
from synthgen.llm.cost import Budget
from synthgen.llm.limits import Clock, Limiter, retry_after_seconds
from synthgen.llm.proxy import router_of, upstream_model
from synthgen.llm.types import ChatRequest
from synthgen.stages.filter.calibration import independence, known_as

LITELLM = {
    "x-litellm-model-name": "openai/upstream-alpha",
    "x-litellm-call-id": "c1",
    "x-ratelimit-limit-requests": "60",
    "llm_provider-x-ratelimit-limit-requests": "60",
}

# --- pacing from 429s alone ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rpm", "burst", "concurrency", "latency", "retry_after", "minutes"),
    [
        (1200, 20, 32, 0.02, "ms", 0.25),  # the bench's endpoint, over the bench's 15 s
        (1200, 20, 32, 0.02, "ms", 1),
        (600, 10, 16, 0.05, "s", 1),  # retry-after in whole seconds only
        (120, 2, 16, 0.02, "none", 2),  # announces nothing at all
        (120, 2, 16, 0.5, "none", 2),
        (6000, 100, 64, 0.05, "ms", 0.5),
        (600, 600, 16, 0.5, "ms", 2),  # a whole minute of burst
    ],
)
def test_an_unannounced_limit_is_used_at_95_percent_with_few_refusals(
    rpm: int, burst: int, concurrency: int, latency: float, retry_after: str, minutes: float
) -> None:
    ep = Endpoint(rpm, burst, latency, retry_after)
    r = simulate(ep, int(rpm * minutes), concurrency, jitter=latency / 2)
    assert r.utilisation(ep) >= 0.95, r.limiter.pacer.summary()
    assert r.refused_share <= 0.10, r.limiter.pacer.summary()


def test_a_limit_without_burst_is_still_mostly_used() -> None:
    # A bucket of one request: any pace above the limit has every other request refused,
    # so the pace must stay just below it; this costs some of the limit.
    ep = Endpoint(60, 1, 0.02, "ms")
    r = simulate(ep, 180, 16, jitter=0.01)
    assert r.utilisation(ep) >= 0.9 and r.refused_share <= 0.10


def test_an_endpoint_without_limits_is_never_paced() -> None:
    ep = Endpoint(10**9, 10**9, 0.02)
    r = simulate(ep, 200, 16)
    assert r.refused == 0 and r.limiter.pacer.rate is None and r.limiter.requests is None
    assert r.limiter.slots.window == 16  # slow start opened the whole cap
    assert r.seconds < 0.02 * 30  # ~200/16 round trips, plus a few for slow start


def test_a_fixed_rpm_is_never_second_guessed() -> None:
    ep = Endpoint(600, 10, 0.02)
    r = simulate(ep, 100, 16, rpm=300)
    assert r.refused == 0 and r.limiter.pacer.rate is None
    assert r.limiter.requests is not None and r.limiter.requests.rate == pytest.approx(5.0)


# --- proxies -----------------------------------------------------------------------------------


def test_a_proxy_announcing_one_upstreams_limit_does_not_cap_the_pool() -> None:
    # Two replicas of 60/min behind LiteLLM: its headers say 60, the pool takes 120.
    ep = Endpoint(120, 4, 0.05, "ms", headers=LITELLM)
    r = simulate(ep, 240, 16, jitter=0.02)
    assert r.limiter.proxy == "litellm" and r.limiter.pacer.floor == pytest.approx(1.0)
    assert r.utilisation(ep) >= 0.95 and r.refused_share <= 0.10


def test_limits_that_change_between_answers_reveal_a_router() -> None:
    lim = Limiter(8, None, None, Clock())
    lim.learn({"x-ratelimit-limit-requests": "60"})
    assert lim.proxy is None and lim.requests is not None and lim.requests.rate == 1.0
    lim.learn({"x-ratelimit-limit-requests": "100"})
    assert lim.proxy == "router" and "differ" in lim.proxy_detail
    assert lim.adaptive and lim.pacer.floor == pytest.approx(100 / 60)


def test_a_direct_endpoints_limit_is_believed() -> None:
    lim = Limiter(8, None, None, Clock())
    lim.learn({"x-ratelimit-limit-requests": "60", "x-ratelimit-remaining-requests": "0"})
    assert lim.proxy is None and not lim.adaptive
    assert lim.requests is not None and lim.requests.rate == 1.0 and lim.requests.level == 0


def test_a_proxys_own_key_limit_is_believed() -> None:
    # LiteLLM relays an upstream's limit under both names; a limit of its own key plainly.
    lim = Limiter(8, None, None, Clock())
    headers = {**LITELLM, "x-ratelimit-limit-requests": "30"}
    lim.learn(headers)
    assert lim.proxy == "litellm" and not lim.adaptive
    assert lim.requests is not None and lim.requests.rate == 0.5


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"llm_provider-retry-after": "2"}, 2.0),
        ({"llm_provider-retry-after-ms": "250", "llm_provider-retry-after": "1"}, 0.25),
        ({"retry-after": "3", "llm_provider-retry-after-ms": "250"}, 3.0),  # plain wins
        ({}, None),
    ],
)
def test_a_relayed_retry_after_is_honoured(headers: dict[str, str], seconds: float | None) -> None:
    assert retry_after_seconds(headers) == seconds


def test_routers_and_their_upstream_models_are_recognised() -> None:
    assert router_of(LITELLM) == "litellm" and upstream_model(LITELLM) == "openai/upstream-alpha"
    assert router_of({"Ngrok-AIG-Model": "gpt-4o"}) == "ngrok-ai-gateway"
    assert upstream_model(httpx2.Headers({"Ngrok-AIG-Model": "gpt-4o"})) == "gpt-4o"
    assert router_of({"x-request-id": "1", "openai-model": "gpt-4o"}) is None


def test_independence_compares_upstream_models() -> None:
    # Behind one alias both are "pool": that says nothing; the upstreams are what count.
    gen = {"model": "pool", "upstream_model": "openai/gpt-4o-mini"}
    assert known_as(gen) == "openai/gpt-4o-mini" and known_as({"model": "pool"}) == "pool"
    (pair,) = independence(["judge-alias"], [known_as(gen)], {"judge-alias": "gpt-4o"})
    assert pair["relation"] == "same_family" and pair["judge_upstream"] == "gpt-4o"
    assert independence(["judge-alias"], ["llama-3.1-8b"], {"judge-alias": "gpt-4o"}) == []


# --- the client: a model or key the endpoint keeps refusing ---------------------------------

REQ = ChatRequest(messages=[{"role": "user", "content": "Say hi."}], max_tokens=16)


def completion(headers: dict[str, str] | None = None) -> httpx2.Response:
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "pool",  # LiteLLM puts its alias here
        "choices": [{"index": 0, "message": {"content": "hi"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
    }
    return httpx2.Response(200, json=body, headers=headers)


def refusal(status: int, message: str, headers: dict[str, str] | None = None) -> httpx2.Response:
    body = {"error": {"message": message, "type": "invalid_request_error", "code": str(status)}}
    return httpx2.Response(status, json=body, headers=headers)


INVALID_MODEL = (
    "/chat/completions: Invalid model name passed in model=nosuch. "
    "Call `/v1/models` to view available models for your key."
)


class Scripted:
    """Answers request k with `steps[k]` (the last repeats); counts what was sent."""

    def __init__(self, *steps: httpx2.Response) -> None:
        self.steps, self.sent = steps, 0

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.sent += 1
        return self.steps[min(self.sent, len(self.steps)) - 1]


def client(db: sqlite3.Connection, ep: Scripted, concurrency: int = 16) -> LLMClient:
    cfg = EndpointConfig(base_url="http://proxy.test/v1", model="nosuch", concurrency=concurrency)
    t = [0.0]

    async def sleep(s: float) -> None:
        t[0] += max(0.0, s)

    return LLMClient(
        cfg,
        "sk-test",
        ResponseCache(db),
        Capabilities(db, "proxy.test", "nosuch"),
        Budget(price=None),
        clock=Clock(now=lambda: t[0], sleep=sleep),
        http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(ep)),
    )


def test_an_unknown_model_is_a_usage_error_after_three_answers(db: sqlite3.Connection) -> None:
    ep = Scripted(refusal(400, INVALID_MODEL))
    c = client(db, ep)

    async def many() -> Any:
        # Sixteen jobs at once: after the first refusal they go one at a time.
        return await asyncio.gather(*(c.chat(REQ) for _ in range(16)), return_exceptions=True)

    results = asyncio.run(many())
    errors = [r for r in results if isinstance(r, EndpointConfigError)]
    assert len(errors) == 16 and errors[0].exit_code == EXIT_USAGE
    assert "does not serve model 'nosuch'" in errors[0].message
    assert "/models" in (errors[0].hint or "")
    assert ep.sent == 3  # three answers to believe it; then nothing more is sent
    assert not any(isinstance(r, RequestRejected) for r in results)  # nothing ledgered


def test_one_unknown_model_answer_is_asked_again_not_believed(db: sqlite3.Connection) -> None:
    ep = Scripted(refusal(400, INVALID_MODEL), completion(LITELLM))
    (a,) = asyncio.run(client(db, ep).chat(REQ))
    assert a.content == "hi" and ep.sent == 2


def test_a_key_the_proxy_cannot_check_is_a_usage_error(db: sqlite3.Connection) -> None:
    ep = Scripted(refusal(400, "No connected db."))
    with pytest.raises(EndpointConfigError, match="rejected the API key") as info:
        asyncio.run(client(db, ep).chat(REQ))
    assert ep.sent == 3 and "OPENAI_API_KEY" in (info.value.hint or "")


def test_an_ordinary_400_still_refuses_only_its_request(db: sqlite3.Connection) -> None:
    ep = Scripted(refusal(400, "This model's maximum context length was exceeded"))
    with pytest.raises(RequestRejected):
        asyncio.run(client(db, ep).chat(REQ))
    assert ep.sent == 1


def test_a_proxied_answer_names_its_upstream_and_the_proxy_is_remembered(
    db: sqlite3.Connection,
) -> None:
    c = client(db, Scripted(completion(LITELLM)))
    (a,) = asyncio.run(c.chat(REQ))
    assert a.resolved_model == "pool" and a.upstream_model == "openai/upstream-alpha"
    assert Capabilities(db, "proxy.test", "nosuch").get("proxy", "") == "litellm"
    (again,) = asyncio.run(client(db, Scripted(refusal(500, "down"))).chat(REQ))
    assert again.cached and again.upstream_model == "openai/upstream-alpha"  # replayed too

"""n > 1 against an endpoint that counts only the first choice's tokens (llama.cpp): the other
choices are estimated, so the budget and the cost hold; an honest count is taken as is."""

from __future__ import annotations

import asyncio
import sqlite3

import httpx2
import pytest

from synthgen.config import EndpointConfig
from synthgen.llm.cache import Capabilities, ResponseCache
from synthgen.llm.client import LLMClient
from synthgen.llm.cost import Budget, Price
from synthgen.llm.limits import Clock
from synthgen.llm.tokens import completion_tokens, estimate
from synthgen.llm.types import Answer, ChatRequest

REQ = ChatRequest(messages=[{"role": "user", "content": "Say hi."}], max_tokens=64, n=3)
TEXTS = ["a" * 80, "b" * 120, "c" * 40]  # 20, 30 and 10 tokens at 4 characters each
PRICE = Price(input=0.0, output=1_000_000.0)  # a dollar per completion token


def test_a_count_of_the_first_choice_only_gets_the_others_estimated() -> None:
    assert completion_tokens(21, TEXTS) == (21 + 30 + 10, True)


def test_an_honest_count_of_every_choice_is_taken_as_reported() -> None:
    assert completion_tokens(58, TEXTS) == (58, False)


def test_an_honest_count_of_a_long_first_choice_and_short_others_is_believed() -> None:
    assert completion_tokens(110, ["a" * 400, "b" * 40]) == (110, False)


def test_one_choice_or_empty_others_are_never_estimated() -> None:
    assert completion_tokens(3, ["a" * 400]) == (3, False)
    assert completion_tokens(20, ["a" * 80, "", ""]) == (20, False)


def test_no_reported_usage_estimates_every_choice_as_before() -> None:
    assert completion_tokens(None, TEXTS) == (60, False)


def ask(db: sqlite3.Connection, reported: int) -> tuple[list[Answer], LLMClient, Budget]:
    """One n=3 request to a fake endpoint answering TEXTS with `reported` completion tokens."""

    def endpoint(request: httpx2.Request) -> httpx2.Response:
        choices = [
            {"index": i, "message": {"role": "assistant", "content": t}, "finish_reason": "stop"}
            for i, t in enumerate(TEXTS)
        ]
        usage = {"prompt_tokens": 6, "completion_tokens": reported, "total_tokens": 6 + reported}
        body = {"id": "x", "object": "chat.completion", "model": "m", "choices": choices}
        return httpx2.Response(200, json={**body, "usage": usage})

    async def no_sleep(seconds: float) -> None:
        raise AssertionError(f"the client waited {seconds} s")

    budget = Budget(price=PRICE)
    client = LLMClient(
        EndpointConfig(base_url="http://fake.test/v1", model="m"),
        "sk-test",
        ResponseCache(db),
        Capabilities(db, "fake.test", "m"),
        budget,
        clock=Clock(now=lambda: 0.0, sleep=no_sleep),
        http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(endpoint)),
    )
    return asyncio.run(client.chat(REQ)), client, budget


def test_the_budget_and_cost_count_every_choice_when_only_the_first_was_counted(
    db: sqlite3.Connection,
) -> None:
    first = estimate(TEXTS[0])
    answers, client, budget = ask(db, first)  # what llama.cpp reports with n > 1
    want = first + estimate(TEXTS[1]) + estimate(TEXTS[2])
    assert sum(a.usage.completion_tokens for a in answers) == want
    assert client.stats.completion_tokens == want
    assert budget.spent_tokens == 6 + want
    assert budget.spent_cost_usd == pytest.approx(want)
    assert sum(a.usage.cost_usd for a in answers) == pytest.approx(want)
    assert client.stats.fallbacks == ["usage_n->estimate"]  # the summary says it was estimated


def test_an_endpoint_that_counts_every_choice_is_trusted(db: sqlite3.Connection) -> None:
    answers, client, budget = ask(db, 57)
    assert sum(a.usage.completion_tokens for a in answers) == 57
    assert budget.spent_tokens == 6 + 57 and client.stats.fallbacks == []

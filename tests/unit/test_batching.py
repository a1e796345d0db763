"""Batch mode's policies, each pinned with fakes: what a cache miss does, how lines are packed
into files within the limits and the budget, and what each kind of answered line becomes."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pytest

from synthgen.config import BatchConfig
from synthgen.core.store import open_state
from synthgen.llm.batchapi import Remote
from synthgen.llm.batching import BatchMisses, BatchQueue, Deferred
from synthgen.llm.batchstore import BatchStore
from synthgen.llm.client import LLMClient
from synthgen.llm.cost import Budget, Price
from synthgen.llm.policy import RequestRejected
from synthgen.llm.types import Answer, ChatRequest


@dataclass
class FakeCaps:
    values: dict[str, str] = field(default_factory=dict)

    def get(self, name: str, default: str) -> str:
        return self.values.get(name, default)

    def learn(self, name: str, value: str, detail: str) -> None:
        self.values[name] = value


@dataclass
class FakeClient:
    """What batch mode reads of an LLMClient; `remember` keeps what would be cached."""

    budget: Budget
    endpoint: str = "api.example.com"
    model: str = "m"
    caps: FakeCaps = field(default_factory=FakeCaps)
    cached: dict[str, Answer] = field(default_factory=dict)

    def remember(self, keys: list[str], got: list[Answer], sampling: str) -> list[Answer]:
        for k, a in zip(keys, got, strict=False):
            self.cached[k] = a.model_copy(update={"sampling": sampling, "key": k})
        return got


def _queue(tmp: Path, **cfg: Any) -> BatchQueue:
    return BatchQueue(BatchStore(open_state(tmp)), BatchConfig(**cfg), lambda m: None)


def _client(price: Price | None = None, cap: float | None = None) -> Any:
    return FakeClient(Budget(price, cap))


REQ = ChatRequest(messages=[{"role": "user", "content": "hello"}], max_tokens=100, seed=3)


def _defer(queue: BatchQueue, client: Any, req: ChatRequest = REQ, key: str = "k0") -> None:
    keys = [f"{key}-{i}" for i in range(req.n)]
    BatchMisses(queue).defer(cast(LLMClient, client), req, keys, list(range(req.n)))


def test_a_miss_is_queued_once_with_the_online_body_and_waits(tmp_path: Path) -> None:
    q, c = _queue(tmp_path), _client()
    with pytest.raises(Deferred):
        _defer(q, c, REQ.model_copy(update={"n": 3}))
    with pytest.raises(Deferred):  # asked again in the same or a later pass: still one line
        _defer(q, c, REQ.model_copy(update={"n": 3}))
    (line,) = q.store.queued("api.example.com", "m")
    assert line.custom_id == "k0-0" and line.keys == ["k0-0", "k0-1", "k0-2"]
    assert line.body == {
        "model": "m",
        "temperature": 1.0,
        "top_p": 1.0,
        "max_tokens": 100,
        "n": 3,
        "seed": 3,
        "messages": [{"role": "user", "content": "hello"}],
    }
    assert q.deferred == 2


def test_where_n_is_ignored_each_sample_is_a_line_of_its_own(tmp_path: Path) -> None:
    q, c = _queue(tmp_path), _client()
    c.caps.values["n"] = "separate"
    with pytest.raises(Deferred):
        _defer(q, c, REQ.model_copy(update={"n": 2}))
    lines = q.store.queued("api.example.com", "m")
    assert [(ln.custom_id, ln.body.get("n"), ln.body["seed"]) for ln in lines] == [
        ("k0-0", None, 3),
        ("k0-1", None, 4),  # the second sample's own seed, as online
    ]


def test_a_refused_line_is_a_rejection_and_a_failed_one_goes_online(tmp_path: Path) -> None:
    q, c = _queue(tmp_path), _client()
    for key in ("a", "b"):
        with pytest.raises(Deferred):
            _defer(q, c, key=key)
    q.store.settle_line("a-0", "rejected", "400: bad request")
    q.store.settle_line("b-0", "failed", "500: oops")
    with pytest.raises(RequestRejected, match="400: bad request"):
        _defer(q, c, key="a")
    _defer(q, c, key="b")  # returns: LLMClient.chat then sends it online
    assert q.online == 1


def test_lines_are_packed_by_count_size_and_budget_room(tmp_path: Path) -> None:
    q = _queue(tmp_path, max_lines=3)
    c = _client(Price(input=1_000_000, output=1_000_000), cap=1000.0)  # $1 per token
    for i in range(5):
        with pytest.raises(Deferred):
            _defer(q, c, key=f"r{i}")
    lines = q.store.queued("api.example.com", "m")
    take, worst = q.fit(cast(LLMClient, c), lines)
    assert len(take) == 3  # max_lines
    per_line = (lines[0].prompt_est + 100) * q.cfg.discount  # worst case at the batch price
    assert worst == pytest.approx(3 * per_line)
    c.budget.max_cost_usd = 2.5 * per_line
    assert len(q.fit(cast(LLMClient, c), lines)[0]) == 2  # what fits the cap
    c.budget.spent_cost_usd = 2 * per_line
    assert q.fit(cast(LLMClient, c), lines)[0] == []
    q2 = _queue(tmp_path / "small", max_mb=len(lines[0].jsonl()) * 2.5 / 1024 / 1024)
    assert len(q2.fit(cast(LLMClient, _client()), lines)[0]) == 2  # max_mb


class FakeAPI:
    def __init__(self, output: list[dict[str, Any]], errors: list[dict[str, Any]]) -> None:
        self.files = {"out": output, "err": errors}

    async def lines(self, file_id: str | None) -> list[dict[str, Any]]:
        return self.files.get(file_id or "", [])


def _answer(cid: str, content: str) -> dict[str, Any]:
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": "m-2024",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            },
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 4, "total_tokens": 14},
    }
    return {"custom_id": cid, "response": {"status_code": 200, "request_id": "r1", "body": body}}


def _status(cid: str, status: int) -> dict[str, Any]:
    err = {"error": {"message": f"HTTP {status}", "type": "x"}}
    return {"custom_id": cid, "response": {"status_code": status, "body": err}, "error": None}


def _expired(cid: str) -> dict[str, Any]:
    return {"custom_id": cid, "response": None, "error": {"code": "batch_expired"}}


def _join(q: BatchQueue, c: Any, api: FakeAPI, status: str = "completed") -> dict[str, str]:
    lines = q.store.queued("api.example.com", "m")
    chunk = q.store.new_chunk("api.example.com", None, "m", lines, b"", "sha", 0.0)
    remote = Remote("b1", status, "f1", "out", "err", {}, None)
    q.api = lambda client: api  # type: ignore[assignment,method-assign,return-value]
    asyncio.run(q.join(cast(LLMClient, c), chunk, remote))
    return {ln.custom_id: ln.state for ln in q.store.chunk_lines(chunk.id)} | {
        ln.custom_id: ln.state for ln in q.store.queued("api.example.com", "m")
    }


def test_each_kind_of_line_ends_as_it_should(tmp_path: Path) -> None:
    q = _queue(tmp_path, max_attempts=2)
    c = _client(Price(input=2.0, output=4.0))
    for key in ("ok", "bad", "busy", "late", "lost", "throttled"):
        with pytest.raises(Deferred):
            _defer(q, c, key=key)
    api = FakeAPI(
        [_answer("ok-0", '{"a": 1}')],
        [_status("bad-0", 400), _status("busy-0", 500), _expired("late-0"),
         _status("throttled-0", 429)],
    )  # fmt: skip
    states = _join(q, c, api)
    # lost-0 is in neither file: the batch ended without it, so it is asked again
    assert states == {
        "ok-0": "answered",
        "bad-0": "rejected",
        "busy-0": "queued",
        "late-0": "queued",
        "lost-0": "queued",
        "throttled-0": "queued",
    }
    a = c.cached["ok-0"]
    assert (a.content, a.request_id, a.resolved_model, a.sampling) == (
        '{"a": 1}',
        "r1",
        "m-2024",
        "single",
    )
    assert a.usage.cost_usd == pytest.approx((10 * 2.0 + 4 * 4.0) / 1e6 * 0.5)  # batch price
    # the second submission of the same failures is the last (max_attempts=2)
    states = _join(q, c, FakeAPI([], [_status("busy-0", 503), _expired("late-0")]))
    assert {k: v for k, v in states.items() if k in ("busy-0", "late-0", "lost-0")} == {
        "busy-0": "failed",
        "late-0": "failed",
        "lost-0": "failed",
    }


def test_lines_a_cancelled_batch_never_ran_are_not_counted_as_attempts(tmp_path: Path) -> None:
    q, c = _queue(tmp_path, max_attempts=1), _client()
    with pytest.raises(Deferred):
        _defer(q, c, key="x")
    assert _join(q, c, FakeAPI([], []), status="cancelled") == {"x-0": "queued"}
    (line,) = q.store.queued("api.example.com", "m")
    assert line.attempts == 0  # it may still be submitted max_attempts times

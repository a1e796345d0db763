"""A client's cache-miss policy (online, offline, batch) is chosen when it is built and never
swapped; batch mode's own phase (online for the calibration, then deferring) moves one way.
And the one Status type every stage's ending carries."""

from __future__ import annotations

import ast
import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_args

import httpx2
import pytest

from synthgen.config import BatchConfig, EndpointConfig
from synthgen.core.batchrun import BatchMode, miss_policy
from synthgen.core.stage import EXIT_BY_STATUS
from synthgen.errors import UsageError
from synthgen.llm.batching import BatchMisses, BatchQueue, Deferred
from synthgen.llm.batchstore import BatchStore
from synthgen.llm.cache import Capabilities, ResponseCache
from synthgen.llm.client import LLMClient
from synthgen.llm.cost import Budget
from synthgen.llm.limits import Clock
from synthgen.llm.misses import MissPolicy, Offline, OfflineMiss, Online
from synthgen.llm.types import ChatRequest, endpoint_host
from synthgen.records import StageSummary, Status

PKG = Path(__file__).resolve().parents[2] / "synthgen"
URL = "http://fake.test/v1"  # remote: answers come whole, not streamed
REQ = ChatRequest(messages=[{"role": "user", "content": "Say hi."}], max_tokens=16)
REPAIR = ChatRequest(messages=[{"role": "user", "content": "Fix it."}], max_tokens=16)


class Endpoint:
    """Answers every chat request with "hi" and counts what it was sent."""

    def __init__(self) -> None:
        self.sent = 0

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.sent += 1
        return httpx2.Response(
            200,
            json={
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "created": 0,
                "model": "m",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "hi"},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
            },
        )


def _client(db: sqlite3.Connection, ep: Endpoint, misses: MissPolicy | None = None) -> LLMClient:
    async def no_sleep(seconds: float) -> None:
        pass

    return LLMClient(
        EndpointConfig(base_url=URL, model="m", max_attempts=1),
        "sk-test",
        ResponseCache(db),
        Capabilities(db, endpoint_host(URL), "m"),
        Budget(price=None),
        clock=Clock(now=lambda: 0.0, sleep=no_sleep),
        http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(ep)),
        misses=misses,
    )


def _queue(db: sqlite3.Connection) -> BatchQueue:
    return BatchQueue(BatchStore(db), BatchConfig(), lambda m: None)


def _chat(client: LLMClient, req: ChatRequest = REQ, followup: bool = False) -> str:
    return asyncio.run(client.chat(req, followup))[0].content


# --- fixed at construction ------------------------------------------------------------------


def test_a_client_is_online_unless_built_otherwise(db: sqlite3.Connection) -> None:
    ep = Endpoint()
    client = _client(db, ep)
    assert isinstance(client.misses, Online) and not client.misses.defers
    assert _chat(client) == "hi" and ep.sent == 1


def test_a_clients_miss_policy_cannot_be_swapped_after_it_is_built(
    db: sqlite3.Connection,
) -> None:
    client = _client(db, Endpoint(), Offline())
    with pytest.raises(AttributeError):
        client.misses = Online()  # type: ignore[misc]
    assert isinstance(client.misses, Offline)
    with pytest.raises(AttributeError):  # the simple policies are frozen too
        Offline().__setattr__("x", 1)


def _assigned_attributes(tree: ast.AST) -> Iterator[tuple[str, int]]:
    for node in ast.walk(tree):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        for t in targets:
            for sub in ast.walk(t):
                if isinstance(sub, ast.Attribute):
                    yield sub.attr, node.lineno
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "setattr":
            yield "setattr", node.lineno


def test_nothing_but_the_client_itself_sets_its_miss_policy() -> None:
    """No code reaches into a built client to change what its misses do (the old
    `client.deferral = ...`): the policy is an argument of the constructor only."""
    offenders = []
    for path in PKG.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for attr, line in _assigned_attributes(tree):
            name = f"{path.relative_to(PKG)}:{line}"
            if attr in ("misses", "deferral") or (attr == "_misses" and path.name != "client.py"):
                offenders.append(name)
    assert not offenders, offenders


# --- which policy a stage run's clients get -------------------------------------------------


def test_the_skeleton_picks_one_policy_per_run(db: sqlite3.Connection) -> None:
    q = _queue(db)
    assert isinstance(miss_policy(None, None, offline=False), Online)
    assert isinstance(miss_policy(None, None, offline=True), Offline)
    # Open batches from an earlier pass, no --batch: the queue only joins; misses go online.
    assert isinstance(miss_policy(q, None, offline=False), Online)
    batch = miss_policy(q, BatchMode(followups=True), offline=False)
    assert isinstance(batch, BatchMisses) and batch.queue is q and batch.followups
    assert not batch.defers  # a stage starts in its online phase


# --- what each policy does with a miss -------------------------------------------------------


def test_offline_sends_nothing_and_says_which_request_missed(db: sqlite3.Connection) -> None:
    ep = Endpoint()
    _chat(_client(db, ep))  # cached by an online run
    offline = _client(db, ep, Offline())
    assert _chat(offline) == "hi"  # replayed
    with pytest.raises(OfflineMiss, match="Fix it") as e:
        _chat(offline, REPAIR)
    assert isinstance(e.value, UsageError) and e.value.exit_code == 2
    assert ep.sent == 1


def test_batch_mode_is_online_until_the_stage_ends_its_online_phase(
    db: sqlite3.Connection,
) -> None:
    ep, q = Endpoint(), _queue(db)
    policy = BatchMisses(q)
    client = _client(db, ep, policy)
    assert _chat(client) == "hi" and ep.sent == 1  # the calibration: answered online
    policy.end_online_phase()
    assert client.misses is policy and client.misses.defers
    with pytest.raises(Deferred):
        _chat(client, REQ.model_copy(update={"seed": 1}))
    assert ep.sent == 1 and q.deferred == 1
    assert [ln.custom_id for ln in q.store.queued(client.endpoint, "m")] == [
        client.key(REQ.model_copy(update={"seed": 1}), 0)
    ]
    assert _chat(client) == "hi"  # a hit is a hit in every phase


@pytest.mark.parametrize("followups", [False, True])
def test_a_follow_up_waits_for_a_batch_only_when_told_to(
    db: sqlite3.Connection, followups: bool
) -> None:
    ep, q = Endpoint(), _queue(db)
    policy = BatchMisses(q, followups)
    policy.end_online_phase()
    client = _client(db, ep, policy)
    if followups:
        with pytest.raises(Deferred):
            _chat(client, REPAIR, followup=True)
        assert ep.sent == 0
    else:
        assert _chat(client, REPAIR, followup=True) == "hi"
        assert ep.sent == 1


# --- Status -----------------------------------------------------------------------------------


def test_every_status_has_an_exit_code_and_nothing_else_does() -> None:
    assert set(EXIT_BY_STATUS) == set(get_args(Status))
    assert EXIT_BY_STATUS["complete"] == EXIT_BY_STATUS["pending"] == 0


def test_a_summary_with_an_unknown_status_is_refused() -> None:
    fields: dict[str, Any] = {"command": "x", "exit_code": 0, "counts": {}}
    fields |= {"output": "o", "ledger": "l", "manifest": "m"}
    assert StageSummary(status="pending", **fields).status == "pending"
    with pytest.raises(ValueError):
        StageSummary(status="done", **fields)

"""The command's stop flag, with fakes: the first SIGINT or SIGTERM sets it and says so, the
second (or the grace running out) aborts; a client sends nothing once it is set, while a
cached answer still replays; the judge window and the expand engine end "interrupted" at the
first request not sent, after committing in order what was in flight."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
from pathlib import Path
from typing import Any

import httpx2
import pytest
from support.fakes import FakeClient, Reply, as_llm_client, tasks_reply

from synthgen.config import Config, EndpointConfig
from synthgen.core.runtime import run_cancellable
from synthgen.core.sink import Sink
from synthgen.errors import Interrupted
from synthgen.llm.cache import Capabilities, ResponseCache
from synthgen.llm.client import LLMClient
from synthgen.llm.cost import Budget
from synthgen.llm.limits import Clock
from synthgen.llm.stopping import StopFlag, Stopping
from synthgen.llm.types import ChatRequest
from synthgen.records import Seed
from synthgen.stages.expand.candidates import RunContext
from synthgen.stages.expand.engine import Expander, ExpandResult
from synthgen.stages.filter.window import JudgeWindow, WindowEnd

STOPPING = "stopping… (Ctrl-C again to abort)"
REQ = ChatRequest(messages=[{"role": "user", "content": "Say hi."}], max_tokens=16)
OTHER = ChatRequest(messages=[{"role": "user", "content": "Say bye."}], max_tokens=16)


# --- the flag and the signals ----------------------------------------------------------------


def test_the_flag_is_set_once_and_then_refuses() -> None:
    flag = StopFlag()
    flag.check()  # not set: a request may start
    assert flag.request() is True and flag.request() is False
    with pytest.raises(Stopping) as e:
        flag.check()
    assert isinstance(e.value, Interrupted) and e.value.exit_code == 130


async def _until(flag: StopFlag) -> None:
    """Yield to the loop (which runs the signal handlers) until the flag is set."""
    while not flag.requested:
        await asyncio.sleep(0)


@pytest.mark.timeout(10)
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_the_first_signal_sets_the_flag_and_says_so_once(sig: signal.Signals) -> None:
    said: list[str] = []
    flag = StopFlag()

    async def main() -> str:
        os.kill(os.getpid(), sig)
        await _until(flag)
        return "ended its own way"

    assert run_cancellable(main, flag, said.append) == "ended its own way"
    assert said == [STOPPING] and flag.requested and not flag.aborted


@pytest.mark.timeout(10)
@pytest.mark.parametrize("second", [signal.SIGINT, signal.SIGTERM])
def test_the_second_signal_aborts_at_once(second: signal.Signals) -> None:
    said: list[str] = []
    flag = StopFlag()

    async def main() -> None:
        os.kill(os.getpid(), signal.SIGINT)
        await _until(flag)
        os.kill(os.getpid(), second)
        await asyncio.Event().wait()  # what is in flight never lands: only an abort ends it

    with pytest.raises(KeyboardInterrupt):
        run_cancellable(main, flag, said.append)
    assert flag.aborted
    assert said[0] == STOPPING and said[1].startswith("aborted") and len(said) == 2


@pytest.mark.timeout(10)
def test_in_flight_work_past_the_grace_is_aborted() -> None:
    said: list[str] = []
    flag = StopFlag(grace_s=0.0)

    async def main() -> None:
        os.kill(os.getpid(), signal.SIGINT)
        await asyncio.Event().wait()

    with pytest.raises(KeyboardInterrupt):
        run_cancellable(main, flag, said.append)
    assert flag.aborted and said[0] == STOPPING and said[1].startswith("aborted")


# --- the client ------------------------------------------------------------------------------


def _completion(content: str) -> httpx2.Response:
    choice = {"index": 0, "message": {"role": "assistant", "content": content}}
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "fake-model",
        "choices": [{**choice, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
    }
    return httpx2.Response(200, json=body)


class Endpoint:
    """Answers every request after `fail_first` 500s; counts what it received."""

    def __init__(self, fail_first: int = 0) -> None:
        self.received: list[dict[str, Any]] = []
        self.fail_first = fail_first

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.received.append(json.loads(request.content))
        if len(self.received) <= self.fail_first:
            return httpx2.Response(500, json={"error": {"message": "busy"}})
        return _completion("hi")


def _client(
    db: sqlite3.Connection, endpoint: Endpoint, flag: StopFlag, clock: Clock | None = None
) -> LLMClient:
    cfg = EndpointConfig(base_url="http://fake.test/v1", model="fake-model", max_attempts=3)
    return LLMClient(
        cfg,
        "sk-test",
        ResponseCache(db),
        Capabilities(db, "fake.test", "fake-model"),
        Budget(price=None),
        clock=clock,
        http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(endpoint)),
        stopping=flag,
    )


def test_once_stopping_a_client_sends_nothing_but_replays_what_is_cached(
    db: sqlite3.Connection,
) -> None:
    endpoint, flag = Endpoint(), StopFlag()
    client = _client(db, endpoint, flag)
    asyncio.run(client.chat(REQ))
    flag.request()
    (again,) = asyncio.run(client.chat(REQ))
    assert again.cached and again.content == "hi"
    with pytest.raises(Stopping):
        asyncio.run(client.chat(OTHER))
    assert len(endpoint.received) == 1 and client.stats.sent == 1
    budget = client.budget  # nothing stays reserved for the request not sent
    assert budget.reserved_tokens == 0 and budget.outstanding == 0


def test_a_retry_due_after_the_flag_is_set_is_not_sent(db: sqlite3.Connection) -> None:
    endpoint, flag = Endpoint(fail_first=1), StopFlag()

    async def backoff(_seconds: float) -> None:
        flag.request()  # the signal comes while the failed request waits to be retried

    client = _client(db, endpoint, flag, Clock(sleep=backoff))
    with pytest.raises(Stopping):
        asyncio.run(client.chat(REQ))
    assert len(endpoint.received) == 1


# --- the judge window ------------------------------------------------------------------------


def test_the_window_ends_at_the_first_verdict_not_asked_after_what_was_in_flight() -> None:
    flag = StopFlag()
    landed: list[int] = []
    committed: list[tuple[int, str | None]] = []
    first = asyncio.Event()  # item 0's answer is in flight when the signal comes

    async def verdict(n: int) -> str:
        flag.check()  # a request that would start only now is not sent
        if n == 0:
            await first.wait()
        landed.append(n)
        return f"v{n}"

    def commit(n: int, v: str | None) -> None:
        committed.append((n, v))

    async def main() -> WindowEnd[int]:
        task = asyncio.create_task(JudgeWindow(verdict, commit, 3).run(iter(range(10))))
        while len(landed) < 2:
            await asyncio.sleep(0)
        flag.request()
        first.set()
        return await task

    end = asyncio.run(main())
    assert end.status == "interrupted" and isinstance(end.error, Stopping)
    assert landed == [1, 2, 0]
    assert committed == [(0, "v0"), (1, "v1"), (2, "v2")]
    assert end.uncommitted[0] == 3


# --- the expand engine ---------------------------------------------------------------------

SEEDS = [
    Seed(id=f"s{i}", instruction=f"human instruction {i}", output=f"out {i}") for i in range(4)
]


def test_expand_commits_in_order_what_was_in_flight_then_ends_interrupted(tmp_path: Path) -> None:
    flag = StopFlag()

    def script(req: ChatRequest, call: int) -> Reply:
        if flag.requested and call >= 2:
            return Stopping("not sent")  # job 2's request starts only after the signal
        return tasks_reply(f"task of call {call}")

    cfg = Config.model_validate({"generation": {"count": 3, "per_call": 1}})
    sink = Sink(tmp_path / "out.jsonl", tmp_path / "out.ledger.jsonl", False, False, limit=3)
    fake = FakeClient(script)
    ctx = RunContext("run", "cfg", "default", cfg.generation, "fake-model", "fake.test")
    expander = Expander(cfg, SEEDS, as_llm_client(fake), sink, ctx)
    in_flight, later = fake.hold(1), fake.hold(2)

    async def main() -> ExpandResult:
        task = asyncio.create_task(expander.run())
        await fake.until_returned(1)
        flag.request()
        later.set()
        await fake.until_returned(2)  # job 2 was not sent while job 1 was in flight
        in_flight.set()
        return await task

    result = asyncio.run(main())
    sink.close(finalise_files=True)
    assert result.status == "interrupted" and isinstance(result.error, Stopping)
    assert fake.returned == [0, 2, 1]
    lines = (tmp_path / "out.jsonl").read_text().splitlines()
    assert [json.loads(line)["instruction"] for line in lines] == [
        "task of call 0",
        "task of call 1",
    ]

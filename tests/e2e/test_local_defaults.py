"""A local endpoint given no concurrency starts from its server's own parallelism (llama.cpp's
GET /props says total_slots), else a small default, instead of 16 requests queueing behind a
few slots; the choice is a learned capability, said once, and a probe never fails a run."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import httpx2
import pytest
from support.helpers import expand_args, run

from synthgen.config import Config
from synthgen.core.runtime import make_client
from synthgen.core.store import open_state
from synthgen.llm.cache import Capabilities
from synthgen.llm.cost import Budget
from synthgen.llm.local import (
    DEFAULT_LOCAL_CONCURRENCY,
    local_concurrency,
    probe_slots,
    props_url,
)
from synthgen.llm.misses import Offline
from synthgen.standin import StandinHandle


def _props_requests(standin: StandinHandle) -> list[dict[str, Any]]:
    log: list[dict[str, Any]] = standin.stats()["log"]  # type: ignore[assignment]
    return [e for e in log if e["path"] == "/props"]


def test_props_url_is_beside_the_v1_api() -> None:
    assert props_url("http://127.0.0.1:8080/v1") == "http://127.0.0.1:8080/props"
    assert props_url("http://localhost:8080/v1/") == "http://localhost:8080/props"
    assert props_url("http://[::1]:9000/api/v1?x=1") == "http://[::1]:9000/api/props"
    assert props_url("http://127.0.0.1:8080") == "http://127.0.0.1:8080/props"


def _transport(answer: Any) -> httpx2.MockTransport:
    def handle(request: httpx2.Request) -> httpx2.Response:
        assert request.url.path == "/props"
        if isinstance(answer, Exception):
            raise answer
        status, body = answer
        return httpx2.Response(status, json=body)

    return httpx2.MockTransport(handle)


@pytest.mark.parametrize(
    ("answer", "slots", "why"),
    [
        ((200, {"total_slots": 2, "model_path": "m.gguf"}), 2, "2 slots (llama.cpp /props)"),
        ((200, {"total_slots": 1}), 1, "1 slot (llama.cpp /props)"),
        ((404, {"error": "not found"}), None, "/props answered HTTP 404"),
        ((200, {"model_path": "m.gguf"}), None, "/props gives no total_slots"),
        ((200, ["not", "an", "object"]), None, "/props gives no total_slots"),
        ((200, {"total_slots": "2"}), None, "/props gives no total_slots"),
        (httpx2.ReadTimeout("slow"), None, "no answer from /props (ReadTimeout)"),
    ],
)
def test_probe_reads_total_slots_and_never_raises(answer: Any, slots: int | None, why: str) -> None:
    assert probe_slots("http://127.0.0.1:1/v1", transport=_transport(answer)) == (slots, why)


def test_an_unreachable_server_gets_the_small_default(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nothing listens on: bound, never listening
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}/v1"
        caps = Capabilities(open_state(tmp_path), "127.0.0.1", "m")
        chosen = local_concurrency(caps, url)
    assert chosen.concurrency == DEFAULT_LOCAL_CONCURRENCY
    assert chosen.why == "no slot count (no answer from /props (ConnectError))"
    assert caps.get("concurrency", "") == str(DEFAULT_LOCAL_CONCURRENCY)


def test_server_slots_become_the_concurrency_and_are_remembered(tmp_path: Path) -> None:
    db = open_state(tmp_path)
    caps = Capabilities(db, "127.0.0.1:8080", "smollm2")
    llama = _transport((200, {"total_slots": 2}))
    chosen = local_concurrency(caps, "http://127.0.0.1:8080/v1", transport=llama)
    assert chosen.concurrency == 2
    assert chosen.message("127.0.0.1:8080") == (
        "local endpoint 127.0.0.1:8080: 2 slots (llama.cpp /props) → concurrency 2 "
        "(--concurrency N to choose)"
    )
    # The next run in this state dir asks nothing: its transport would fail the test.
    again = Capabilities(db, "127.0.0.1:8080", "smollm2")
    failing = _transport(AssertionError("probed again"))
    later = local_concurrency(again, "http://127.0.0.1:8080/v1", transport=failing)
    assert (later.concurrency, later.why) == (2, "learned on an earlier run")


def _client_cfg(base_url: str, **endpoint: Any) -> Config:
    return Config.model_validate({"endpoint": {"base_url": base_url, **endpoint}})


def test_make_client_applies_the_default_and_says_it_once_per_run(
    standin: StandinHandle, tmp_path: Path
) -> None:
    said: list[str] = []
    db = open_state(tmp_path)
    cfg = _client_cfg(standin.base_url)
    budget = Budget(None)
    gen = make_client(cfg, "k", db, budget, say=said.append)
    judge = make_client(cfg, "k", db, budget, "judge-model", say=said.append)
    host = gen.endpoint
    assert [gen.cfg.concurrency, judge.cfg.concurrency] == [DEFAULT_LOCAL_CONCURRENCY] * 2
    assert said == [
        f"local endpoint {host}: no slot count (/props answered HTTP 404) → concurrency 4 "
        "(--concurrency N to choose)"
    ]
    assert gen.caps.get("concurrency", "") == "4" == judge.caps.get("concurrency", "")
    assert len(_props_requests(standin)) == 2  # one per model: their capabilities are apart
    db.close()


def test_a_given_concurrency_or_a_remote_endpoint_is_left_alone(
    standin: StandinHandle, tmp_path: Path
) -> None:
    said: list[str] = []
    db, budget = open_state(tmp_path), Budget(None)
    given_cfg = _client_cfg(standin.base_url, concurrency=16)  # the default's value, but given
    given = make_client(given_cfg, "k", db, budget, say=said.append)
    remote_cfg = _client_cfg("https://api.example.com/v1")
    remote = make_client(remote_cfg, "k", db, budget, say=said.append)
    offline = make_client(_client_cfg(standin.base_url), "k", db, budget, misses=Offline())
    assert [c.cfg.concurrency for c in (given, remote, offline)] == [16, 16, 16]
    assert said == [] and _props_requests(standin) == []
    assert "concurrency" not in given.caps.values and "concurrency" not in remote.caps.values
    db.close()


def test_cli_records_the_choice_in_capabilities_and_a_rerun_sends_nothing(
    standin: StandinHandle, triage_seeds: Path, tmp_path: Path
) -> None:
    out = tmp_path / "raw.jsonl"
    args = expand_args(triage_seeds, out, standin.base_url, "-n", "6", "--json")
    first = run(args)
    assert first.code == 0, first.stderr
    assert first.json()["capabilities"]["concurrency"] == str(DEFAULT_LOCAL_CONCURRENCY)
    assert len(_props_requests(standin)) == 1
    sent = standin.stats()["requests_total"]
    second = run(args)  # replayed from the cache: not even a probe goes out
    assert second.code == 0 and second.json()["requests"]["sent"] == 0
    assert standin.stats()["requests_total"] == sent
    # The user's number rules, and the summary does not claim the earlier choice.
    other = expand_args(triage_seeds, tmp_path / "b.jsonl", standin.base_url, "-n", "6")
    third = run([*other, "--concurrency", "3", "--json"])
    assert third.code == 0 and "concurrency" not in third.json()["capabilities"]
    assert len(_props_requests(standin)) == 1

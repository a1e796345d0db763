"""The stand-in's answer settings are part of what its answers are cached under: another
judge_score asks again, a retried-past fault (429s, latency) does not, and a real server's
cache keys stay as they were."""

from __future__ import annotations

from pathlib import Path

import httpx2

from synthgen.core.store import open_state
from synthgen.llm.cache import Capabilities
from synthgen.llm.local import standin_answers
from synthgen.standin import StandinConfig, run_in_thread


def test_the_standin_says_what_decides_its_answers_and_the_state_remembers_it(
    tmp_path: Path,
) -> None:
    db = open_state(tmp_path / ".synthgen")
    with run_in_thread(StandinConfig(judge_score=2)) as s:
        caps = Capabilities(db, "127.0.0.1:1", "m")
        first = standin_answers(caps, s.base_url)
        assert first and standin_answers(caps, s.base_url) == first
        s.set_faults(p_429=0.5, latency_s=0.01)  # a client retries past these: same answers
        assert standin_answers(caps, s.base_url) == first
        s.set_faults(judge_score=5)
        second = standin_answers(caps, s.base_url)
        assert second and second != first
        assert s.stats()["log"] == []  # the probe is not one of the requests tests count
    # offline (or the stand-in gone): what this state dir learned last
    again = Capabilities(db, "127.0.0.1:1", "m")
    assert standin_answers(again, "http://127.0.0.1:1/v1", online=False) == second
    assert standin_answers(again, "http://127.0.0.1:1/v1") == second  # unreachable


def test_any_other_server_is_no_standin(tmp_path: Path) -> None:
    caps = Capabilities(open_state(tmp_path / ".synthgen"), "127.0.0.1:8080", "m")
    paths: list[str] = []

    def server(request: httpx2.Request) -> httpx2.Response:
        paths.append(request.url.path)
        return httpx2.Response(404, json={"error": "not found"})

    got = standin_answers(caps, "http://127.0.0.1:8080/v1", transport=httpx2.MockTransport(server))
    assert got == "" and paths == ["/_standin/identity"]

"""An endpoint nothing listens on (a closed port on 127.0.0.1): every command that sends
fails fast, exit 2, naming the URL and the fix; nothing counts as sent. Real HTTP, the real
SDK; the bound is on attempts (the summary's counts), not on wall-clock time."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from support.filter_fixtures import filter_args
from support.helpers import Ran, expand_args
from support.runs import run_cmd, synthgen, write_config

from synthgen.llm.policy import UNREACHABLE_ATTEMPTS

pytestmark = pytest.mark.timeout(60)
HINT = "is the server running? check --base-url / endpoint.base_url"
CONCURRENCY = 4


@pytest.fixture
def closed_url() -> str:
    """The URL of a port that was just free: bound, never listened on, closed."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def _fails_fast_naming(r: Ran, url: str) -> None:
    assert r.code == 2, r.stderr
    assert f"cannot connect to {url}: connection refused" in r.stderr
    assert HINT in r.stderr
    assert "Traceback" not in r.stderr and "APIConnectionError" not in r.stderr


def _nothing_sent(r: Ran) -> None:
    requests = r.json()["requests"]
    assert requests["sent"] == 0
    # each request in flight gets UNREACHABLE_ATTEMPTS quick tries, then everyone stops
    assert requests["retried"] <= CONCURRENCY * (UNREACHABLE_ATTEMPTS - 1)


def test_expand_stops_at_once_on_a_closed_port(
    closed_url: str, triage_seeds: Path, tmp_path: Path
) -> None:
    args = expand_args(triage_seeds, tmp_path / "raw.jsonl", closed_url, "-n", "60")
    r = synthgen(*args, "--concurrency", str(CONCURRENCY), "--json")
    _fails_fast_naming(r, closed_url)
    _nothing_sent(r)
    assert r.stderr.count("expand: starting") <= 1


def test_filter_stops_at_once_on_a_closed_port(
    closed_url: str, triage_seeds: Path, tmp_path: Path
) -> None:
    args = filter_args(triage_seeds, tmp_path / "kept.jsonl", closed_url)
    r = synthgen(*args, "--concurrency", str(CONCURRENCY), "--json")
    _fails_fast_naming(r, closed_url)
    _nothing_sent(r)


def test_run_stops_at_once_on_a_closed_port(closed_url: str, tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.yaml", tmp_path / "out", tmp_path / "state")
    r = synthgen(*run_cmd(config, closed_url))
    _fails_fast_naming(r, closed_url)

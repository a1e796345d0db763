"""127.0.0.1, localhost and ::1 are one host to the cache (the port is not), and a state
directory made before that, with the host as typed, still replays with nothing sent."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

import synthgen
from synthgen.core.store import m001_initial, migrate, open_state
from synthgen.llm import cache as cache_module
from synthgen.llm import client as client_module
from synthgen.llm.cache import Capabilities, request_key
from synthgen.records import sha256_hex
from synthgen.standin import StandinHandle


def old_request_key(endpoint: str, request_sha256: str, sample: int) -> str:
    """The key as synthgen made it before: the host as typed."""
    return sha256_hex(f"{endpoint}\n{request_sha256}\n{sample}")


@pytest.mark.parametrize("host", ["localhost:8080", "[::1]:8080", "0.0.0.0:8080", "LOCALHOST:8080"])
def test_loopback_spellings_share_a_key(host: str) -> None:
    assert request_key(host, "abc", 0) == request_key("127.0.0.1:8080", "abc", 0)
    assert request_key(host, "abc", 0) != request_key("127.0.0.1:8081", "abc", 0)
    assert request_key(host, "abc", 0) != request_key(host, "abc", 1)


def test_keys_of_other_hosts_are_as_before() -> None:
    for host in ("127.0.0.1:8080", "api.openai.com", "10.0.0.5:8000", "[2001:db8::1]:80"):
        assert request_key(host, "abc", 3) == old_request_key(host, "abc", 3)
    assert getattr(request_key("api.openai.com", "abc", 0), "spellings", ()) == ()


@pytest.fixture
def old_db() -> Iterator[sqlite3.Connection]:
    """A state database at the schema before the loopback migration."""
    db = sqlite3.connect(":memory:", isolation_level=None)
    db.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY)")
    m001_initial(db)
    db.execute("INSERT INTO _migrations VALUES ('m001_initial')")
    yield db
    db.close()


def test_learned_capabilities_move_to_the_one_loopback_host(old_db: sqlite3.Connection) -> None:
    for endpoint, value in (("localhost:8080", "json_object"), ("api.x.com", "prompted")):
        old_db.execute(
            "INSERT INTO capabilities VALUES (?, 'm', 'structured', ?, 'd', 't')", (endpoint, value)
        )
    migrate(old_db)
    for typed in ("localhost:8080", "127.0.0.1:8080", "[::1]:8080"):
        assert Capabilities(old_db, typed, "m").get("structured", "") == "json_object"
    assert Capabilities(old_db, "127.0.0.1:9090", "m").get("structured", "") == ""
    assert Capabilities(old_db, "api.x.com", "m").get("structured", "") == "prompted"


def test_a_state_dir_made_the_old_way_replays_with_nothing_sent(
    standin: StandinHandle,
    triage_seeds: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port = standin.base_url.rsplit(":", 1)[1].split("/")[0]
    state, out = tmp_path / "state", tmp_path / "raw.jsonl"
    localhost = f"http://localhost:{port}/v1"
    with monkeypatch.context() as m:
        # As before this change: keys, rows and capabilities with the host as typed.
        m.setattr(client_module, "request_key", old_request_key)
        m.setattr(cache_module, "canonical_host", lambda endpoint: endpoint)
        first = synthgen.expand(
            triage_seeds, count=10, output=out, base_url=localhost, state_dir=state
        )
    assert first.exit_code == 0 and first.requests.sent > 0
    db = open_state(state)
    stored = {str(k) for (k,) in db.execute("SELECT key FROM responses")}
    db.close()
    standin.reset()
    for url in (f"http://127.0.0.1:{port}/v1", localhost):
        again = synthgen.expand(triage_seeds, count=10, output=out, base_url=url, state_dir=state)
        assert again.exit_code == 0 and again.requests.sent == 0
        assert again.requests.cached == first.requests.sent
    log = standin.stats()["log"]
    assert isinstance(log, list) and not [e for e in log if e["path"] == "/v1/chat/completions"]
    db = open_state(state)
    now = {str(k) for (k,) in db.execute("SELECT key FROM responses")}
    db.close()
    assert len(now) == len(stored) and not stored & now  # each moved to its new key
    db = open_state(state)
    hosts = {str(e) for (e,) in db.execute("SELECT DISTINCT endpoint FROM responses")}
    db.close()
    assert hosts == {f"127.0.0.1:{port}"}

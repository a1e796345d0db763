"""What resume tests watch: lines written so far, requests the stand-in received."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

from synthgen.standin import StandinHandle


def _wait_lines(path: Path, n: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_bytes().count(b"\n") >= n:
            return
        time.sleep(0.01)
    raise AssertionError(f"{path} never reached {n} lines")


def _received_seqs(state_dir: Path) -> set[int]:
    """Stand-in sequence numbers of every answer the client received and cached."""
    db = sqlite3.connect(state_dir / "state.db")
    seqs = set()
    for (body,) in db.execute("SELECT body FROM responses"):
        rid = json.loads(body)["request_id"]
        seqs.add(int(rid.rsplit("_", 1)[1]))
    return seqs


def _log(standin: StandinHandle) -> list[dict]:  # type: ignore[type-arg]
    return list(standin.stats()["log"])  # type: ignore[call-overload]

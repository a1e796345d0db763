"""What resume tests watch: lines written so far, requests the stand-in received, answers
the client cached (through synthgen's public read of a state dir, never raw SQL)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from synthgen.core.store import cached_answers
from synthgen.standin import StandinHandle


def wait_lines(path: Path, n: int, timeout: float = 20.0) -> None:
    """Wait until `path` holds at least `n` lines (polling a file, not sleeping a margin)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_bytes().count(b"\n") >= n:
            return
        time.sleep(0.01)
    raise AssertionError(f"{path} never reached {n} lines")


def received_seqs(state_dir: Path) -> set[int]:
    """Stand-in sequence numbers of every answer the client received and cached."""
    ids = cached_answers(state_dir).request_ids
    return {int(rid.rsplit("_", 1)[1]) for rid in ids if rid is not None}


def standin_log(standin: StandinHandle) -> list[dict[str, Any]]:
    """The stand-in's request log, oldest first."""
    log = standin.stats()["log"]
    assert isinstance(log, list)
    return log

"""Batch mode survives kill -9 at every step: no file uploaded twice, no batch created twice,
no line lost, no answered line paid again.

The stand-in's `batch_hold` fault does a step (stores the file, creates the batch, serves a
poll or an output file) but holds its answer; the test kills synthgen while it waits for it,
then lets the step finish, as a server does when its client has gone.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest
from support.helpers import expand_args, read_jsonl, run, spawn, wait_until

from synthgen.standin import StandinHandle

SEEDS = Path(__file__).resolve().parents[2] / "seeds" / "support_triage.jsonl"


def _args(standin: StandinHandle, tmp: Path, *extra: str) -> list[str]:
    cfg = tmp / "batch.yaml"
    cfg.write_text("batch:\n  poll_s: 0\n")
    out = tmp / "raw.jsonl"
    return expand_args(
        SEEDS, out, standin.base_url, "-n", "24", "--per-call", "2", "--machine-examples", "0",
        "--batch", "--config", str(cfg), *extra,
    )  # fmt: skip


def _held(standin: StandinHandle, step: str) -> bool:
    return bool(_stats(standin)["held"].get(step))


def _kill_while_held(standin: StandinHandle, tmp: Path, step: str, *extra: str) -> None:
    """Run the command in its own process; kill -9 it while the endpoint holds `step`."""
    standin.set_faults(batch_hold=step)
    proc = spawn(_args(standin, tmp, *extra), cwd=tmp)
    try:
        wait_until(lambda: _held(standin, step), timeout=60, what=f"the held {step}")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    standin.set_faults(batch_hold=None)  # the step ends as if the client had simply gone


def _again(standin: StandinHandle, tmp: Path, *extra: str) -> dict[str, Any]:
    r = run([*_args(standin, tmp, *extra), "--json"])
    assert r.code == 0, r.stderr
    return r.json()


def _stats(standin: StandinHandle) -> dict[str, Any]:
    stats: dict[str, Any] = standin.stats()["batch"]  # type: ignore[assignment]
    return stats


def _finished(standin: StandinHandle, tmp: Path) -> None:
    """The job ends complete: every record once, every line answered once, none online."""
    s = _again(standin, tmp, "--wait")
    assert (s["status"], s["counts"]["written"]) == ("complete", 24)
    records = read_jsonl(tmp / "raw.jsonl")
    assert len(records) == 24 == len({r["id"] for r in records})
    stats = _stats(standin)
    assert len(stats["line_answers"]) == 12 and set(stats["line_answers"].values()) == {1}
    log: list[dict[str, Any]] = standin.stats()["log"]  # type: ignore[assignment]
    assert not [e for e in log if e["path"] == "/v1/chat/completions"]


@pytest.mark.parametrize("step", ["upload", "create"])
def test_killed_while_submitting_the_rerun_adopts_what_was_made(
    standin: StandinHandle, tmp_path: Path, step: str
) -> None:
    _kill_while_held(standin, tmp_path, step)
    s = _again(standin, tmp_path)
    assert s["status"] == "pending"
    stats = _stats(standin)
    assert (stats["files_uploaded"], stats["batches_created"]) == (1, 1)
    _finished(standin, tmp_path)
    assert (_stats(standin)["files_uploaded"], _stats(standin)["batches_created"]) == (1, 1)


def test_killed_while_waiting_for_the_batch(standin: StandinHandle, tmp_path: Path) -> None:
    standin.set_faults(batch_polls=3)
    _kill_while_held(standin, tmp_path, "retrieve", "--wait")
    _finished(standin, tmp_path)
    assert _stats(standin)["batches_created"] == 1


def test_killed_during_the_join(standin: StandinHandle, tmp_path: Path) -> None:
    assert _again(standin, tmp_path)["status"] == "pending"
    _kill_while_held(standin, tmp_path, "content")  # the next pass downloads the answers
    _finished(standin, tmp_path)
    assert _stats(standin)["batches_created"] == 1


def test_an_upload_cut_midway_is_sent_again_once(standin: StandinHandle, tmp_path: Path) -> None:
    standin.set_faults(upload_fail_first=1, upload_lost_reply_first=1)
    s = _again(standin, tmp_path)
    assert s["status"] == "pending"
    stats = _stats(standin)
    # the first upload was cut (nothing stored), the second stored but its answer lost: it is
    # found by its file name, not uploaded a third time
    assert (stats["uploads_failed"], stats["uploads_reply_lost"]) == (1, 1)
    assert (stats["files_uploaded"], stats["batches_created"]) == (1, 1)
    _finished(standin, tmp_path)

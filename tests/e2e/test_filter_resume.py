"""`filter` after kill -9, SIGTERM and Ctrl-C: the same command finishes without re-judging."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
from support.filter_fixtures import alpaca_rows, filter_args, write_jsonl
from support.helpers import read_jsonl, run, spawn
from support.resume import received_seqs, standin_log, wait_lines

from synthgen.standin import StandinHandle


def test_kill_9_then_rerun_judges_nothing_twice(standin: StandinHandle, tmp_path: Path) -> None:
    # slow enough that a loaded machine cannot finish the run before the kill lands
    standin.set_faults(latency_s=0.1, judge_score=5, judge_low_marker="LOWQ")
    inp = write_jsonl(tmp_path / "in.jsonl", alpaca_rows(120, marker_every=5))
    out = tmp_path / "kept.jsonl"
    args = filter_args(inp, out, standin.base_url, "--concurrency", "3")
    proc = spawn(args, tmp_path)
    wait_lines(tmp_path / "kept.jsonl.partial", 20)
    proc.kill()  # SIGKILL: no cleanup of any kind
    proc.wait()
    assert not out.exists()
    first = standin_log(standin)
    body_of = {e["seq"]: e["body_sha256"] for e in first if e["status"] == 200}
    received = received_seqs(tmp_path / ".synthgen")
    assert 20 <= len(received) < 120
    judged_before = {body_of[s] for s in received}
    with (tmp_path / "kept.jsonl.partial").open("ab") as fh:
        fh.write(b'{"id": "sg_torn", "instru')  # a line torn by the crash

    standin.set_faults(latency_s=0.0)
    again = run([*args, "--json"])
    assert again.code == 0, again.stderr
    s = again.json()
    assert s["resumed"] is True
    second = [e for e in standin_log(standin) if e["seq"] > max(e["seq"] for e in first)]
    resent = {e["body_sha256"] for e in second} & judged_before
    assert not resent, f"{len(resent)} judged records were sent to the judge again"
    assert s["requests"]["cached"] >= len(received)
    assert s["requests"]["sent"] + s["requests"]["cached"] == 120
    kept = read_jsonl(out)
    ledger = read_jsonl(tmp_path / "kept.ledger.jsonl")
    assert len(kept) == 96 and len({k["id"] for k in kept}) == 96
    assert len(ledger) == 24 and len({e["id"] for e in ledger}) == 24
    assert s["counts"]["kept"] == 96 and s["counts"]["dropped_total"] == 24
    assert s["counts"]["input"] == 120 and s["counts"]["unprocessed"] == 0
    manifest = json.loads((tmp_path / "kept.manifest.json").read_text())
    assert manifest["counts"] == s["counts"] and manifest["status"] == "complete"
    # Same records, same order as a run that was never interrupted.
    expected = [r["instruction"] for i, r in enumerate(alpaca_rows(120)) if i % 5]
    assert [k["instruction"] for k in kept] == expected


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_sigterm_and_ctrl_c_exit_130_then_resume(
    standin: StandinHandle, tmp_path: Path, sig: signal.Signals
) -> None:
    standin.set_faults(latency_s=0.1, judge_score=4)
    inp = write_jsonl(tmp_path / "in.jsonl", alpaca_rows(100))
    out = tmp_path / "kept.jsonl"
    args = filter_args(inp, out, standin.base_url, "--concurrency", "2")
    proc = spawn(args, tmp_path)
    wait_lines(tmp_path / "kept.jsonl.partial", 10)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "resume" in err
    manifest = json.loads((tmp_path / "kept.manifest.json").read_text())
    assert manifest["status"] == "interrupted"
    c = manifest["counts"]
    assert c["kept"] + c["dropped_total"] == c["input"] and 10 <= c["input"] < 100
    done = read_jsonl(out)
    standin.set_faults(latency_s=0.0)
    r = run([*args, "--json"])
    assert r.code == 0
    kept = read_jsonl(out)
    assert len(kept) == 100 and [k["id"] for k in kept[: len(done)]] == [k["id"] for k in done]

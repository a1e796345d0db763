"""Nothing lost, nothing doubled: kill -9, Ctrl-C and budget stops, then the same command."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
from support.helpers import expand_args, read_jsonl, run, spawn
from support.resume import received_seqs, standin_log, wait_lines

from synthgen.standin import StandinHandle


def _stop_mid_run(
    standin: StandinHandle, seeds: Path, out: Path, sig: int, after_lines: int
) -> tuple[list[str], int, str]:
    """Start a 150-record expand, send `sig` once `after_lines` records are written."""
    standin.set_faults(latency_s=0.05)
    args = expand_args(seeds, out, standin.base_url, "-n", "150", "--concurrency", "2")
    proc = spawn(args, out.parent)
    wait_lines(out.parent / (out.name + ".partial"), after_lines)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=30)
    return args, proc.returncode, err


def _check_dataset(out: Path, n: int) -> list[dict]:  # type: ignore[type-arg]
    recs = read_jsonl(out)
    ids = [r["id"] for r in recs]
    assert len(recs) == n, f"expected exactly {n} records, got {len(recs)}"
    assert len(set(ids)) == n, "duplicate ids"
    return recs


def test_kill_9_then_rerun_finishes_exactly_without_repaying(
    standin: StandinHandle, triage_seeds: Path, tmp_path: Path
) -> None:
    standin.set_faults(latency_s=0.05)
    out = tmp_path / "raw.jsonl"
    args = expand_args(triage_seeds, out, standin.base_url, "-n", "150", "--concurrency", "3")
    proc = spawn(args, tmp_path)
    wait_lines(tmp_path / "raw.jsonl.partial", 40)
    proc.kill()  # SIGKILL: no cleanup of any kind
    proc.wait()
    assert not out.exists()
    first_log = standin_log(standin)
    received = received_seqs(tmp_path / ".synthgen")
    assert received, "the killed run had cached answers"
    body_of = {e["seq"]: e["body_sha256"] for e in first_log if e["status"] == 200}
    paid_and_received = {body_of[s] for s in received}
    # Tear the last line as a crash mid-write would.
    partial = tmp_path / "raw.jsonl.partial"
    with partial.open("ab") as fh:
        fh.write(b'{"id": "sg_torn", "instru')

    again = run([*args, "--json"])
    assert again.code == 0, again.stderr
    assert again.json()["resumed"] is True
    recs = _check_dataset(out, 150)
    assert "sg_torn" not in {r["id"] for r in recs}
    second = [e for e in standin_log(standin) if e["seq"] > max(e["seq"] for e in first_log)]
    resent = {e["body_sha256"] for e in second} & paid_and_received
    assert not resent, f"{len(resent)} answered requests were sent again"
    assert again.json()["requests"]["cached"] >= len(received)
    # One run id across the attempts: the dataset is one job.
    assert len({r["provenance"]["run_id"] for r in recs}) == 1


def test_kill_9_result_equals_uninterrupted_run(
    standin: StandinHandle, triage_seeds: Path, tmp_path: Path
) -> None:
    standin.set_faults(latency_s=0.05)
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    args_a = expand_args(
        triage_seeds, a / "raw.jsonl", standin.base_url, "-n", "120", "--concurrency", "2"
    )
    proc = spawn(args_a, a)
    wait_lines(a / "raw.jsonl.partial", 25)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert run(args_a).code == 0
    standin.set_faults(latency_s=0.0)
    assert run(expand_args(triage_seeds, b / "raw.jsonl", standin.base_url, "-n", "120")).code == 0
    ids_a = [r["id"] for r in read_jsonl(a / "raw.jsonl")]
    ids_b = [r["id"] for r in read_jsonl(b / "raw.jsonl")]
    assert ids_a == ids_b


def test_ctrl_c_exits_130_writes_what_is_done_then_resumes(
    standin: StandinHandle, triage_seeds: Path, tmp_path: Path
) -> None:
    out = tmp_path / "raw.jsonl"
    args, code, err = _stop_mid_run(standin, triage_seeds, out, signal.SIGINT, 20)
    assert code == 130, err
    assert "Traceback" not in err
    assert "resume" in err
    done = read_jsonl(out)
    assert 20 <= len(done) < 150
    manifest = json.loads((tmp_path / "raw.manifest.json").read_text())
    assert manifest["status"] == "interrupted" and manifest["exit_code"] == 130
    again = run([*args, "--json"])
    assert again.code == 0, again.stderr
    recs = _check_dataset(out, 150)
    assert [r["id"] for r in recs[: len(done)]] == [r["id"] for r in done]


def test_token_budget_stops_with_3_then_resumes(
    standin: StandinHandle, triage_seeds: Path, tmp_path: Path
) -> None:
    out = tmp_path / "raw.jsonl"
    base = expand_args(
        triage_seeds, out, standin.base_url, "-n", "60", "--concurrency", "1", "--json"
    )
    # Each call reserves ~900 prompt + 2048 max tokens: a cap of 12000 allows a few calls.
    r = run([*base, "--max-tokens", "12000"])
    assert r.code == 3, r.stderr
    s = r.json()
    assert s["status"] == "stopped_budget"
    assert "--max-tokens" in r.stderr
    partial_count = len(read_jsonl(out))
    assert 0 < partial_count < 60
    assert _tokens(s) <= 12000
    # The same cap again: replayed answers count towards it, so the job as a whole never
    # passes the cap (reservations freed by the first stop may admit a call or two more).
    r = run([*base, "--max-tokens", "12000"])
    assert r.code == 3 and _tokens(r.json()) <= 12000
    assert r.json()["requests"]["cached"] == s["requests"]["sent"]
    assert len(read_jsonl(out)) >= partial_count
    sent_before = r.json()["requests"]["sent"] + r.json()["requests"]["cached"]
    # A higher cap continues where it stopped.
    r = run([*base, "--max-tokens", "1000000"])
    assert r.code == 0, r.stderr
    assert r.json()["requests"]["cached"] == sent_before
    _check_dataset(out, 60)


def test_cost_budget_with_configured_price(
    standin: StandinHandle, triage_seeds: Path, tmp_path: Path
) -> None:
    cfg = tmp_path / "prices.yaml"
    cfg.write_text("prices:\n  standin-fake: {input: 1000.0, output: 2000.0}\n")
    out = tmp_path / "raw.jsonl"
    args = [
        *expand_args(
            triage_seeds, out, standin.base_url, "-n", "50", "--concurrency", "1", "--json"
        ),
        "--config",
        str(cfg),
    ]
    r = run([*args, "--max-cost-usd", "8"])
    assert r.code == 3, r.stderr
    s = r.json()
    assert 0 < s["cost_usd"] <= 8
    manifest = json.loads((tmp_path / "raw.manifest.json").read_text())
    assert manifest["budget"]["stopped_by"] == "max_cost_usd"
    r = run([*args, "--max-cost-usd", "500"])
    assert r.code == 0
    s2 = r.json()
    assert s2["cost_usd"] > s["cost_usd"]
    assert s2["cost_usd_this_run"] == pytest.approx(s2["cost_usd"] - s["cost_usd"], rel=1e-6)
    _check_dataset(out, 50)


def _tokens(summary: dict) -> int:  # type: ignore[type-arg]
    return int(summary["usage"]["prompt_tokens"] + summary["usage"]["completion_tokens"])


def test_sigterm_stops_cleanly_like_ctrl_c(
    standin: StandinHandle, triage_seeds: Path, tmp_path: Path
) -> None:
    out = tmp_path / "raw.jsonl"
    args, code, err = _stop_mid_run(standin, triage_seeds, out, signal.SIGTERM, 10)
    assert code == 130, err
    assert json.loads((tmp_path / "raw.manifest.json").read_text())["status"] == "interrupted"
    assert run(args).code == 0
    _check_dataset(out, 150)

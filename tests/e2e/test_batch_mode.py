"""Batch mode over real HTTP: the openai client against the stand-in's Files and Batches API.

The stand-in advances a batch only when it is retrieved, so nothing here waits on a clock.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support.helpers import read_jsonl, run

import synthgen
from synthgen.core.store import open_state
from synthgen.llm.batchstore import BatchStore
from synthgen.standin import StandinHandle

SEEDS = Path(__file__).resolve().parents[2] / "seeds" / "support_triage.jsonl"


def config(tmp: Path, **batch: Any) -> Path:
    """A config with batch settings for tests: no pause between polls."""
    path = tmp / "batch.yaml"
    lines = ["batch:", "  poll_s: 0"] + [f"  {k}: {v}" for k, v in batch.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def expand(standin: StandinHandle, tmp: Path, out: str = "raw.jsonl", **kw: Any) -> Any:
    args: dict[str, Any] = {
        "output": tmp / out,
        "count": 24,
        "per_call": 2,
        "machine_examples": 0,
        "base_url": standin.base_url,
        "model": "standin-fake",
        "state_dir": tmp / "state",
        "batch": True,
        **kw,
    }
    return synthgen.expand(SEEDS, **args)


def chat_requests(standin: StandinHandle) -> int:
    log: list[dict[str, Any]] = standin.stats()["log"]  # type: ignore[assignment]
    return sum(1 for e in log if e["path"] == "/v1/chat/completions")


def batch_stats(standin: StandinHandle) -> dict[str, Any]:
    stats: dict[str, Any] = standin.stats()["batch"]  # type: ignore[assignment]
    return stats


def comparable(path: Path) -> list[dict[str, Any]]:
    """Records without what names the run that wrote them (its id and time)."""
    out = []
    for r in read_jsonl(path):
        prov = {k: v for k, v in r["provenance"].items() if k not in ("run_id", "created_at")}
        out.append({**r, "provenance": prov})
    return out


def test_a_job_split_into_batches_finishes_from_the_cache_as_online(
    standin: StandinHandle, tmp_path: Path
) -> None:
    cfg = config(tmp_path, max_lines=4)
    first = expand(standin, tmp_path, config=cfg)
    assert (first.status, first.exit_code) == ("pending", 0)
    b = first.details["batch"]
    assert b["waiting"] == 12 and len(b["submitted"]) == 3  # 12 calls, 4 per input file
    assert batch_stats(standin)["batches_created"] == 3
    assert chat_requests(standin) == 0  # nothing went online
    assert not (tmp_path / "raw.jsonl").exists() or not read_jsonl(tmp_path / "raw.jsonl")

    second = expand(standin, tmp_path, config=cfg)
    assert (second.status, second.exit_code) == ("complete", 0)
    assert second.counts["written"] == 24 and second.requests.sent == 0
    assert second.details["batch"]["joined"] == 3
    stats = batch_stats(standin)
    assert stats["files_uploaded"] == 3 and set(stats["line_answers"].values()) == {1}

    # The same command online, into another file, replays the cache: the same records.
    online = expand(standin, tmp_path, out="online.jsonl", batch=False)
    assert online.requests.sent == 0 and online.requests.cached == 12
    assert comparable(tmp_path / "raw.jsonl") == comparable(tmp_path / "online.jsonl")
    assert {r["provenance"]["generator"]["request_id"] for r in read_jsonl(tmp_path / "raw.jsonl")}
    assert chat_requests(standin) == 0


def test_failed_and_expired_lines_are_sent_again_until_answered(
    standin: StandinHandle, tmp_path: Path
) -> None:
    standin.set_faults(batch_fail_lines=0.3, batch_expire_lines=0.2, batch_polls=2)
    s = expand(standin, tmp_path, config=config(tmp_path, max_attempts=10), wait=True)
    assert (s.status, s.counts["written"]) == ("complete", 24)
    stats = batch_stats(standin)
    assert stats["lines_failed"] > 0 and stats["lines_expired"] > 0
    assert stats["batches_created"] > 1  # the failed lines went into later batches
    assert set(stats["line_answers"].values()) == {1}  # no answered line asked again
    assert s.details["batch"]["lines"] == {"answered": 12}
    assert chat_requests(standin) == 0


def test_lines_that_keep_failing_go_online_as_a_last_resort(
    standin: StandinHandle, tmp_path: Path
) -> None:
    standin.set_faults(batch_fail_lines=1.0)
    s = expand(standin, tmp_path, config=config(tmp_path, max_attempts=2), wait=True)
    assert (s.status, s.counts["written"]) == ("complete", 24)
    assert s.details["batch"]["lines"] == {"failed": 12}
    assert batch_stats(standin)["batches_created"] == 2  # two submissions, then online
    assert chat_requests(standin) == 12


def test_a_batch_that_expires_whole_keeps_its_partial_output(
    standin: StandinHandle, tmp_path: Path
) -> None:
    standin.set_faults(batch_expire=True, batch_lines_per_poll=5, batch_polls=2)
    first = expand(standin, tmp_path, config=config(tmp_path))
    assert first.status == "pending"
    state = ["--state-dir", str(tmp_path / "state")]
    assert run(["batch", "status", *state]).code == 0  # poll 1: 5 lines done
    (row,) = run(["batch", "status", *state, "--json"]).json()["batches"]  # poll 2: expired
    assert (row["status"], row["completed"], row["failed"]) == ("expired", 5, 7)
    standin.set_faults(batch_expire=False)  # the resubmitted rest completes
    s = expand(standin, tmp_path, config=config(tmp_path), wait=True)
    assert (s.status, s.counts["written"]) == ("complete", 24)
    stats = batch_stats(standin)
    assert stats["batches_created"] == 2 and stats["lines_answered"] == 12
    assert set(stats["line_answers"].values()) == {1}  # the 5 done were kept, not asked again


def test_filter_calibrates_online_then_batches_the_verdicts(
    standin: StandinHandle, tmp_path: Path
) -> None:
    raw = tmp_path / "raw.jsonl"
    assert expand(standin, tmp_path, batch=False).status == "complete"
    standin.set_faults(judge_score=4)  # a judge that passes the human seeds
    before = chat_requests(standin)
    kw: dict[str, Any] = {
        "base_url": standin.base_url,
        "model": "standin-fake",
        "state_dir": tmp_path / "state",
        "seeds": [SEEDS],
    }
    first = synthgen.filter(raw, output=tmp_path / "kept.jsonl", batch=True, **kw)
    assert first.status == "pending"
    assert chat_requests(standin) - before == 25  # the 25 human seeds, judged online first
    second = synthgen.filter(raw, output=tmp_path / "kept.jsonl", batch=True, **kw)
    assert second.status == "complete" and second.counts["input"] == 24
    assert chat_requests(standin) - before == 25
    again = synthgen.filter(raw, output=tmp_path / "online.jsonl", **kw)
    assert again.requests.sent == 0
    assert comparable(tmp_path / "kept.jsonl") == comparable(tmp_path / "online.jsonl")


def test_status_and_cancel_keep_what_completed_and_online_finishes_the_rest(
    standin: StandinHandle, tmp_path: Path
) -> None:
    standin.set_faults(batch_polls=50, batch_lines_per_poll=4)
    assert expand(standin, tmp_path).status == "pending"
    state = ["--state-dir", str(tmp_path / "state")]
    status = run(["batch", "status", *state, "--json"])
    assert status.code == 0, status.stderr
    (row,) = status.json()["batches"]
    assert row["status"] == "in_progress" and row["requests"] == 12 and row["completed"] == 4
    text = run(["batch", "status", *state, "--no-refresh"])
    assert "in_progress · 4/12 completed" in text.stderr

    cancel = run(["batch", "cancel", *state, "--json"])
    assert cancel.code == 0, cancel.stderr
    (row,) = cancel.json()["batches"]
    assert (row["status"], row["state"]) == ("cancelled", "joined")
    assert cancel.json()["requests"] == {"answered": 4, "queued": 8}

    s = expand(standin, tmp_path, batch=False)  # the rest online; the 4 answered are cached
    assert (s.status, s.counts["written"]) == ("complete", 24)
    assert (s.requests.sent, s.requests.cached) == (8, 4)
    assert chat_requests(standin) == 8


def test_the_budget_reserves_each_batch_worst_case(standin: StandinHandle, tmp_path: Path) -> None:
    cfg = tmp_path / "priced.yaml"
    cfg.write_text("prices:\n  standin-fake: {input: 10000, output: 10000}\nbatch:\n  poll_s: 0\n")
    dry = run(
        ["expand", str(SEEDS), "-n", "24", "--per-call", "2", "--model", "standin-fake",
         "--config", str(cfg), "-o", str(tmp_path / "dry.jsonl"), "--dry-run", "--json"]
    )  # fmt: skip
    plan = dry.json()
    assert plan["batch_cost_usd"] == pytest.approx(plan["cost_usd"] / 2, abs=1e-4)

    s = expand(standin, tmp_path, config=cfg, max_cost_usd=0.001)
    assert (s.status, s.exit_code) == ("stopped_budget", 3)
    assert s.details["batch"]["held_back_by_budget"] == 12
    assert batch_stats(standin)["batches_created"] == 0
    s = expand(standin, tmp_path, config=cfg, max_cost_usd=1000, wait=True)
    assert s.status == "complete" and 0 < s.cost_usd <= 1000
    rows = json.loads(run(["batch", "status", "--state-dir", str(tmp_path / "state"),
                           "--json"]).stdout)["batches"]  # fmt: skip
    assert all(r["worst_cost_usd"] >= 0 for r in rows)


def test_run_reaches_its_target_through_batches_with_the_online_records(tmp_path: Path) -> None:
    from support.runs import check_run_dir, per_answer_masked, run_cmd, standin, synthgen
    from support.runs import write_config as run_config

    changes = {"batch.poll_s": 0, "generation.machine_examples": 0, "target.count": 20}
    with standin() as s:
        cfg = run_config(tmp_path / "run.yaml", tmp_path / "run", tmp_path / "st", changes)
        first = synthgen(*run_cmd(cfg, s.base_url, "--batch", "--json"))
        assert first.code == 0, first.stderr
        assert first.json()["status"] == "pending"  # the judge's calibration ran online
        done = synthgen(*run_cmd(cfg, s.base_url, "--batch", "--wait", "--json"))
        assert done.code == 0, done.stderr
        summary = done.json()
        assert summary["status"] == "complete" and summary["batch"]["waiting"] == 0
        check_run_dir(tmp_path / "run", 20)
        stats = batch_stats(s)
        assert stats["batches_created"] >= 2 and set(stats["line_answers"].values()) == {1}
        chat = chat_requests(s)
        assert chat == 25  # only the calibration on the 25 human seeds went online

        # The same config online, from the same cache, in another run dir: the same bytes.
        online = run_config(tmp_path / "online.yaml", tmp_path / "online", tmp_path / "st", changes)
        again = synthgen(*run_cmd(online, s.base_url, "--json"))
        assert again.code == 0 and again.json()["requests"]["sent"] == 0
        assert chat_requests(s) == chat
    assert per_answer_masked(tmp_path / "run" / "data.jsonl") == per_answer_masked(
        tmp_path / "online" / "data.jsonl"
    )


@pytest.mark.parametrize("batch_repairs", [False, True])
def test_repairs_go_online_unless_batched_too(
    standin: StandinHandle, tmp_path: Path, batch_repairs: bool
) -> None:
    # Most answers need the repair re-ask (the stand-in draws the faults from each request).
    standin.set_faults(p_malformed=0.7)
    s = expand(standin, tmp_path, config=config(tmp_path), wait=True, batch_repairs=batch_repairs)
    assert s.status == "complete"
    # A repair re-ask shows the model its bad reply: an assistant turn in the request. Every
    # generation request went into a batch, so a request sent online is a re-ask too.
    db = open_state(tmp_path / "state")
    store = BatchStore(db)
    bodies = [line.body for c in store.chunks() for line in store.chunk_lines(c.id)]
    db.close()
    batched_repairs = [b for b in bodies if any(m["role"] == "assistant" for m in b["messages"])]
    if batch_repairs:  # every re-ask waited for a follow-up batch
        assert chat_requests(standin) == 0 and batched_repairs
    else:  # the re-asks were sent online by the pass that read the batch's answers
        assert chat_requests(standin) > 0 and not batched_repairs

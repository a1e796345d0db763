"""`run`'s generation window and its keep-rate floor, over real HTTP against the stand-in:
rounds of at most one window, a surplus at N of at most concurrency × per_call, and a run
that keeps nothing (K = 3 responses, a judge that scores every response alike) stopping on
its own."""

from __future__ import annotations

from pathlib import Path

from support.runs import (
    complete_run,
    ledger_counts,
    manifest,
    run_cmd,
    standin,
    synthgen,
    write_config,
)

from synthgen.pipeline.rounds import FLOOR_AFTER, FLOOR_RATE
from synthgen.standin import StandinConfig, run_in_thread


def test_a_judge_that_scores_everything_alike_stops_the_run_on_the_floor(tmp_path: Path) -> None:
    concurrency, per_call = 4, 5
    changes = {
        "gates": {},  # no gate configured: the floor applies
        "generation.responses_per_instruction": 3,
        "generation.per_call": per_call,
        "endpoint.concurrency": concurrency,
        "target.count": 30,
        "outputs.formats": [],
    }
    cfg = write_config(tmp_path / "run.yaml", tmp_path / "run", tmp_path / "st", changes)
    with run_in_thread(StandinConfig(judge_score=4)) as s:  # passes the seeds, ties the rest
        r = synthgen(*run_cmd(cfg, s.base_url, "--json"))
    assert r.code == 3, r.stderr
    summary = r.json()
    assert summary["status"] == "stopped_gate"
    assert summary["gate"] == {
        "gate": "keep_rate_floor",
        "threshold": FLOOR_RATE,
        "measured": summary["counts"]["kept"] / summary["counts"]["candidates"],
    }
    # stopped at the first round's end past the floor's count: rounds of one window each,
    # never a round sized from the floor rate (30 ÷ 2% would be 1,500 candidates)
    candidates = summary["counts"]["candidates"]
    assert FLOOR_AFTER <= candidates < FLOOR_AFTER + concurrency * per_call
    assert all(r["asked"] <= concurrency * per_call for r in summary["rounds"])
    # the message names the top drop reasons, as the ledger counts them, and what to change
    drops = ledger_counts(tmp_path / "run")
    counted = [(n, f"{stage}/{reason}") for stage, rs in drops.items() for reason, n in rs.items()]
    (n1, top1), (n2, top2) = sorted(counted, reverse=True)[:2]
    assert top1.startswith("preference/") and f"{top1} {n1}, {top2} {n2}" in r.stderr
    assert "filter.judge.threshold" in r.stderr and "min_margin" in r.stderr
    assert manifest(tmp_path / "run")["gate"]["gate"] == "keep_rate_floor"


def test_rounds_ask_one_window_at_most_and_the_surplus_at_n_is_bounded_by_it(
    tmp_path: Path,
) -> None:
    concurrency, per_call, target = 4, 5, 23
    changes = {
        "endpoint.concurrency": concurrency,
        "generation.per_call": per_call,
        "target.count": target,
        "outputs.formats": [],
    }
    with standin() as s:
        done = complete_run(tmp_path, s.base_url, changes=changes)
    summary, window = done.summary, concurrency * per_call
    assert summary["counts"]["kept"] == target
    rounds = summary["rounds"]
    # the first round: what concurrency keeps busy, not N ÷ prior (46 candidates)
    assert rounds[0]["asked"] == window and len(rounds) >= 2
    assert all(per_call <= r["asked"] <= window and r["asked"] % per_call == 0 for r in rounds)
    surplus = ledger_counts(done.run_dir).get("surplus", {}).get("surplus", 0)
    assert surplus <= window and surplus == summary["counts"]["dropped"].get("surplus", {}).get(
        "surplus", 0
    )

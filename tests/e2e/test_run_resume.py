"""`synthgen run` stopped and run again: kill -9, a budget, --offline, a failed rerun.

A resumed run must land on the data an uninterrupted run makes, without sending again what
was answered before. Compared with a run from a fresh state dir, only what the endpoint and
the clock assign to each answer (its request id, when it arrived) may differ.
"""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.helpers import read_jsonl, spawn, wait_until
from support.resume import received_seqs, standin_log
from support.runs import (
    GENERATOR,
    JUDGE,
    SEEDS,
    Done,
    check_run_dir,
    complete_run,
    finished_offline,
    last_seq,
    ledger_counts,
    manifest,
    per_answer_masked,
    run_cmd,
    since,
    spend_by_model,
    standin,
    synthgen,
    verify_ok,
    write_config,
)

from synthgen.standin import StandinHandle

TARGET = 40  # BASE's target.count
# A rule that passes about a third of the outputs (those whose length divides by 3), so each
# run takes several rounds and the later ones are shown records kept in the earlier ones:
# what a resumed run must rebuild exactly.
ROUNDS = {"filter.rules.output_format": "regex", "filter.rules.output_regex": "(?:...)*"}


@pytest.fixture(scope="module")
def endpoint() -> Iterator[StandinHandle]:
    with standin() as handle:
        yield handle


@pytest.fixture(scope="module")
def reference(endpoint: StandinHandle, tmp_path_factory: pytest.TempPathFactory) -> Done:
    """The uninterrupted run from a fresh state dir that resumed runs must equal."""
    done = complete_run(tmp_path_factory.mktemp("reference"), endpoint.base_url, changes=ROUNDS)
    assert len(done.summary["rounds"]) > 1, "the reference run took one round"
    assert any(
        p.startswith("sg_")
        for r in read_jsonl(done.run_dir / "data.jsonl")
        for p in r["provenance"]["parents"]
    ), "no record was made from one kept in an earlier round"
    return done


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Done:
    """A completed run whose stand-in is stopped afterwards."""
    return finished_offline(tmp_path_factory.mktemp("finished"), changes=ROUNDS)


def test_kill_9_mid_run_then_rerun_equals_an_uninterrupted_run(
    endpoint: StandinHandle, reference: Done, tmp_path: Path
) -> None:
    cfg = write_config(tmp_path / "run.yaml", tmp_path / "run", tmp_path / ".synthgen", ROUNDS)
    state, run_dir = tmp_path / ".synthgen", tmp_path / "run"
    args = run_cmd(cfg, endpoint.base_url)
    answered_by_reference = len(received_seqs(reference.state))
    half = answered_by_reference // 2
    # The stand-in answers half the requests the run needs and holds the rest: the kill lands
    # mid-run on an event (every answer given is cached, the next request is held), not
    # after a sleep. Counted from a reset: the reference run used this stand-in before.
    endpoint.reset()
    endpoint.set_faults(hold_after=half)

    def halfway_or_ended() -> bool:
        held = endpoint.stats()["held"]
        assert isinstance(held, int)
        return (len(received_seqs(state)) >= half and held > 0) or proc.poll() is not None

    try:
        proc = spawn(args, tmp_path)
        try:
            wait_until(
                halfway_or_ended,
                timeout=120,
                what="half the run's answers to be cached and the next request held",
            )
        finally:
            proc.kill()  # SIGKILL: no cleanup of any kind
            _, err = proc.communicate(timeout=30)
    finally:
        endpoint.set_faults(hold_after=None)
    assert proc.returncode == -signal.SIGKILL, f"the run ended before the kill:\n{err}"
    assert not (run_dir / "data.jsonl").exists(), "a killed run left a final data.jsonl"
    answered = received_seqs(state)
    assert len(answered) == half < answered_by_reference
    body_of = {e["seq"]: e["body_sha256"] for e in standin_log(endpoint) if e["status"] == 200}
    paid = {body_of[s] for s in answered}
    last = last_seq(endpoint)

    again = synthgen(*args, "--json")
    assert again.code == 0, again.stderr
    resent = {e["body_sha256"] for e in since(endpoint, last)} & paid
    assert not resent, f"{len(resent)} requests answered before the kill were sent again"
    assert again.json()["requests"]["cached"] >= len(answered)
    check_run_dir(run_dir, TARGET)
    assert per_answer_masked(run_dir / "data.jsonl") == per_answer_masked(
        reference.run_dir / "data.jsonl"
    ), "the resumed run's data.jsonl differs from the uninterrupted run's"


def test_budget_stops_partway_with_3_then_a_higher_cap_finishes_the_same_data(
    endpoint: StandinHandle, reference: Done, tmp_path: Path
) -> None:
    cfg = write_config(tmp_path / "run.yaml", tmp_path / "run", tmp_path / ".synthgen", ROUNDS)
    run_dir = tmp_path / "run"
    full_cost = reference.summary["cost_usd"]
    assert full_cost > 0, "prices are configured for both stand-in models"
    # The run pays for the judge on the seeds, then the candidates, then their verdicts: a
    # cap halfway through the candidates' verdicts stops it with some records kept.
    spend = spend_by_model(reference.state)
    (_, generation), (verdicts, judging) = spend[GENERATOR], spend[JUDGE]
    calibration = len(read_jsonl(SEEDS))
    cap = round(generation + judging * (calibration + (verdicts - calibration) / 2) / verdicts, 2)
    r = synthgen(*run_cmd(cfg, endpoint.base_url, "--max-cost-usd", str(cap), "--json"))
    assert r.code == 3, r.stderr
    s = r.json()
    assert s["status"] == "stopped_budget" and s["exit_code"] == 3
    assert 0 < s["cost_usd"] <= cap
    m = manifest(run_dir)
    assert (m["status"], m["exit_code"]) == ("stopped_budget", 3)
    kept = len(read_jsonl(run_dir / "data.jsonl"))
    assert 0 < kept < TARGET, f"{kept} records kept before the budget stop"
    assert m["counts"]["kept"] == kept
    assert m["counts"]["dropped"] == ledger_counts(run_dir)
    verify_ok(run_dir)  # what was done is written, and is what the manifest says

    more = str(full_cost * 10)
    r = synthgen(*run_cmd(cfg, endpoint.base_url, "--max-cost-usd", more, "--json"))
    assert r.code == 0, r.stderr
    assert r.json()["requests"]["cached"] >= s["requests"]["sent"], "answers were paid twice"
    check_run_dir(run_dir, TARGET)
    assert per_answer_masked(run_dir / "data.jsonl") == per_answer_masked(
        reference.run_dir / "data.jsonl"
    ), "the run resumed past its budget stop differs from the uninterrupted run"


def test_offline_replays_the_finished_run_byte_for_byte_with_no_endpoint_or_key(
    finished: Done, tmp_path: Path
) -> None:
    state = tmp_path / ".synthgen"
    shutil.copytree(finished.state, state)
    assert "OPENAI_API_KEY" not in os.environ
    # The finished run's stand-in is stopped: anything sent would fail the run.
    offline = run_cmd(finished.config, finished.base_url, "--offline", "--state-dir", str(state))
    r = synthgen(*offline, "--out", tmp_path / "replay", "--json")
    assert r.code == 0, r.stderr
    assert r.json()["requests"]["sent"] == 0
    for name in ("data.jsonl", "dropped.jsonl"):
        assert (tmp_path / "replay" / name).read_bytes() == (
            finished.run_dir / name
        ).read_bytes(), f"--offline wrote a different {name}"

    r = synthgen(*offline, "--count", str(TARGET + 20), "--out", tmp_path / "more")
    assert r.code == 2, r.stderr
    err = r.stderr
    assert "--offline: no cached answer" in err, err
    assert GENERATOR in err or JUDGE in err, f"the message names no request:\n{err}"
    assert "without --offline" in err, f"the message gives no fix:\n{err}"
    assert "Traceback" not in err


def test_a_failed_rerun_leaves_the_finished_run_dir_as_it_was(
    finished: Done, tmp_path: Path
) -> None:
    run_dir, state = tmp_path / "run", tmp_path / ".synthgen"
    shutil.copytree(finished.run_dir, run_dir)
    shutil.copytree(finished.state, state)
    before = {p.name: p.read_bytes() for p in run_dir.iterdir()}
    r = synthgen(
        *run_cmd(finished.config, finished.base_url, "--offline", "--count", str(TARGET + 20)),
        *("--out", run_dir, "--state-dir", state),
    )
    assert r.code == 2, r.stderr
    after = {p.name: p.read_bytes() for p in run_dir.iterdir()}
    changed = sorted(n for n in before.keys() | after.keys() if before.get(n) != after.get(n))
    assert not changed, f"an offline miss (exit 2) rewrote the finished run's {changed}"
    verify_ok(run_dir)


def test_the_judge_is_asked_for_no_more_verdicts_than_the_target_needs(
    endpoint: StandinHandle, tmp_path: Path
) -> None:
    # Verdicts are asked in candidate order, `concurrency` at a time, only while those in
    # flight may not reach the target: what the target did not need is ledgered unjudged.
    (tmp_path / "full").mkdir()
    full = complete_run(tmp_path / "full", endpoint.base_url)
    spend = spend_by_model(full.state)
    verdicts = spend[JUDGE][0] - len(read_jsonl(SEEDS))
    judged_out = sum(full.summary["counts"]["dropped"].get("judge", {}).values())
    concurrency = 4  # tests/support/runs.py BASE
    assert TARGET + judged_out <= verdicts <= TARGET + judged_out + concurrency
    surplus = full.summary["counts"]["dropped"].get("surplus", {}).get("surplus", 0)
    judged_surplus = verdicts - TARGET - judged_out
    assert surplus >= judged_surplus  # the rest of the surplus was never sent to the judge

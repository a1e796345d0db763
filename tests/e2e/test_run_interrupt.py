"""`synthgen run` stopped by Ctrl-C or SIGTERM over HTTP, as a user stops it.

The first signal stops sending at once: the stand-in receives nothing after it but what was
already in flight, which lands in the cache; the run dir is written as it stands (status
interrupted, counts that add up, `verify` passes) and the process exits 130. A second signal
aborts. Either way the rerun finishes with exactly N records, the bytes of an uninterrupted
run, and sends nothing that was answered before.

The stand-in's `hold_after` fault answers the first K requests and holds the rest, so the
signal lands while the client's every slot holds a request (nothing else can be in transit),
an event the test polls for rather than a sleep.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.helpers import read_jsonl
from support.resume import received_seqs, standin_log
from support.runs import (
    GENERATOR,
    JUDGE,
    SEEDS,
    Done,
    check_run_dir,
    complete_run,
    last_seq,
    ledger_counts,
    manifest,
    per_answer_masked,
    run_cmd,
    since,
    standin,
    synthgen,
    total_dropped,
    verify_ok,
    write_config,
)
from support.signals import STOPPING, Stopped, stop_midway

from synthgen.standin import StandinHandle

TARGET = 40  # BASE's target.count
CONCURRENCY = 4  # BASE's endpoint.concurrency: the most requests a client has in flight
# As tests/e2e/test_run_resume.py: several rounds, later ones shown records kept earlier.
ROUNDS = {"filter.rules.output_format": "regex", "filter.rules.output_regex": "(?:...)*"}
CALIBRATION = len(read_jsonl(SEEDS))  # the judge scores every human seed first
# Mid-expand: the seeds' verdicts and 4 generator jobs are answered, the next 4 are held.
IN_EXPAND = CALIBRATION + CONCURRENCY


@pytest.fixture(scope="module")
def endpoint() -> Iterator[StandinHandle]:
    with standin() as handle:
        yield handle


@dataclass(frozen=True)
class Reference:
    """The uninterrupted run the reruns must equal, and a hold_after that lands mid-judging
    in its round 1: the seeds' verdicts and round 1's generator jobs answered (its stand-in
    log says how many), then 4 verdicts answered and the next 4 held."""

    done: Done
    in_judging: int


@pytest.fixture(scope="module")
def reference(endpoint: StandinHandle, tmp_path_factory: pytest.TempPathFactory) -> Reference:
    endpoint.reset()
    done = complete_run(tmp_path_factory.mktemp("reference"), endpoint.base_url, changes=ROUNDS)
    models = [e["model"] for e in standin_log(endpoint)]
    first_verdict = models.index(JUDGE, CALIBRATION)
    assert models[CALIBRATION:first_verdict] == [GENERATOR] * (first_verdict - CALIBRATION)
    return Reference(done, first_verdict + CONCURRENCY)


@dataclass(frozen=True)
class StoppedRun:
    """A run stopped mid-way: its command, dirs, and how the process ended."""

    args: list[str]
    state: Path
    run_dir: Path
    end: Stopped


def _stop(
    endpoint: StandinHandle, tmp_path: Path, hold_after: int, signals: list[signal.Signals]
) -> StoppedRun:
    cfg = write_config(tmp_path / "run.yaml", tmp_path / "run", tmp_path / ".synthgen", ROUNDS)
    args = run_cmd(cfg, endpoint.base_url)
    end = stop_midway(endpoint, args, tmp_path, hold_after, CONCURRENCY, signals)
    return StoppedRun(args, tmp_path / ".synthgen", tmp_path / "run", end)


def _rerun_pays_only_for_the_rest(
    endpoint: StandinHandle, reference: Reference, stopped: StoppedRun, paid: set[str]
) -> None:
    """The rerun: exactly N, the reference's bytes, and none of the `paid` bodies sent again."""
    last = last_seq(endpoint)
    again = synthgen(*stopped.args, "--json")
    assert again.code == 0, again.stderr
    resent = {e["body_sha256"] for e in since(endpoint, last)} & paid
    assert not resent, f"{len(resent)} requests answered before the stop were sent again"
    check_run_dir(stopped.run_dir, TARGET)
    assert per_answer_masked(stopped.run_dir / "data.jsonl") == per_answer_masked(
        reference.done.run_dir / "data.jsonl"
    ), "the rerun's data.jsonl differs from the uninterrupted run's"


def _paid(endpoint: StandinHandle, state: Path) -> set[str]:
    """Bodies of the requests whose answers the stopped run received and cached."""
    body_of = {e["seq"]: e["body_sha256"] for e in standin_log(endpoint) if e["status"] == 200}
    return {body_of[s] for s in received_seqs(state)}


def _written_as_it_stands(stopped: StoppedRun) -> dict[str, int]:
    """The interrupted run dir: status, exit code and counts that add up; verify passes."""
    m = manifest(stopped.run_dir)
    assert (m["status"], m["exit_code"]) == ("interrupted", 130)
    c = m["counts"]
    kept = len(read_jsonl(stopped.run_dir / "data.jsonl"))
    assert c["kept"] == kept < TARGET
    assert c["dropped"] == ledger_counts(stopped.run_dir)
    assert c["candidates"] == kept + total_dropped(c["dropped"])
    verify_ok(stopped.run_dir)
    return {"kept": kept, "candidates": c["candidates"]}


@pytest.mark.timeout(180)
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["Ctrl-C", "SIGTERM"])
def test_first_signal_stops_sending_writes_the_run_dir_and_the_rerun_pays_for_the_rest(
    endpoint: StandinHandle, reference: Reference, tmp_path: Path, sig: signal.Signals
) -> None:
    stopped = _stop(endpoint, tmp_path, IN_EXPAND, [sig])
    assert stopped.end.code == 130, stopped.end.stderr
    assert "Traceback" not in stopped.end.stderr
    assert STOPPING in stopped.end.stderr
    assert "aborted" not in stopped.end.stderr
    assert "resume" in stopped.end.stderr
    # Every slot held a request when the signal came: nothing was in transit, so nothing
    # may arrive after it; the held requests were let to finish into the cache.
    assert stopped.end.at_exit == stopped.end.at_signal == IN_EXPAND + CONCURRENCY
    paid = _paid(endpoint, stopped.state)
    assert len(paid) == stopped.end.at_exit, "an answer in flight at the signal was not cached"
    counts = _written_as_it_stands(stopped)
    assert counts["candidates"] > 0
    _rerun_pays_only_for_the_rest(endpoint, reference, stopped, paid)


@pytest.mark.timeout(180)
def test_ctrl_c_while_judging_keeps_what_was_judged_in_order(
    endpoint: StandinHandle, reference: Reference, tmp_path: Path
) -> None:
    stopped = _stop(endpoint, tmp_path, reference.in_judging, [signal.SIGINT])
    assert stopped.end.code == 130, stopped.end.stderr
    assert stopped.end.at_exit == stopped.end.at_signal == reference.in_judging + CONCURRENCY
    paid = _paid(endpoint, stopped.state)
    assert len(paid) == stopped.end.at_exit
    counts = _written_as_it_stands(stopped)
    assert counts["kept"] > 0, "no verdict answered before the stop was committed"
    # What was kept is the head of what the uninterrupted run keeps, in the same order.
    kept = per_answer_masked(stopped.run_dir / "data.jsonl").splitlines()
    whole = per_answer_masked(reference.done.run_dir / "data.jsonl").splitlines()
    assert kept == whole[: len(kept)]
    _rerun_pays_only_for_the_rest(endpoint, reference, stopped, paid)


@pytest.mark.timeout(180)
def test_second_ctrl_c_aborts_at_once_and_the_rerun_repays_only_what_was_in_flight(
    endpoint: StandinHandle, reference: Reference, tmp_path: Path
) -> None:
    stopped = _stop(endpoint, tmp_path, IN_EXPAND, [signal.SIGINT, signal.SIGINT])
    assert stopped.end.code == 130, stopped.end.stderr
    assert "Traceback" not in stopped.end.stderr
    assert "stopping…" in stopped.end.stderr and "aborted" in stopped.end.stderr
    assert not (stopped.run_dir / "data.jsonl").exists(), "an aborted run wrote its run dir"
    # The held requests were cancelled unanswered: only the first IN_EXPAND are cached.
    paid = _paid(endpoint, stopped.state)
    assert len(paid) == IN_EXPAND
    _rerun_pays_only_for_the_rest(endpoint, reference, stopped, paid)

"""`synthgen run` with generation.axes and coverage quotas, end to end against the stand-in:
every cell filled to its quota among kept records although the judge fails most records of
one cell, the steering in the manifest, an --offline replay byte for byte, and a kill -9
mid-run whose rerun lands on the same records without paying twice."""

from __future__ import annotations

import signal
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from support.helpers import read_jsonl, spawn, wait_until
from support.resume import received_seqs, standin_log
from support.runs import (
    JUDGE_SCORE_BY_LENGTH,
    Done,
    check_run_dir,
    complete_run,
    last_seq,
    manifest,
    per_answer_masked,
    run_cmd,
    since,
    synthgen,
    write_config,
)

from synthgen.standin import StandinConfig, StandinHandle, run_in_thread

DIFFICULTY = ["easy", "medium", "hard", "expert"]
CHANNEL = ["email", "chat", "phone"]
TARGET = 240
AXES = {
    "generation.axes": {"difficulty": DIFFICULTY, "channel": CHANNEL},
    "generation.coverage": {},
    "generation.per_call": 8,
    "generation.machine_examples": 0,
    "target.count": TARGET,
    "endpoint.concurrency": 6,
    "outputs.formats": [],
    "outputs.split": {},
}
FAILING = "difficulty: hard"  # the stand-in's judge fails 80% of these


@pytest.fixture(scope="module")
def endpoint() -> Iterator[StandinHandle]:
    """A stand-in whose judge scores by length, but fails most `difficulty: hard` records."""
    cfg = StandinConfig(judge_score_by_length=JUDGE_SCORE_BY_LENGTH, judge_fail_axis=FAILING)
    with run_in_thread(cfg) as handle:
        yield handle


@pytest.fixture(scope="module")
def steered(endpoint: StandinHandle, tmp_path_factory: pytest.TempPathFactory) -> Done:
    """A 240-record run over 4 × 3 cells with a uniform quota."""
    return complete_run(tmp_path_factory.mktemp("axes"), endpoint.base_url, changes=AXES)


def test_every_cell_ends_within_one_of_its_quota_among_kept_records(steered: Done) -> None:
    assert steered.summary["status"] == "complete"
    check_run_dir(steered.run_dir, TARGET)
    records = read_jsonl(steered.run_dir / "data.jsonl")
    cells = Counter(
        (r["provenance"]["axes"]["difficulty"], r["provenance"]["axes"]["channel"]) for r in records
    )
    quota = TARGET / (len(DIFFICULTY) * len(CHANNEL))
    assert set(cells) == {(d, c) for d in DIFFICULTY for c in CHANNEL}
    assert all(abs(n - quota) <= 1 for n in cells.values()), cells
    # the prompt stated the values: the stand-in's instructions carry them
    assert all(
        f"difficulty: {r['provenance']['axes']['difficulty']}" in r["instruction"] for r in records
    )


def test_the_failing_cell_was_asked_more_and_the_manifest_shows_the_steering(
    steered: Done,
) -> None:
    m = manifest(steered.run_dir)
    cov = {c["cell"]: c for c in m["coverage"]["cells"]}
    hard_cell = cov["difficulty=hard, channel=email"]
    easy_cell = cov["difficulty=easy, channel=email"]
    assert hard_cell["kept"] == easy_cell["kept"] == 20
    assert hard_cell["candidates"] > 2 * easy_cell["candidates"]
    steering = [d for r in m["rounds"] for d in (r["adjustment"] or {}).get("steering", [])]
    assert {"cell", "quota", "kept", "calls", "reason"} <= set(steering[0])
    later = [d for d in steering if d["cell"].startswith("difficulty=hard")]
    assert later and all(d["reason"] in ("under_quota", "least_diverse") for d in later)
    dropped = m["counts"]["dropped"]
    assert dropped["judge"]["below_threshold"] > 0
    # kept + every drop adds up, and the judge failed the hard cell's records above all
    ledger = read_jsonl(steered.run_dir / "dropped.jsonl")
    failed = Counter(
        e["provenance"]["axes"]["difficulty"]
        for e in ledger
        if e["dropped"]["reason"] == "below_threshold"
    )
    assert failed.most_common(1)[0][0] == "hard"


def test_the_report_breaks_metrics_down_by_axis_value_with_a_heat_map(steered: Done) -> None:
    files = sorted(p.name for p in steered.run_dir.iterdir())
    html = next(steered.run_dir.glob("*.html")).read_text()
    assert "Coverage by axis value" in html, files
    assert "difficulty × channel" in html and "<svg" in html
    r = synthgen("report", steered.run_dir, "--json")
    assert r.code == 0, r.stderr
    rows = {(v["axis"], v["value"]): v for v in r.json()["axes"]["values"]}
    assert rows[("difficulty", "hard")]["kept"] == rows[("difficulty", "easy")]["kept"] == 60
    assert rows[("difficulty", "hard")]["quota"] == 60
    assert rows[("difficulty", "hard")]["keep_rate"] < rows[("difficulty", "easy")]["keep_rate"]
    flagged = {(o["axis"], o["value"]) for o in r.json()["axes"]["judge_fails_most"]}
    assert ("difficulty", "hard") in flagged  # the value the judge mostly fails is named
    # every whole-set metric, per value
    assert {"distinct_2", "compression_ratio", "mean_pairwise_rouge_l", "opener_entropy"} <= set(
        rows[("difficulty", "hard")]["metrics"]
    )
    # and a warning code a gate can name; `run` printed it at its end
    fails = [w["message"] for w in r.json()["warnings"] if w["code"] == "value_judge_fails"]
    assert any(m.startswith("difficulty = hard:") for m in fails), fails
    assert not any(m.startswith("difficulty = easy:") for m in fails), fails
    gated = synthgen("report", steered.run_dir, "--fail-on", "value_judge_fails")
    assert gated.code == 3, gated.stderr
    said = steered.summary["warnings"]
    assert any(w.startswith("value_judge_fails: difficulty = hard") for w in said), said


def test_topics_propose_writes_an_editable_map_once_paid_then_cached_and_it_feeds_an_axis(
    endpoint: StandinHandle, tmp_path: Path
) -> None:
    cfg = write_config(tmp_path / "run.yaml", tmp_path / "run", tmp_path / ".synthgen")
    out = tmp_path / "topics.yaml"
    args = ["topics", "propose", cfg, "-o", out, "--base-url", endpoint.base_url, "-k", "5"]
    first = synthgen(*args, "-s", "3", "--json")
    assert first.code == 0, first.stderr
    assert first.json()["topics"] == 5 and not first.json()["cached"]
    assert first.json()["tokens"] > 0 and first.json()["cost_usd"] > 0  # priced
    again = synthgen(*args, "-s", "3", "--json", "--offline")
    assert again.code == 0 and again.json()["cached"], again.stderr
    topics = yaml.safe_load(out.read_text())["topics"]
    assert len(topics) == 5 and all(len(subs) == 3 for subs in topics.values())
    # the user edits it, and generation.axes.topic reads the edited map
    edited = {"topics": {"Refunds": ["double charge", "late"], "Login": []}}
    out.write_text(yaml.safe_dump(edited, sort_keys=False))
    from synthgen.config import load_config
    from synthgen.stages.expand.axes import load_axes

    axes_cfg = write_config(tmp_path / "a.yaml", tmp_path / "r", tmp_path / ".s")
    loaded = load_config(axes_cfg, {"generation.axes": {"topic": str(out)}})
    (topic,) = load_axes(loaded.generation, loaded.home)
    assert topic.values == ("Refunds / double charge", "Refunds / late", "Login")


def test_offline_replay_of_the_steered_run_is_byte_identical(steered: Done, tmp_path: Path) -> None:
    out = tmp_path / "replay"
    r = synthgen(*run_cmd(steered.config, steered.base_url, "--offline", "--json", "--out", out))
    assert r.code == 0, r.stderr
    assert r.json()["requests"]["sent"] == 0
    for name in ("data.jsonl", "dropped.jsonl"):
        assert (out / name).read_bytes() == (steered.run_dir / name).read_bytes(), name


def test_kill_9_mid_steered_run_then_rerun_equals_the_uninterrupted_run(
    endpoint: StandinHandle, steered: Done, tmp_path: Path
) -> None:
    cfg = write_config(tmp_path / "run.yaml", tmp_path / "run", tmp_path / ".synthgen", AXES)
    state, run_dir = tmp_path / ".synthgen", tmp_path / "run"
    args = run_cmd(cfg, endpoint.base_url)
    half = len(received_seqs(steered.state)) // 2
    endpoint.reset()  # the stand-in holds every request after half of what the run needs
    endpoint.set_faults(hold_after=half)

    def halfway_or_ended() -> bool:
        held = endpoint.stats()["held"]
        assert isinstance(held, int)
        return (len(received_seqs(state)) >= half and held > 0) or proc.poll() is not None

    try:
        proc = spawn(args, tmp_path)
        try:
            wait_until(halfway_or_ended, timeout=120, what="half the answers cached, one held")
        finally:
            proc.kill()  # SIGKILL: no cleanup of any kind
            _, err = proc.communicate(timeout=30)
    finally:
        endpoint.set_faults(hold_after=None)
    assert proc.returncode == -signal.SIGKILL, f"the run ended before the kill:\n{err}"
    answered = received_seqs(state)
    body_of = {e["seq"]: e["body_sha256"] for e in standin_log(endpoint) if e["status"] == 200}
    paid = {body_of[s] for s in answered}
    last = last_seq(endpoint)
    again = synthgen(*args, "--json")
    assert again.code == 0, again.stderr
    assert not {e["body_sha256"] for e in since(endpoint, last)} & paid, "paid twice"
    check_run_dir(run_dir, TARGET)
    assert per_answer_masked(run_dir / "data.jsonl") == per_answer_masked(
        steered.run_dir / "data.jsonl"
    ), "the resumed steered run's data.jsonl differs from the uninterrupted run's"

"""What the CLI needs from the Python API, taken through the API itself: progress,
calibration and live request counters as passed-in callbacks and objects, dry-run plans,
config checks, report gates, verify and export with their messages to `say`."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.helpers import expand_args, run

import synthgen.api as api
from synthgen.core.console import Console
from synthgen.errors import UsageError
from synthgen.llm.stream import LiveRequests
from synthgen.standin import StandinHandle


def _expand(standin: StandinHandle, seeds: Path, out: Path, **kw: object) -> None:
    s = api.expand(
        seeds,
        output=out,
        count=10,
        base_url=standin.base_url,
        model="standin-fake",
        state_dir=out.parent / "st",
        **kw,  # type: ignore[arg-type]
    )
    assert s.status == "complete", s.error


def test_progress_reads_the_live_counters_it_was_handed(
    standin: StandinHandle, triage_seeds: Path, tmp_path: Path
) -> None:
    live, seen = LiveRequests(), []
    # The counters of the request that just ended are in: a local endpoint streams, and
    # its answer's tokens are counted before the record it made is reported.
    _expand(
        standin,
        triage_seeds,
        tmp_path / "raw.jsonl",
        live=live,
        on_progress=lambda p: seen.append(live.totals()),
    )
    assert seen and max(tokens for _, tokens in seen) > 0
    after = live.totals()
    assert after[0] == 0  # nothing in flight once the run is over
    # Another run's counters are its own: the first ones never grow while it runs.
    (tmp_path / "b").mkdir()
    other, both = LiveRequests(), []
    _expand(
        standin,
        triage_seeds,
        tmp_path / "b" / "raw.jsonl",
        live=other,
        on_progress=lambda p: both.append((live.totals()[1], other.totals()[1])),
    )
    assert max(o for _, o in both) > 0 and all(first <= after[1] for first, _ in both)


def test_filter_reports_calibration_to_its_callback(
    standin: StandinHandle, triage_seeds: Path, tmp_path: Path
) -> None:
    raw = tmp_path / "raw.jsonl"
    _expand(standin, triage_seeds, raw)
    standin.set_faults(judge_score=5)
    steps: list[tuple[int, int]] = []
    said: list[str] = []
    s = api.filter(
        raw,
        output=tmp_path / "kept.jsonl",
        seeds=triage_seeds,
        base_url=standin.base_url,
        model="standin-fake",
        state_dir=tmp_path / "st",
        on_calibration=lambda done, total: steps.append((done, total)),
        say=said.append,
    )
    n_seeds = len(triage_seeds.read_text().splitlines())
    assert s.status == "complete", s.error
    assert steps and steps[-1] == (n_seeds, n_seeds)
    assert [d for d, _ in steps] == sorted(d for d, _ in steps)
    assert any("calibration" in m for m in said)


def test_a_plan_is_what_the_dry_run_prints(
    standin: StandinHandle, triage_seeds: Path, tmp_path: Path
) -> None:
    out = tmp_path / "o.jsonl"
    cli = run(expand_args(triage_seeds, out, standin.base_url, "-n", "100", "--dry-run", "--json"))
    assert cli.code == 0, cli.stderr
    plan = api.expand_plan(
        triage_seeds,
        count=100,
        base_url=standin.base_url,
        model="standin-fake",
        state_dir=tmp_path / ".synthgen",
    )
    assert plan.data == cli.json() and "prompt 1" in plan.text
    assert standin.stats()["requests_total"] == 0
    with pytest.raises(UsageError, match="no seed files"):
        api.expand_plan([], count=5)


def test_config_check_collects_every_error_and_raises_none(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("task: t\ntarget:\n  count: 5\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text("task: t\ntarget:\n  cuont: 5\n")
    said: list[str] = []
    checked = api.check_configs([bad, good], say=said.append)
    assert not checked.ok and len(checked.errors) == 1
    assert [c["ok"] for c in checked.configs] == [False, True]
    assert checked.to_json()["ok"] is False
    assert said[0].startswith("error:") and said[1].startswith(f"{good}: ok")


def test_report_gates_are_checked_before_the_work_and_named_after(
    standin: StandinHandle, triage_seeds: Path, tmp_path: Path
) -> None:
    raw = tmp_path / "raw.jsonl"
    _expand(standin, triage_seeds, raw)
    with pytest.raises(UsageError, match="unknown warning code"):
        api.show_report(tmp_path / "missing.jsonl", fail_on=["nonsense"])
    shown = api.show_report(raw, seeds=triage_seeds, fail_on=["any"])
    assert shown.fired == sorted({w.code for w in shown.report.warnings})
    assert api.report(raw, seeds=triage_seeds) == shown.report
    quiet = api.show_report(raw, seeds=triage_seeds)
    assert quiet.fired == []


def test_verify_and_export_tell_say(
    standin: StandinHandle, triage_seeds: Path, tmp_path: Path
) -> None:
    raw = tmp_path / "raw.jsonl"
    _expand(standin, triage_seeds, raw)
    said: list[str] = []
    summary = api.export(
        raw, output=tmp_path / "sft.jsonl", format="messages", split=["val=0.2"], say=said.append
    )
    assert summary.records == 10 and len(summary.files) == 2
    assert said[-1].startswith("exported 10 records") and len(said) == 3
    with pytest.raises(UsageError):
        api.verify(tmp_path / "nowhere", say=said.append)


def test_a_console_ends_its_own_progress_line_before_a_message(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import io

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("CI", raising=False)
    term = Terminal()
    console = Console(term)
    line = console.progress(lambda: 0.0, interval=0.0)
    console.request_line(line, "run: 1/5 kept").update("run: 2/5 kept")
    console.say("warning: over budget")
    assert term.getvalue() == "\r\x1b[2Krun: 2/5 kept\nwarning: over budget\n"

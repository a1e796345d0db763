"""The run directory is the unit: `report` and `audit` take RUN_DIR (or its data.jsonl) and
find its ledger, dropped.jsonl, as `export` and `verify` do; a stage's X.ledger.jsonl and a
data.ledger.jsonl beside a data.jsonl are still read."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from support.helpers import read_jsonl
from support.runs import Done, finished_offline, ledger_counts, manifest, synthgen


@pytest.fixture(scope="module")
def done(tmp_path_factory: pytest.TempPathFactory) -> Done:
    # a stricter judge than BASE, so that it drops some candidates into dropped.jsonl
    changes = {"filter.judge.threshold": 4.0, "filter.judge.max_seed_fail": 1.0}
    return finished_offline(tmp_path_factory.mktemp("rundir"), "--count", "20", changes=changes)


def _judge_drops(run_dir: Path) -> int:
    return sum(1 for e in read_jsonl(run_dir / "dropped.jsonl") if e["dropped"]["stage"] == "judge")


@pytest.mark.parametrize("target", ["dir", "data"])
def test_report_reads_a_run_dir_with_its_ledger(done: Done, target: str) -> None:
    arg = done.run_dir if target == "dir" else done.run_dir / "data.jsonl"
    r = synthgen("report", arg, "--json")
    assert r.code == 0, r.stderr
    report = r.json()
    assert report["records"] == 20
    ledger = report["ledger"]
    assert ledger is not None and Path(ledger["path"]) == done.run_dir / "dropped.jsonl"
    assert ledger["drops"] == ledger_counts(done.run_dir)
    assert ledger["candidates"] == 20 + sum(sum(v.values()) for v in ledger["drops"].values())
    assert manifest(done.run_dir)["counts"]["kept"] == 20


def test_audit_include_dropped_samples_a_run_dirs_ledger(done: Done) -> None:
    judged_out = _judge_drops(done.run_dir)
    assert judged_out > 0, "the stand-in's judge dropped nothing: the test shows nothing"
    r = synthgen("audit", done.run_dir, "--include-dropped", "--sample", "500", "--summary")
    assert r.code == 0, r.stderr
    r = synthgen(
        "audit", done.run_dir, "--include-dropped", "--sample", "500", "--summary", "--json"
    )
    assert r.code == 0, r.stderr
    assert r.json()["sample"] == 20 + judged_out
    without = synthgen("audit", done.run_dir, "--sample", "500", "--summary", "--json")
    assert without.code == 0 and without.json()["sample"] == 20


def test_a_data_ledger_jsonl_beside_data_jsonl_is_still_read(done: Done, tmp_path: Path) -> None:
    old = tmp_path / "old"
    old.mkdir()
    shutil.copy(done.run_dir / "data.jsonl", old / "data.jsonl")
    shutil.copy(done.run_dir / "dropped.jsonl", old / "data.ledger.jsonl")
    r = synthgen("report", old, "--json")
    assert r.code == 0, r.stderr
    assert Path(r.json()["ledger"]["path"]) == old / "data.ledger.jsonl"
    r = synthgen("audit", old, "--include-dropped", "--sample", "500", "--summary", "--json")
    assert r.code == 0 and r.json()["sample"] == 20 + _judge_drops(done.run_dir), r.stderr


def test_include_dropped_without_a_ledger_is_exit_2_saying_where_it_looked(
    done: Done, tmp_path: Path
) -> None:
    lone = tmp_path / "lone"
    lone.mkdir()
    shutil.copy(done.run_dir / "data.jsonl", lone / "data.jsonl")
    r = synthgen("audit", lone, "--include-dropped", "--summary")
    assert r.code == 2, r.stderr
    assert "no ledger" in r.stderr and str(lone / "dropped.jsonl") in r.stderr
    assert "Traceback" not in r.stderr


def test_a_directory_that_is_not_a_run_is_exit_2(tmp_path: Path) -> None:
    for command in ("report", "audit"):
        r = synthgen(command, tmp_path)
        assert r.code == 2 and "is a directory without data.jsonl" in r.stderr, r.stderr


def test_review_serves_a_run_dir_and_its_labels_are_what_audit_counts(
    done: Done, tmp_path: Path
) -> None:
    """`synthgen review` over this run: its rounds as charts, its own seeds, its ledger, and
    labels given in the page (judge drops included) counted by `synthgen audit`."""
    import json
    import re
    import urllib.request

    from support.runs import SEEDS

    import synthgen as api

    run_dir = shutil.copytree(done.run_dir, tmp_path / "run")  # its own verdict file
    handle = api.review(run_dir, sample=100, include_dropped=True)
    try:
        base = handle.url.split("/audit")[0]

        def call(path: str, body: dict[str, str] | None = None) -> bytes:
            req = urllib.request.Request(
                base + path,
                data=None if body is None else json.dumps(body).encode(),
                headers={"X-Synthgen-Token": handle.token, "Origin": base},
            )
            with urllib.request.urlopen(req, timeout=30) as r:
                return bytes(r.read())

        drift = call("/drift").decode()
        assert drift.count("<svg") == 2 and "keep rate and distinct-2 per round" in drift
        assert json.loads(call("/api/seeds"))["file"] == SEEDS.name
        assert "judge" in call("/ledger?stage=judge").decode()
        items = json.loads(call("/api/audit"))["items"]
        assert len(items) == 20 + _judge_drops(run_dir) and items[-1]["dropped"]
        for k, item in enumerate(items):  # reject the judge's drops, and two it kept
            verdict = "reject" if item["dropped"] or k < 2 else "accept"
            call("/api/label", {"reviewer": "ann", "id": item["id"], "verdict": verdict})
        page = json.loads(call("/api/agreement"))
    finally:
        handle.stop()
    printed = synthgen("audit", run_dir, "--summary")
    assert printed.code == 0, printed.stderr
    shown = re.search(r"Cohen's kappa (\S+) over (\d+)", printed.stderr)
    assert shown is not None and shown.groups() == (page["kappa_text"], str(len(items)))
    assert page["kappa"] is not None and 0 < page["kappa"] < 1

"""`synthgen run` end to end: the real openai client over real HTTP against the stand-in.

Exactly N judged records whose counts add up, a judge paid only for what passed the rules
and dedup, verify, exports that load back, gates, --dry-run and the Python API. Stops and
resumes (kill -9, budget, --offline) are in test_run_resume.py.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.helpers import read_jsonl
from support.runs import (
    GENERATOR,
    JUDGE,
    SEEDS,
    Done,
    check_run_dir,
    finished_offline,
    last_seq,
    ledger_counts,
    manifest,
    run_cmd,
    since,
    standin,
    synthgen,
    verify_ok,
    write_config,
)

from synthgen.standin import StandinHandle


@pytest.fixture(scope="module")
def endpoint() -> Iterator[StandinHandle]:
    """One stand-in for the tests that need it running; faults are set and unset per test."""
    with standin() as handle:
        yield handle


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Done:
    """`synthgen run --count 60` to completion; its stand-in is stopped afterwards."""
    return finished_offline(tmp_path_factory.mktemp("finished"), "--count", "60")


def test_count_60_keeps_exactly_60_judged_records_and_counts_add_up(finished: Done) -> None:
    assert finished.summary["status"] == "complete"
    assert finished.summary["counts"] == manifest(finished.run_dir)["counts"]
    check_run_dir(finished.run_dir, 60)


def test_count_60_through_429s_5xx_malformed_json_and_near_duplicates(
    endpoint: StandinHandle, tmp_path: Path
) -> None:
    # The stand-in has no switch that repeats content, and duplicate seeds would not make it
    # repeat (every request carries its own seed): a low near-duplicate threshold makes the
    # dedup stage drop its look-alike instructions instead. A fixed rpm keeps random 429s
    # from slowing the client's adaptive pacing to a crawl (that is tested elsewhere).
    changes = {"dedup.threshold": 0.2, "endpoint.rpm": 60000}
    cfg = write_config(tmp_path / "run.yaml", tmp_path / "run", tmp_path / ".synthgen", changes)
    start = last_seq(endpoint)
    endpoint.set_faults(p_429=0.1, p_500=0.1, p_malformed=0.1, retry_after_s=0.01)
    try:
        r = synthgen(*run_cmd(cfg, endpoint.base_url, "--count", "60", "--json"))
    finally:
        endpoint.set_faults(p_429=0.0, p_500=0.0, p_malformed=0.0)
    assert r.code == 0, r.stderr
    statuses = {e["status"] for e in since(endpoint, start)}
    assert 429 in statuses and statuses & {500, 502, 503}, statuses
    assert r.json()["requests"]["retried"] > 0
    check_run_dir(tmp_path / "run", 60)
    assert manifest(tmp_path / "run")["counts"]["dropped"].get("dedup"), "no duplicate dropped"


def test_rule_failures_and_duplicates_never_reach_the_judge(
    endpoint: StandinHandle, tmp_path: Path
) -> None:
    changes = {"filter.rules.blacklist": ["recipe", "poem", "budget"], "dedup.threshold": 0.2}
    cfg = write_config(tmp_path / "run.yaml", tmp_path / "run", tmp_path / ".synthgen", changes)
    start = last_seq(endpoint)
    r = synthgen(*run_cmd(cfg, endpoint.base_url, "--json"))
    assert r.code == 0, r.stderr
    run_dir = tmp_path / "run"
    dropped = ledger_counts(run_dir)
    assert dropped.get("rules") and dropped.get("dedup"), (
        f"the stand-in's text no longer trips these rules or the dedup threshold: {dropped}"
    )
    ledger = read_jsonl(run_dir / "dropped.jsonl")
    screened = [e for e in ledger if e["dropped"]["stage"] in ("rules", "dedup")]
    judged_anyway = [e["id"] for e in screened if e["provenance"].get("judge")]
    assert not judged_anyway, f"rule failures or duplicates with a verdict: {judged_anyway}"
    # What the judge saw: every kept record, every candidate ledgered with a verdict (below
    # threshold, or judged and then surplus) and judge-stage drops other than "not judged".
    kept = len(read_jsonl(run_dir / "data.jsonl"))
    with_verdict = sum(1 for e in ledger if e["provenance"].get("judge"))
    judge_failures = sum(
        1
        for e in ledger
        if e["dropped"]["stage"] == "judge"
        and e["dropped"]["reason"] != "not_judged"
        and not e["provenance"].get("judge")
    )
    judged = kept + with_verdict + judge_failures
    calibration = len(read_jsonl(SEEDS))
    log = since(endpoint, start)
    assert all(e["status"] == 200 for e in log), "no faults were set: every request answered"
    judge_requests = sum(1 for e in log if e["model"] == JUDGE)
    assert judge_requests == calibration + judged, (
        f"{judge_requests} judge requests, but {calibration} calibration seeds + {judged} "
        f"judged candidates (kept {kept}, with a verdict in the ledger {with_verdict}, judge "
        f"failures {judge_failures}); ledger {dropped}"
    )
    assert any(e["model"] == GENERATOR for e in log)


def _change_one_byte(path: Path, after: bytes) -> None:
    """Change the first ASCII letter that follows `after` into another letter."""
    data = bytearray(path.read_bytes())
    i = data.index(after) + len(after)
    while not chr(data[i]).isalpha():
        i += 1
    data[i] = ord("b") if data[i] == ord("a") else ord("a")
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("name", "after"), [("data.jsonl", b'"output":"'), ("report.html", b"<body")]
)
def test_verify_names_the_file_when_one_byte_changes(
    finished: Done, tmp_path: Path, name: str, after: bytes
) -> None:
    run_dir = tmp_path / "run"
    shutil.copytree(finished.run_dir, run_dir)
    verify_ok(run_dir)
    _change_one_byte(run_dir / name, after)
    r = synthgen("verify", run_dir, "--json")
    assert r.code == 1, r.stderr
    problems = r.json()["problems"]
    assert problems and all(p.startswith(name) for p in problems), problems
    assert name in r.stderr


def _as(fmt: str, rec: dict[str, Any]) -> dict[str, Any]:
    """A record in an export format, as docs/export.md describes it (the prompt is the instruction,
    then the input after a blank line when there is one)."""
    prompt = rec["instruction"] + (f"\n\n{rec['input']}" if rec["input"] else "")
    return {
        "alpaca": {k: rec[k] for k in ("instruction", "input", "output")},
        "messages": {
            "messages": [
                {"role": "user", "content": prompt},
                {"role": "assistant", "content": rec["output"]},
            ]
        },
        "sharegpt": {
            "conversations": [
                {"from": "human", "value": prompt},
                {"from": "gpt", "value": rec["output"]},
            ]
        },
        "prompt-completion": {"prompt": prompt, "completion": rec["output"]},
    }[fmt]


LOAD = textwrap.dedent(
    """
    import json, sys, datasets
    ds = datasets.load_dataset(sys.argv[1])
    print(json.dumps({k: [v.num_rows, sorted(v.column_names)] for k, v in ds.items()}))
    """
)


def test_every_export_loads_back_as_data_jsonl_and_datasets_reads_the_run_dir(
    finished: Done, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    shutil.copytree(finished.run_dir, run_dir)
    m = manifest(run_dir)
    records = read_jsonl(run_dir / "data.jsonl")
    position = {r["id"]: i for i, r in enumerate(records)}
    formats = m["config"]["outputs"]["formats"]
    assert formats == ["alpaca", "messages", "sharegpt", "prompt-completion"]
    splits_seen: dict[str, dict[str, str]] = {}
    for fmt in formats:
        of = {json.dumps(_as(fmt, r), sort_keys=True): r["id"] for r in records}
        split_of: dict[str, str] = {}
        for split in ("train", "validation"):
            path = run_dir / f"{fmt}.{split}.jsonl"
            assert path.name in m["files"], f"{path.name} is not in the manifest"
            ids = []
            for row in read_jsonl(path):
                key = json.dumps(row, sort_keys=True)
                assert key in of, f"{path.name}: a row that is no record of data.jsonl: {row}"
                ids.append(of[key])
            assert ids == sorted(ids, key=position.__getitem__), f"{path.name}: out of order"
            split_of |= dict.fromkeys(ids, split)
            assert len(ids) == len(set(ids))
        assert sorted(split_of) == sorted(position), f"{fmt}: not every record exported once"
        assert "validation" in split_of.values()
        splits_seen[fmt] = split_of
    assert all(s == splits_seen["alpaca"] for s in splits_seen.values()), "splits differ"

    if importlib.util.find_spec("datasets") is None:
        pytest.skip("datasets is not installed (it is in the dev extra)")
    _, head, _ = (run_dir / "README.md").read_text(encoding="utf-8").split("---\n", 2)
    (config,) = yaml.safe_load(head)["configs"]
    card_splits = {f["split"]: f["path"] for f in config["data_files"]}
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE"))}
    env |= {
        "HF_DATASETS_OFFLINE": "1",
        "HF_HUB_OFFLINE": "1",
        "HF_HOME": str(home / "hf"),
        "HF_DATASETS_CACHE": str(home / "hf" / "datasets"),
        "HOME": str(home),
        "XDG_CACHE_HOME": str(home / "cache"),
    }
    out = subprocess.run(
        [sys.executable, "-c", LOAD, str(run_dir)],
        env=env,
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    loaded = json.loads(out.stdout.splitlines()[-1])
    first = formats[0]
    assert card_splits == {s: f"{first}.{s}.jsonl" for s in ("train", "validation")}
    columns = sorted(_as(first, records[0]))
    assert loaded == {
        split: [len(read_jsonl(run_dir / path)), columns] for split, path in card_splits.items()
    }


def test_a_gate_beyond_reach_stops_with_3_naming_gate_threshold_and_value(
    endpoint: StandinHandle, tmp_path: Path
) -> None:
    # Rules drop some candidates, so fewer than 99% of those that had their chance are kept.
    changes = {
        "gates": {"min_keep_rate": 0.99, "min_candidates": 10},
        "filter.rules.min_words": 9,
    }
    cfg = write_config(tmp_path / "run.yaml", tmp_path / "run", tmp_path / ".synthgen", changes)
    r = synthgen(*run_cmd(cfg, endpoint.base_url, "--count", "20", "--json"))
    assert r.code == 3, r.stderr
    s = r.json()
    assert s["status"] == "stopped_gate" and s["exit_code"] == 3
    gate = s["gate"]
    assert gate["gate"] == "min_keep_rate" and gate["threshold"] == 0.99, gate
    measured = gate["measured"]
    assert isinstance(measured, float) and measured < 0.99
    counts = s["counts"]
    surplus = sum(counts["dropped"].get("surplus", {}).values())  # never had their chance
    assert measured == round(counts["kept"] / (counts["candidates"] - surplus), 4)
    for text in ("min_keep_rate", "0.99", str(measured)):
        assert text in r.stderr, f"{text!r} is not on stderr:\n{r.stderr}"
    assert manifest(tmp_path / "run")["status"] == "stopped_gate"


def test_dry_run_sends_nothing_and_estimates_requests_cost_and_time(
    endpoint: StandinHandle, tmp_path: Path
) -> None:
    cfg = write_config(tmp_path / "run.yaml", tmp_path / "run", tmp_path / ".synthgen")
    before = endpoint.stats()["requests_total"]
    r = synthgen(*run_cmd(cfg, endpoint.base_url, "--count", "30", "--dry-run", "--json"))
    assert r.code == 0, r.stderr
    assert endpoint.stats()["requests_total"] == before, "--dry-run sent requests"
    est = r.json()
    assert est["target"] == 30
    assert est["requests"] == est["generation_requests"] + est["judge_requests"] > 0
    assert est["judge_requests"] >= len(read_jsonl(SEEDS))  # the calibration seeds at least
    assert est["cost_usd"] > 0 and est["price_known"] is True
    assert est["estimated_seconds"] > 0
    assert not (tmp_path / "run").exists(), "--dry-run wrote a run dir"

    r = synthgen(*run_cmd(cfg, endpoint.base_url, "--count", "30", "--dry-run"))
    assert r.code == 0 and r.stdout == ""
    assert "dry run" in r.stderr and "requests" in r.stderr and "$" in r.stderr


def test_python_api_returns_a_typed_run_summary_and_prints_nothing(
    endpoint: StandinHandle, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import synthgen

    cfg = write_config(tmp_path / "run.yaml", tmp_path / "cfg-dir", tmp_path / "cfg-state")
    run_dir = tmp_path / "run"
    options: dict[str, Any] = {
        "count": 20,
        "base_url": endpoint.base_url,
        "state_dir": tmp_path / ".synthgen",
        "out": run_dir,
    }
    run = synthgen.run
    assert callable(run), f"synthgen.run is {run!r}, not the API function"
    s = run(cfg, **options)
    assert isinstance(s, synthgen.RunSummary)
    assert (s.status, s.exit_code, s.target, s.counts["kept"]) == ("complete", 0, 20, 20)
    assert Path(s.run_dir) == run_dir
    assert len(read_jsonl(run_dir / "data.jsonl")) == 20
    assert capsys.readouterr() == ("", "")
    assert not (tmp_path / "cfg-dir").exists(), "out= did not override outputs.dir"
    assert not (tmp_path / "cfg-state").exists(), "state_dir= did not override state_dir"
    data = (run_dir / "data.jsonl").read_bytes()

    again = synthgen.run(cfg, **options)  # rerunning the same call replays it
    assert (again.status, again.requests.sent) == ("complete", 0)
    assert (run_dir / "data.jsonl").read_bytes() == data
    assert capsys.readouterr() == ("", "")

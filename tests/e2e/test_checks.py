"""Checks that execute, over real HTTP against the stand-in: `run` on the bundled text-to-SQL
and triage configs keeps exactly N records that pass, each fault the stand-in plants ends
under its own reason, and the judge is never asked about a record a check dropped."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

from support.helpers import read_jsonl, run

from synthgen.standin import StandinHandle

REPO = Path(__file__).resolve().parents[2]
SQL_FAULTS = {"sql_missing_column": 0.15, "sql_delete": 0.15, "sql_attach": 0.15, "sql_loop": 0.1}


def _sha(text: str) -> str:
    return hashlib.sha256(text.strip().encode()).hexdigest()


def _run(standin: StandinHandle, tmp: Path, config: str, count: int) -> tuple[Any, Path]:
    out = tmp / "out"
    args = ["run", str(REPO / "configs" / config), "--base-url", standin.base_url]
    r = run([*args, "--count", str(count), "--out", str(out), "--state-dir", str(tmp / "s")])
    return r, out


def _judged(standin: StandinHandle) -> set[str]:
    log: list[dict[str, Any]] = standin.stats()["log"]  # type: ignore[assignment]
    return {e["judged_sha256"] for e in log if e.get("judged_sha256")}


def _reasons(out: Path) -> Counter[str]:
    return Counter(d["dropped"]["reason"] for d in read_jsonl(out / "dropped.jsonl"))


def test_run_text_to_sql_keeps_n_queries_that_run_and_ledgers_each_fault(
    standin: StandinHandle, tmp_path: Path
) -> None:
    standin.set_faults(judge_score_by_length=30, task_faults=SQL_FAULTS)
    r, out = _run(standin, tmp_path, "text-to-sql.yaml", 12)
    assert r.code == 0, r.stderr
    kept = read_jsonl(out / "data.jsonl")
    assert len(kept) == 12
    for rec in kept:  # every kept query runs against its own schema, re-executed here
        db = sqlite3.connect(":memory:")
        db.executescript(rec["input"])
        db.execute(rec["output"].rstrip().rstrip(";")).fetchmany(5)
        assert rec["output"].lstrip().upper().startswith(("SELECT", "WITH"))
        assert rec["provenance"]["checks"][0]["check"] == "sql"
    dropped = read_jsonl(out / "dropped.jsonl")
    by_reason: dict[str, list[str]] = {}
    for d in dropped:
        if d["dropped"]["stage"] == "checks":
            by_reason.setdefault(d["dropped"]["reason"], []).append(d["dropped"]["detail"])
    assert {"sql_error", "sql_not_readonly", "sql_timeout"} <= set(by_reason)
    assert any(m.startswith("no such column: ") for m in by_reason["sql_error"])
    writes = " ".join(by_reason["sql_not_readonly"])
    assert "delete " in writes and "attach " in writes
    # The judge saw every kept output and not one output a check dropped.
    judged = _judged(standin)
    assert {_sha(rec["output"]) for rec in kept} <= judged
    checked_out = [d for d in dropped if d["dropped"]["stage"] == "checks"]
    assert not {_sha(d["output"]) for d in checked_out} & judged
    manifest = json.loads((out / "manifest.json").read_text())
    ran = manifest["checks"]["sql"]
    assert ran["run"] - ran["passed"] == len(checked_out) and ran["top_messages"]
    assert manifest["counts"]["dropped"]["checks"] == Counter(
        d["dropped"]["reason"] for d in checked_out
    )


def test_run_triage_drops_labels_outside_the_seeds_and_missing_keys(
    standin: StandinHandle, tmp_path: Path
) -> None:
    faults = {"json_enum": 0.2, "json_missing_key": 0.3}
    standin.set_faults(judge_score_by_length=30, task_faults=faults)
    r, out = _run(standin, tmp_path, "support-triage.yaml", 16)
    assert r.code == 0, r.stderr
    kept = read_jsonl(out / "data.jsonl")
    assert len(kept) == 16
    categories = {"billing", "bug", "account", "feature_request", "shipping", "other"}
    for rec in kept:
        value = json.loads(rec["output"])
        assert set(value) == {"category", "urgency", "summary"}
        assert value["category"] in categories
    details = [
        d["dropped"]["detail"]
        for d in read_jsonl(out / "dropped.jsonl")
        if d["dropped"]["reason"] == "schema_mismatch"
    ]
    assert any(" is not one of " in x and x.startswith("$.") for x in details), details
    assert any(x.endswith("is a required property") for x in details), details


def _sql_seeds() -> list[dict[str, Any]]:
    return read_jsonl(REPO / "seeds" / "text_to_sql.jsonl")


def test_filter_check_sql_passes_the_bundled_seeds_and_drops_exactly_the_planted(
    tmp_path: Path,
) -> None:
    seeds = REPO / "seeds" / "text_to_sql.jsonl"
    every = tmp_path / "all.jsonl"
    r = run(["filter", str(seeds), "-o", str(every), "--no-judge", "--check", "sql"])
    assert r.code == 0, r.stderr
    assert len(read_jsonl(every)) == 25
    rows, planted = _sql_seeds(), {"sql_03", "sql_11", "sql_20"}
    for row in rows:
        if row["id"] in planted:  # a column the schema does not have
            row["output"] = row["output"].replace("SELECT ", "SELECT hallucinated_col, ", 1)
    bad = tmp_path / "planted.jsonl"
    bad.write_text("".join(json.dumps(x) + "\n" for x in rows))
    out = tmp_path / "kept.jsonl"
    r = run(["filter", str(bad), "-o", str(out), "--no-judge", "--check", "sql", "--json"])
    assert r.code == 0, r.stderr
    ledger = read_jsonl(tmp_path / "kept.ledger.jsonl")
    assert {d["provenance"]["source"]["id"] for d in ledger} == planted
    assert {d["dropped"]["detail"] for d in ledger} == {"no such column: hallucinated_col"}
    assert r.json()["checks"]["sql"]["passed"] == 22


def test_a_seed_that_fails_a_check_stops_the_run_before_anything_is_sent(
    standin: StandinHandle, tmp_path: Path
) -> None:
    rows = _sql_seeds()
    rows[6]["output"] = "SELECT e.salry FROM staff e"
    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text("".join(json.dumps(x) + "\n" for x in rows))
    cfg = (REPO / "configs" / "text-to-sql.yaml").read_text()
    cfg = cfg.replace("../seeds/text_to_sql.jsonl", str(seeds))
    cfg = cfg.replace("rubrics/text-to-sql.yaml", str(REPO / "configs/rubrics/text-to-sql.yaml"))
    path = tmp_path / "sql.yaml"
    path.write_text(cfg)
    r = run(["run", str(path), "--base-url", standin.base_url, "--out", str(tmp_path / "o")])
    assert r.code == 2
    assert "seed sql_07" in r.stderr and "no such column: e.salry" in r.stderr
    assert standin.stats()["log"] == []


def test_filter_check_python_runs_each_answer_against_the_tests_it_carries(
    tmp_path: Path,
) -> None:
    def row(i: int, code: str) -> dict[str, Any]:
        tests = ["assert add(2, 3) == 5", "assert add(-1, 1) == 0"]
        return {
            "instruction": f"Write add(a, b), case {i}.",
            "output": code,
            "meta": {"tests": tests},
        }

    rows = [
        row(1, "def add(a, b):\n    return a + b\n"),
        row(2, "def add(a, b):\n    return a - b\n"),
        row(3, "def add(a, b):\n    return a + b\nraise ValueError('boom')\n"),
    ]
    data = tmp_path / "code.jsonl"
    data.write_text("".join(json.dumps(x) + "\n" for x in rows))
    out = tmp_path / "kept.jsonl"
    r = run(["filter", str(data), "-o", str(out), "--no-judge", "--check", "python", "--json"])
    assert r.code == 0, r.stderr
    (kept,) = read_jsonl(out)
    assert kept["output"] == rows[0]["output"]
    assert kept["provenance"]["checks"][0]["check"] == "python"
    drops = {
        d["dropped"]["reason"]: d["dropped"]["detail"]
        for d in read_jsonl(tmp_path / "kept.ledger.jsonl")
    }
    assert drops == {"tests_failed": "AssertionError", "code_error": "ValueError: boom"}

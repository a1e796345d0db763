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


def _chats(standin: StandinHandle) -> list[dict[str, Any]]:
    log: list[dict[str, Any]] = standin.stats()["log"]  # type: ignore[assignment]
    return [e for e in log if e["path"].endswith("/chat/completions")]


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
    # The report counts every checked candidate (kept, deduplicated, judged below the
    # threshold, surplus) as the manifest does, in its JSON and in report.html alike.
    rep = run(["report", str(out), "--json"])
    assert rep.code == 0, rep.stderr
    block = {k: {**v, "seconds": None} for k, v in manifest["checks"].items()}
    assert {k: {**v, "seconds": None} for k, v in rep.json()["checks"].items()} == block
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "Checks that execute" in page and f"{ran['passed']}/{ran['run']}" in page


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


def test_filter_repair_fixes_planted_columns_over_http_and_a_rerun_replays_it(
    standin: StandinHandle, tmp_path: Path
) -> None:
    rows, planted = _sql_seeds(), {"sql_03", "sql_11", "sql_20"}
    for row in rows:
        if row["id"] in planted:
            row["output"] = row["output"].replace("SELECT ", "SELECT hallucinated_col, ", 1)
    bad = tmp_path / "planted.jsonl"
    bad.write_text("".join(json.dumps(x) + "\n" for x in rows))
    cfg = tmp_path / "repair.yaml"
    cfg.write_text("filter:\n  checks:\n    sql: {}\n    repair: 1\n")
    base = ["filter", str(bad), "--config", str(cfg), "--no-judge", "--check", "sql"]
    args = [*base, "--base-url", standin.base_url, "--state-dir", str(tmp_path / "s"), "--json"]
    out = tmp_path / "kept.jsonl"
    r = run([*args, "-o", str(out)])
    assert r.code == 0, r.stderr
    assert len(_chats(standin)) == 3  # one repair request per failed record, nothing else
    kept = read_jsonl(out)
    assert len(kept) == 25  # 22 without repair: the yield went up
    repaired = [k for k in kept if "repair" in k["provenance"]]
    assert len(repaired) == 3
    for rec in repaired:  # each repaired query runs against its own schema, re-executed here
        db = sqlite3.connect(":memory:")
        db.executescript(rec["input"])
        db.execute(rec["output"].rstrip().rstrip(";")).fetchmany(5)
        note = rec["provenance"]["repair"]
        assert note["check"] == "sql" and note["result"] == "passed"
        assert note["first_failure"] == "no such column: hallucinated_col"
        assert note["usage"]["completion_tokens"] > 0
        assert rec["provenance"]["checks"][0]["check"] == "sql"
    ledger = read_jsonl(tmp_path / "kept.ledger.jsonl")
    assert {d["provenance"]["source"]["id"] for d in ledger} == planted
    assert {d["dropped"]["reason"] for d in ledger} == {"repaired"}
    assert {d["provenance"]["repair"]["into"] for d in ledger} == {k["id"] for k in repaired}
    summary = r.json()
    assert summary["counts"]["input"] == 28  # 25 rows and 3 repaired answers
    assert summary["checks"]["sql"]["passed"] == 22  # first attempts only
    assert summary["check_repairs"] == {
        "asked": 3,
        "repaired": 3,
        "by_check": {"sql": {"asked": 3, "repaired": 3}},
    }
    # the repairs are cached like any request: a rerun replays them, the same records again
    again = tmp_path / "again.jsonl"
    r = run([*args, "-o", str(again)])
    assert r.code == 0, r.stderr
    replayed = read_jsonl(again)
    assert [(k["id"], k["output"]) for k in replayed] == [(k["id"], k["output"]) for k in kept]
    assert [k["provenance"].get("repair") for k in replayed] == [
        k["provenance"].get("repair") for k in kept
    ]
    assert len(_chats(standin)) == 3


CODE_SEEDS = [
    (
        "Write add(a, b) that returns the sum of two numbers.",
        "def add(a, b):\n    return a + b\n",
        ["assert add(2, 3) == 5"],
    ),
    (
        "Write square(n) that returns n squared.",
        "def square(n):\n    return n * n\n",
        ["assert square(4) == 16"],
    ),
    (
        "Write last(items) that returns the last item of a list.",
        "def last(items):\n    return items[-1]\n",
        ["assert last([1, 2]) == 2"],
    ),
]
CODE_FAULTS = {"code_fails_tests": 0.25, "code_loop": 0.15, "code_alloc": 0.15, "code_raise": 0.15}


def test_run_code_task_asks_for_tests_and_ledgers_each_code_fault(
    standin: StandinHandle, tmp_path: Path
) -> None:
    seeds = tmp_path / "code.jsonl"
    seeds.write_text(
        "".join(
            json.dumps({"instruction": i, "output": o, "meta": {"tests": t}}) + "\n"
            for i, o, t in CODE_SEEDS
        )
    )
    cfg = tmp_path / "code.yaml"
    cfg.write_text(
        f"task: python-functions\nseeds: [{seeds}]\n"
        "generation: {strategy: self-instruct, per_call: 4, seed: 1}\n"
        "filter:\n  judge: {enabled: false}\n"
        "  checks:\n    python: {cpu_s: 1, timeout_s: 1, memory_mb: 256}\n"
        "dedup: {method: exact}\n"
    )
    standin.set_faults(task_faults=CODE_FAULTS)
    out = tmp_path / "out"
    args = ["run", str(cfg), "--base-url", standin.base_url, "--count", "3"]
    r = run([*args, "--out", str(out), "--state-dir", str(tmp_path / "s")])
    assert r.code == 0, r.stderr
    kept = read_jsonl(out / "data.jsonl")
    assert len(kept) == 3
    # the reply schema had a tests field (python is configured), which the stand-in fills
    for rec in kept:  # each carries the tests it was generated with, and they pass here
        assert rec["meta"]["tests"].startswith("assert ")
        namespace: dict[str, Any] = {}
        exec(rec["output"] + "\n" + rec["meta"]["tests"], namespace)
        assert rec["provenance"]["checks"][0]["check"] == "python"
    reasons = _reasons(out)
    assert {"tests_failed", "code_timeout", "code_error"} <= set(reasons), reasons
    details = {
        d["dropped"]["detail"]
        for d in read_jsonl(out / "dropped.jsonl")
        if d["dropped"]["stage"] == "checks"
    }
    assert any(x.startswith("MemoryError") for x in details), details
    assert any(x.startswith("ValueError: invalid literal") for x in details), details


def test_run_repairs_failed_queries_and_keeps_exactly_n_that_run(
    standin: StandinHandle, tmp_path: Path
) -> None:
    cfg = (REPO / "configs" / "text-to-sql.yaml").read_text()
    cfg = cfg.replace("../seeds/text_to_sql.jsonl", str(REPO / "seeds" / "text_to_sql.jsonl"))
    cfg = cfg.replace("rubrics/text-to-sql.yaml", str(REPO / "configs/rubrics/text-to-sql.yaml"))
    cfg = cfg.replace("    sql: {}", "    repair: 1\n    sql: {}", 1)
    path = tmp_path / "sql.yaml"
    path.write_text(cfg)
    standin.set_faults(judge_score_by_length=30, task_faults={"sql_missing_column": 0.3})
    out = tmp_path / "out"
    args = ["run", str(path), "--base-url", standin.base_url, "--count", "8"]
    r = run([*args, "--out", str(out), "--state-dir", str(tmp_path / "s")])
    assert r.code == 0, r.stderr
    kept = read_jsonl(out / "data.jsonl")
    assert len(kept) == 8
    for rec in kept:  # every kept query runs against its own schema, re-executed here
        db = sqlite3.connect(":memory:")
        db.executescript(rec["input"])
        db.execute(rec["output"].rstrip().rstrip(";")).fetchmany(5)
    dropped = read_jsonl(out / "dropped.jsonl")
    repaired = [d for d in dropped if d["dropped"]["reason"] == "repaired"]
    assert repaired and all(d["dropped"]["detail"].startswith("sql sql_error: ") for d in repaired)
    assert any("no such column: " in d["dropped"]["detail"] for d in repaired)
    into = {d["provenance"]["repair"]["into"] for d in repaired}
    fixed = [k for k in kept if "repair" in k["provenance"]]
    assert fixed and {k["id"] for k in fixed} <= into
    assert all(k["provenance"]["repair"]["result"] == "passed" for k in fixed)
    manifest = json.loads((out / "manifest.json").read_text())
    repairs = manifest["check_repairs"]
    assert repairs["asked"] >= len(repaired) and repairs["repaired"] == len(repaired)
    counts = manifest["counts"]
    assert counts["candidates"] == counts["kept"] + sum(
        sum(v.values()) for v in counts["dropped"].values()
    )
    rep = run(["report", str(out), "--json"])  # first attempts, as the manifest counts them
    sql = {k: v for k, v in manifest["checks"]["sql"].items() if k != "seconds"}
    assert {k: v for k, v in rep.json()["checks"]["sql"].items() if k != "seconds"} == sql
    # the repairs were cached like any request: offline, the same bytes come back
    sent = len(_chats(standin))
    again = tmp_path / "again"
    r = run([*args, "--out", str(again), "--state-dir", str(tmp_path / "s"), "--offline"])
    assert r.code == 0, r.stderr
    for name in ("data.jsonl", "dropped.jsonl"):
        assert (again / name).read_bytes() == (out / name).read_bytes()
    assert len(_chats(standin)) == sent


def test_filter_a_repair_that_fails_again_drops_under_the_checks_reason(
    standin: StandinHandle, tmp_path: Path
) -> None:
    rows = read_jsonl(REPO / "seeds" / "support_triage.jsonl")
    rows[0]["output"] = rows[0]["output"].replace('"billing"', '"refunds"')
    bad = tmp_path / "planted.jsonl"
    bad.write_text("".join(json.dumps(x) + "\n" for x in rows))
    cfg = tmp_path / "repair.yaml"
    seeds = REPO / "seeds" / "support_triage.jsonl"
    cfg.write_text(f"seeds: [{seeds}]\nfilter:\n  checks:\n    json_schema: {{}}\n    repair: 1\n")
    out = tmp_path / "kept.jsonl"
    args = ["filter", str(bad), "--config", str(cfg), "--no-judge", "-o", str(out)]
    r = run([*args, "--base-url", standin.base_url, "--state-dir", str(tmp_path / "s"), "--json"])
    assert r.code == 0, r.stderr
    assert len(read_jsonl(out)) == len(rows) - 1
    (drop,) = read_jsonl(tmp_path / "kept.ledger.jsonl")
    # the stand-in cannot fix a label it was never shown: the repair's answer fails again
    assert drop["dropped"]["reason"] == "schema_mismatch"
    detail = drop["dropped"]["detail"]
    assert (
        detail.startswith("$.category: 'refunds' is not one of ") and " · repair asked: " in detail
    )
    note = drop["provenance"]["repair"]
    assert note["result"].startswith(("still fails json_schema", "unusable reply"))
    assert r.json()["check_repairs"] == {
        "asked": 1,
        "repaired": 0,
        "by_check": {"json_schema": {"asked": 1, "repaired": 0}},
    }
    assert r.json()["counts"]["input"] == len(rows)  # nothing repaired: no new candidate

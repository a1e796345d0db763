"""The stand-in's executable answers and faults, the report's checks block, and the schema
`seeds inspect --emit-schema` writes."""

from __future__ import annotations

import json
import random
from pathlib import Path

from support.helpers import run

from synthgen.settings.checks import SqlCheck
from synthgen.stages.filter.checks.outcome import Subject
from synthgen.stages.filter.checks.sql import SqlExecutor
from synthgen.stages.report.checks import checks_block
from synthgen.standin.tasks import TASK_FAULTS, make_schema, query, sql_fault

ROOT = Path(__file__).resolve().parents[2]
EXPECTED = {
    "sql_missing_column": "sql_error",
    "sql_delete": "sql_not_readonly",
    "sql_attach": "sql_not_readonly",
    "sql_loop": "sql_timeout",
}


def test_standin_queries_run_on_their_schema_and_each_fault_fails_as_its_own() -> None:
    ex = SqlExecutor(SqlCheck(max_steps=100_000))
    words = ["salary", "department", "nothing", "select", "order", "hired_on"]
    for i in range(25):
        rng = random.Random(i)
        tables = make_schema(rng, words)
        schema = "\n".join(t.ddl() for t in tables)
        good = query(rng, tables, rng.randint(80, 200))
        assert ex.run(Subject("", schema, good)) is None, (schema, good)
        for fault in (f for f in TASK_FAULTS if f.startswith("sql")):
            failed = ex.run(Subject("", schema, sql_fault(fault, rng, tables, good)))
            assert failed is not None and failed.reason == EXPECTED[fault], (fault, failed)


def test_the_report_gives_each_checks_pass_rate_and_top_messages(tmp_path: Path) -> None:
    passed = {"provenance": {"checks": [{"check": "sql", "executor": "sqlite"}]}}
    data = tmp_path / "data.jsonl"
    data.write_text(json.dumps(passed) + "\n")
    ledger = tmp_path / "dropped.jsonl"
    drops = [
        {"dropped": {"stage": "checks", "reason": "sql_error", "detail": "no such column: x"}},
        {"dropped": {"stage": "checks", "reason": "sql_error", "detail": "no such column: x"}},
        {"dropped": {"stage": "judge", "reason": "below_threshold"}, **passed},
        {"dropped": {"stage": "rules", "reason": "refusal"}},
    ]
    ledger.write_text("".join(json.dumps(d) + "\n" for d in drops))
    block = checks_block(data, ledger)
    assert block == {
        "sql": {
            "run": 4,
            "passed": 2,
            "pass_rate": 0.5,
            "top_messages": [{"message": "no such column: x", "count": 2}],
        }
    }
    plain = tmp_path / "plain.jsonl"
    plain.write_text(json.dumps({"provenance": {}}) + "\n")
    assert checks_block(plain, None) is None  # no check ran on these


def test_seeds_inspect_emits_the_schema_the_json_schema_check_infers(tmp_path: Path) -> None:
    out = tmp_path / "triage.schema.json"
    seeds = ROOT / "seeds" / "support_triage.jsonl"
    r = run(["seeds", "inspect", str(seeds), "--emit-schema", str(out), "--json"])
    assert r.code == 0, r.stderr
    schema = json.loads(out.read_text())
    assert schema == r.json()["output_schema"]
    assert schema["properties"]["urgency"]["enum"] == ["high", "low", "medium"]
    bad = run(
        ["seeds", "inspect", str(ROOT / "seeds" / "text_to_sql.jsonl"), "--emit-schema", str(out)]
    )
    assert bad.code == 2 and "not all JSON objects" in bad.stderr

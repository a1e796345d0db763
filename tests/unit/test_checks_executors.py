"""The executors of filter.checks: what each runs, what it refuses, where it stops."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from synthgen.errors import UsageError
from synthgen.records import Seed
from synthgen.settings.checks import ChecksConfig, JsonSchemaCheck, PythonCheck, SqlCheck
from synthgen.stages.filter.checks.json_schema import JsonSchemaExecutor, infer_schema
from synthgen.stages.filter.checks.outcome import Subject
from synthgen.stages.filter.checks.python import PythonExecutor
from synthgen.stages.filter.checks.runner import Checks
from synthgen.stages.filter.checks.sql import SqlExecutor

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = "CREATE TABLE employees (id INTEGER PRIMARY KEY, name TEXT NOT NULL, salary INTEGER);"
LOOP = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"


def _sql(query: str, schema: str = SCHEMA, **cfg: object) -> tuple[str, str] | None:
    failed = SqlExecutor(SqlCheck(**cfg)).run(Subject("q", schema, query))  # type: ignore[arg-type]
    return None if failed is None else (failed.reason, failed.detail)


def test_sql_runs_a_query_against_the_records_own_schema() -> None:
    assert _sql("SELECT name, AVG(salary) FROM employees GROUP BY name;") is None
    assert _sql("```sql\nSELECT name FROM employees;\n```") is None
    assert _sql("SELECT salry FROM employees") == ("sql_error", "no such column: salry")
    assert _sql("SELECT name FROM staff") == ("sql_error", "no such table: staff")


@pytest.mark.parametrize(
    ("query", "action"),
    [
        ("DELETE FROM employees", "delete employees"),
        ("UPDATE employees SET salary = 0", "update employees"),
        ("INSERT INTO employees (name) VALUES ('x')", "insert employees"),
        ("ATTACH DATABASE 'other.db' AS other", "attach other.db"),
        ("PRAGMA writable_schema = 1", "pragma writable_schema"),
        ("DROP TABLE employees", "delete sqlite_master"),
    ],
)
def test_a_writing_query_is_refused_and_changes_nothing(
    query: str, action: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # an ATTACH that ran would create other.db here
    fixtures = tmp_path / "rows.sql"
    fixtures.write_text("INSERT INTO employees VALUES (1, 'ada', 10);\n")
    ex = SqlExecutor(SqlCheck(fixtures=fixtures))
    db = "CREATE TABLE employees (id INTEGER PRIMARY KEY, name TEXT, salary INTEGER);"
    dumps: list[list[str]] = []
    orig = ex._query

    def query_then_dump(con: sqlite3.Connection, q: str) -> object:
        out = orig(con, q)
        dumps.append(list(con.iterdump()))
        return out

    ex._query = query_then_dump  # type: ignore[method-assign]
    failed = ex.run(Subject("", db, query))
    assert failed is not None and failed.reason == "sql_not_readonly"
    assert failed.detail == f"not a read-only query: {action}"
    before = sqlite3.connect(":memory:")
    before.executescript(db + fixtures.read_text())
    assert dumps == [list(before.iterdump())]  # the database is exactly as built
    assert not (tmp_path / "other.db").exists()


def test_a_runaway_query_is_stopped_at_its_step_limit() -> None:
    # steps, not a clock: the same query stops at the same point on any machine
    failed = _sql(LOOP, max_steps=20_000, timeout_ms=600_000)
    assert failed is not None and failed[0] == "sql_timeout"
    assert "20000 steps" in failed[1]
    assert _sql(LOOP.replace("FROM c)", "FROM c WHERE x < 10)")) is None


def test_sql_row_cap_multiple_statements_and_a_broken_schema() -> None:
    big = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c"
    assert _sql(big, max_rows=5) is None  # unbounded, but only 5 rows are ever read
    assert _sql("SELECT 1; DELETE FROM employees") is not None
    failed = _sql("SELECT 1", schema="CREATE TABLE (")
    assert failed is not None and failed[0] == "sql_error" and "schema" in failed[1]


def test_sql_fixtures_flag_an_empty_result_and_dialects_translate(tmp_path: Path) -> None:
    rows = tmp_path / "rows.sql"
    rows.write_text(
        "INSERT INTO employees VALUES (1, 'ada', 10);\nINSERT INTO other_table VALUES (1);\n"
    )
    assert _sql("SELECT name FROM employees WHERE salary > 50", fixtures=rows) is None
    assert _sql("SELECT name FROM employees WHERE salary > 5", fixtures=rows) is None
    assert _sql("SELECT name::TEXT FROM employees LIMIT 2", dialect="postgres") is None
    with pytest.raises(UsageError, match="dialect"):
        SqlExecutor(SqlCheck(dialect="no-such-dialect"))


def _seed(id: str, schema: str, query: str) -> Seed:
    return Seed(id=id, instruction="q", input=schema, output=query, source={})


def test_sql_empty_result_flags_only_where_a_seed_of_the_same_schema_has_rows(
    tmp_path: Path,
) -> None:
    rows = tmp_path / "rows.sql"
    rows.write_text("INSERT INTO employees VALUES (1, 'ada', 10);\n")
    other = "CREATE TABLE depts (id INTEGER PRIMARY KEY, title TEXT);"
    seeds = [
        _seed("s-empty", SCHEMA, "SELECT name FROM employees WHERE salary > 99"),
        _seed("s-rows", "  " + SCHEMA.upper(), "SELECT name FROM employees"),
        _seed("s-depts", other, "SELECT title FROM depts"),
    ]
    ex = SqlExecutor(SqlCheck(fixtures=rows), seeds)
    assert ex.seed_rows == {" ".join(SCHEMA.split()).lower(): "s-rows"}

    def run(schema: str, query: str) -> tuple[str, str] | None:
        failed = ex.run(Subject("q", schema, query))
        return None if failed is None else (failed.reason, failed.detail)

    assert run(SCHEMA, "SELECT name FROM employees WHERE salary > 5") is None
    assert run(SCHEMA, "SELECT name FROM employees WHERE salary > 50") == (
        "sql_empty_result",
        "no rows on the fixtures' data, where seed s-rows has rows",
    )
    # no seed of this schema returns rows (the fixtures hold none for it): nothing to compare
    assert run(other, "SELECT title FROM depts WHERE id > 5") is None


def test_every_bundled_seed_query_runs_against_its_schema() -> None:
    ex = SqlExecutor(SqlCheck())
    for line in (ROOT / "seeds" / "text_to_sql.jsonl").read_text().splitlines():
        seed = json.loads(line)
        assert ex.run(Subject(seed["instruction"], seed["input"], seed["output"])) is None


def _triage() -> list[str]:
    lines = (ROOT / "seeds" / "support_triage.jsonl").read_text().splitlines()
    return [json.loads(x)["output"] for x in lines]


def test_the_schema_inferred_from_the_seeds_names_path_and_rule() -> None:
    schema = infer_schema(_triage())
    assert schema is not None
    assert schema["required"] == ["category", "urgency", "summary"]
    assert "enum" not in schema["properties"]["summary"]  # prose, not a label
    ex = JsonSchemaExecutor(schema)
    for out in _triage():
        assert ex.run(Subject("", "", out)) is None
    bad = ex.run(Subject("", "", '{"category": "refunds", "urgency": "high", "summary": "s"}'))
    assert bad is not None and bad.reason == "schema_mismatch"
    assert bad.detail.startswith("$.category: 'refunds' is not one of account, billing, bug")
    missing = ex.run(Subject("", "", '{"category": "bug", "summary": "s"}'))
    assert missing is not None and missing.detail == "$: 'urgency' is a required property"
    assert infer_schema(["not json"]) is None


def _py(code: str, tests: str = "", **cfg: object) -> tuple[str, str] | None:
    failed = PythonExecutor(PythonCheck(**cfg)).run(Subject("", "", code, tests))  # type: ignore[arg-type]
    return None if failed is None else (failed.reason, failed.detail)


def test_python_runs_code_against_the_tests_it_carries() -> None:
    assert _py("def inc(x):\n    return x + 1\n", "assert inc(1) == 2") is None
    assert _py("def inc(x):\n    return x\n", "assert inc(1) == 2, 'inc(1) != 2'") == (
        "tests_failed",
        "AssertionError: inc(1) != 2",
    )
    assert _py("1 / 0") == ("code_error", "ZeroDivisionError: division by zero")


def test_python_sees_no_environment_and_an_empty_directory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SYNTHGEN_SECRET_PROBE", "x")
    code = "import os, sys\nENV = dict(os.environ)\nFILES = sorted(os.listdir('.'))\n"
    tests = (
        "assert 'SYNTHGEN_SECRET_PROBE' not in ENV, ENV\n"
        "assert FILES == ['err', 'harness.py', 'out', 'solution.py', 'tests.py'], FILES\n"
        "assert sys.flags.isolated == 1\n"
    )
    assert _py(code, tests) is None


def test_a_runaway_program_is_stopped_within_its_limits() -> None:
    assert _py("while True:\n    pass\n", cpu_s=1, timeout_s=60) == (
        "code_timeout",
        "stopped at the CPU limit (1 s)",
    )
    hog = _py("x = []\nwhile True:\n    x.append(bytearray(10**7))\n", memory_mb=128)
    assert hog == ("code_error", "MemoryError: the memory limit was reached")
    big = _py("open('f', 'w').write('x' * 3 * 2**20)", file_mb=1)
    assert big is not None and big[0] == "code_error" and "File too large" in big[1]


def test_checks_run_in_order_and_stop_on_a_failing_seed() -> None:
    seed = Seed(id="s1", instruction="q", input=SCHEMA, output="SELECT name FROM employees")
    checks = Checks(ChecksConfig(sql=SqlCheck()), [seed])
    checks.check_seeds([seed])
    assert checks.provenance()[0]["check"] == "sql"
    bad = seed.model_copy(update={"id": "s2", "output": "SELECT salry FROM employees"})
    with pytest.raises(UsageError, match=r"seed s2 .* sql check: sql_error: no such column: salry"):
        checks.check_seeds([seed, bad])
    assert checks.check(checks.subject("q", SCHEMA, "SELECT salry FROM employees", None)) == (
        "sql",
        "sql_error",
        "no such column: salry",
    )
    assert checks.report()["sql"]["pass_rate"] == 0.0
    with pytest.raises(UsageError, match="no schema"):
        Checks(ChecksConfig(json_schema=JsonSchemaCheck()), [seed])

"""`make bench` section "checks": the checks that execute, on one core.

1. SQL checks/s: the `sql` executor (a fresh in-memory SQLite per record, the schema built,
   the query prepared under the read-only authorizer and run) over stand-in-shaped records:
   one- or two-table schemas and queries that run, plus the bundled seeds.
2. JSON validations/s: the `json_schema` executor (parse + validate) with the schema inferred
   from the support-triage seeds, over the seeds' outputs and enum/key violations.
3. Share of a run: `synthgen run` on the bundled text-to-sql config (its `sql` check on) and
   on the support-triage config (`json_schema`) against the stand-in, N records each: the
   seconds the checks took (the summary's `checks.*.seconds`) ÷ the run's wall time
   (target < 5%).
"""

from __future__ import annotations

import json
import random
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from run import PY, REPO, standin

from synthgen.settings.checks import SqlCheck
from synthgen.stages.filter.checks.json_schema import JsonSchemaExecutor, infer_schema
from synthgen.stages.filter.checks.outcome import Subject
from synthgen.stages.filter.checks.sql import SqlExecutor
from synthgen.standin.tasks import make_schema, query

TARGET_SHARE = 0.05
N = 300  # records each run keeps
SQL_RECORDS, JSON_RECORDS = 3000, 30000


def _rate(run: Any, subjects: list[Subject]) -> float:
    t0 = time.perf_counter()
    for s in subjects:
        run(s)
    return len(subjects) / (time.perf_counter() - t0)


def _sql_subjects() -> list[Subject]:
    rng = random.Random(7)
    words = ["salary", "department", "order", "customer", "invoice", "region", "amount"]
    out = []
    for _ in range(SQL_RECORDS):
        tables = make_schema(rng, words)
        schema = "\n".join(t.ddl() for t in tables)
        out.append(Subject("", schema, query(rng, tables, rng.randint(80, 200))))
    seeds = (REPO / "seeds" / "text_to_sql.jsonl").read_text().splitlines()
    out += [Subject("", (d := json.loads(x))["input"], d["output"]) for x in seeds]
    return out


def _json_subjects() -> tuple[dict[str, Any], list[Subject]]:
    lines = (REPO / "seeds" / "support_triage.jsonl").read_text().splitlines()
    outputs = [json.loads(x)["output"] for x in lines]
    schema = infer_schema(outputs)
    assert schema is not None
    bad = ['{"category": "refunds", "urgency": "high", "summary": "s"}', '{"category": "bug"}']
    pool = outputs + bad
    return schema, [Subject("", "", pool[i % len(pool)]) for i in range(JSON_RECORDS)]


def _share(config: str, d: Path) -> tuple[float, float, int]:
    """(checks' seconds, the run's wall seconds, records checked) of one run."""
    with standin({"judge_score_by_length": 30}) as url:
        t0 = time.perf_counter()
        proc = subprocess.run(
            [PY, "-m", "synthgen", "run", str(REPO / "configs" / config), "--base-url", url,
             "--count", str(N), "--out", str(d / config), "--state-dir", str(d / f"{config}.s"),
             "--json"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"synthgen run {config} failed: {proc.stderr[-2000:]}")
    checks = json.loads(proc.stdout)["checks"]
    return sum(c["seconds"] for c in checks.values()), wall, sum(c["run"] for c in checks.values())


def run() -> tuple[bool, str]:
    sql = SqlExecutor(SqlCheck())
    sql_rate = _rate(sql.run, _sql_subjects())
    print(f"  sql: {sql_rate:,.0f} checks/s (one core; {sql.executor})")
    schema, subjects = _json_subjects()
    js = JsonSchemaExecutor(schema)
    json_rate = _rate(js.run, subjects)
    print(f"  json_schema: {json_rate:,.0f} validations/s (one core; {js.executor})")
    shares = []
    with tempfile.TemporaryDirectory() as tmp:
        for config in ("text-to-sql.yaml", "support-triage.yaml"):
            spent, wall, n = _share(config, Path(tmp))
            shares.append(spent / wall)
            print(
                f"  run {config} (N={N}): checks {spent:.3f} s over {n} records of "
                f"{wall:.1f} s wall = {spent / wall:.2%} (target < {TARGET_SHARE:.0%})"
            )
    ok = max(shares) < TARGET_SHARE
    return ok, (
        f"sql {sql_rate:,.0f}/s · json {json_rate:,.0f}/s · share of run ≤ {max(shares):.2%}"
    )

"""filter.checks.repair: the one repair request, and what its answer must pass."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from synthgen.config import GenerationConfig
from synthgen.llm.types import Answer, ChatRequest
from synthgen.records import Usage
from synthgen.settings.checks import ChecksConfig, SqlCheck
from synthgen.stages.filter.checks.repair import Repairer
from synthgen.stages.filter.checks.runner import Checks
from synthgen.stages.filter.checks.sql import SqlExecutor

SCHEMA = "CREATE TABLE employees (id INTEGER PRIMARY KEY, name TEXT, salary INTEGER);"
FAILED = ("sql", "sql_error", "no such column: salry")


class FakeClient:
    """Answers every request with the next of `replies`, and keeps what it was asked."""

    model = "fake-generator"

    def __init__(self, *replies: str) -> None:
        self.replies, self.asked = list(replies), []  # type: ignore[var-annotated]

    async def chat(self, req: ChatRequest, followup: bool = False) -> list[Answer]:
        self.asked.append((req, followup))
        content = self.replies.pop(0)
        usage = Usage(prompt_tokens=50, completion_tokens=9, cost_usd=0.001)
        return [
            Answer(
                content=content,
                finish_reason="stop",
                request_id="r",
                resolved_model=self.model,
                structured="json_schema",  # type: ignore[arg-type]
                sampling="single",
                usage=usage,
                key="k1",
            )
        ]


def _repair(*replies: str) -> tuple[Any, FakeClient, Repairer]:
    client = FakeClient(*replies)
    rep = Repairer(Checks(ChecksConfig(sql=SqlCheck())), client, GenerationConfig())  # type: ignore[arg-type]
    got = asyncio.run(rep.repair("Names?", SCHEMA, "SELECT salry FROM employees", {}, FAILED))
    return got, client, rep


def test_a_repair_shows_the_executors_message_and_must_pass_the_same_check() -> None:
    got, client, rep = _repair(json.dumps({"output": "SELECT name FROM employees;"}))
    ((req, followup),) = client.asked
    asked = req.messages[-1]["content"]
    assert followup and SCHEMA in asked and "SELECT salry FROM employees" in asked
    assert "sql_error): no such column: salry" in asked
    assert got.passed and got.output == "SELECT name FROM employees;"
    assert got.note["result"] == "passed" and got.note["first_failure"] == FAILED[2]
    assert got.note["usage"] == {"prompt_tokens": 50, "completion_tokens": 9, "cost_usd": 0.001}
    assert rep.stats.as_json()["repaired"] == 1


def test_a_repair_that_still_fails_or_is_unusable_is_not_a_pass() -> None:
    got, _, rep = _repair(json.dumps({"output": "DELETE FROM employees"}))
    assert not got.passed and got.failure is not None
    assert got.failure[1] == "sql_not_readonly"
    assert got.note["result"].startswith("still fails sql: sql_not_readonly")
    assert rep.stats.as_json() == {
        "asked": 1,
        "repaired": 0,
        "by_check": {"sql": {"asked": 1, "repaired": 0}},
    }
    got, _, _ = _repair("I cannot help with that.")
    assert not got.passed and got.output is None
    assert got.note["result"].startswith("unusable reply")


def test_the_standin_repairs_over_the_schema_it_is_shown_and_writes_code_with_its_tests() -> None:
    import random

    from synthgen.settings.checks import PythonCheck
    from synthgen.stages.filter.checks.outcome import Subject
    from synthgen.stages.filter.checks.python import PythonExecutor
    from synthgen.stages.filter.checks.repair import repair_request
    from synthgen.standin.code import code_answer
    from synthgen.standin.repairs import is_check_repair, shown_tables
    from synthgen.standin.tasks import query

    schema = SCHEMA + "\nCREATE TABLE badges (id INTEGER, FOREIGN KEY (id) REFERENCES x(id));"
    req = repair_request("Names?", schema, "SELECT salry", "", FAILED, GenerationConfig())
    assert is_check_repair(req.messages) and not is_check_repair([{"role": "user", "content": "x"}])
    tables = shown_tables(req.messages)
    assert tables is not None and [t.name for t in tables] == ["employees"]
    sql = SqlExecutor(SqlCheck())
    for i in range(10):
        got = sql.run(Subject("q", schema, query(random.Random(i), tables, 120)))
        assert got is None
    py = PythonExecutor(PythonCheck(cpu_s=1, timeout_s=5, memory_mb=256))
    expected = {None: None, "code_fails_tests": "tests_failed", "code_raise": "code_error"}
    expected["code_alloc"] = "code_error"
    for fault, reason in expected.items():
        source, tests = code_answer(random.Random(7), fault)
        failed = py.run(Subject("q", "", source, tests))
        assert (failed.reason if failed else None) == reason, (fault, failed)

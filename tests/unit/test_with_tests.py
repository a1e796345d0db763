"""generation.with_tests: the reply asks for tests beside each answer (on by itself with
filter.checks.python), and a record carries them where the python check reads them."""

from __future__ import annotations

import pytest

from synthgen.config import Config, GenerationConfig
from synthgen.records import Seed
from synthgen.stages.expand.strategies import generation_of, make_job

SEEDS = [
    Seed(id=f"s{i}", instruction=f"Write f{i}(x).", output=f"def f{i}(x):\n    return x\n")
    for i in range(3)
]


@pytest.mark.parametrize("strategy", ["self-instruct", "paraphrase", "evol"])
def test_with_tests_adds_a_tests_field_and_asks_for_asserts(strategy: str) -> None:
    plain = GenerationConfig(strategy=strategy)  # type: ignore[arg-type]
    asked = plain.model_copy(update={"with_tests": True})
    before, after = make_job(1, plain, SEEDS, [], "code"), make_job(1, asked, SEEDS, [], "code")
    schema = after.request.json_schema or {}
    item = schema["properties"]["tasks"]["items"] if "tasks" in schema["properties"] else schema
    assert item["properties"]["tests"] == {"type": "string"} and "tests" in item["required"]
    assert "tests" not in str(before.request.json_schema)  # unchanged without it
    assert after.request.messages[:-1] == before.request.messages[:-1]
    last = after.request.messages[-1]["content"]
    assert last.startswith(before.request.messages[-1]["content"]) and '"tests" field' in last


def test_the_python_check_turns_tests_on_and_separate_responses_ask_none() -> None:
    cfg = Config.model_validate({"filter": {"checks": {"python": {}}}})
    assert generation_of(cfg).with_tests and not cfg.generation.with_tests
    assert not generation_of(Config()).with_tests
    gen = GenerationConfig(responses="separate", with_tests=True)
    job = make_job(1, gen, SEEDS, [], "code")
    assert "tests" not in str(job.request.json_schema)  # outputs come later, on their own

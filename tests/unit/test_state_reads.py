"""The public reads of a state dir that tests (and tools) use instead of raw SQL: the
response cache's answers, and forgetting learned capabilities."""

from __future__ import annotations

from pathlib import Path

import pytest

from synthgen.core.store import CachedAnswers, cached_answers, forget_capabilities, open_state
from synthgen.llm.cache import Capabilities, ResponseCache


def fill(state: Path) -> None:
    db = open_state(state)
    cache = ResponseCache(db)
    answers = [("gen", 0.5, "req_standin_3"), ("gen", 0.25, "req_standin_4"), ("judge", 1.0, None)]
    for i, (model, cost, rid) in enumerate(answers):
        body = {"content": "x", "request_id": rid}
        cache.put(
            f"k{i}",
            endpoint="http://127.0.0.1:1/v1",
            model=model,
            body=body,
            prompt_tokens=1,
            completion_tokens=1,
            cost_usd=cost,
        )
    Capabilities(db, "http://127.0.0.1:1/v1", "gen").learn("stream", "off", "refused")
    db.close()


def test_cached_answers_count_cost_and_request_ids(tmp_path: Path) -> None:
    fill(tmp_path)
    got = cached_answers(tmp_path)
    assert sorted(got.models) == ["gen", "gen", "judge"]
    assert got.by_model() == {"gen": (2, pytest.approx(0.75)), "judge": (1, 1.0)}
    assert sorted(got.request_ids, key=str) == [None, "req_standin_3", "req_standin_4"]


def test_a_state_dir_without_a_database_has_no_answers(tmp_path: Path) -> None:
    assert cached_answers(tmp_path / "nothing") == CachedAnswers()
    assert not (tmp_path / "nothing").exists()  # read, never created


def test_forgotten_capabilities_are_probed_again(tmp_path: Path) -> None:
    fill(tmp_path)
    forget_capabilities(tmp_path)
    db = open_state(tmp_path)
    assert Capabilities(db, "http://127.0.0.1:1/v1", "gen").get("stream", "unknown") == "unknown"
    db.close()
    assert len(cached_answers(tmp_path).models) == 3  # the answers stay

"""The first-token allowance of local endpoints: prompt tokens ÷ the slowest prompt rate
measured lately, times SAFETY, on top of the timeout; before any answer, DEFAULT_RATE."""

from __future__ import annotations

import pytest

from synthgen.llm.firsttoken import (
    DEFAULT_RATE,
    MAX_ALLOWANCE_S,
    SAFETY,
    FirstToken,
    first_token_report,
    timings_rate,
)


def test_before_any_answer_the_default_rate_sizes_the_allowance() -> None:
    f = FirstToken(timeout_s=4.0)
    assert f.allowance(600) == pytest.approx(4.0 + SAFETY * 600 / DEFAULT_RATE)
    assert f.allowance(0) == 4.0  # never less than the timeout


def test_the_slowest_measured_rate_rules_and_short_prompts_teach_nothing() -> None:
    f = FirstToken(timeout_s=2.0)
    f.learn(781, 40.9)  # llama.cpp under a CPU hog: 19 tokens/s
    f.learn(781, 4.0)
    f.learn(7, 1.8)  # seven tokens time the server's overhead, not its rate
    assert f.measured == 2 and f.rate == pytest.approx(781 / 40.9)
    assert f.allowance(781) == pytest.approx(2.0 + SAFETY * 40.9)
    assert f.allowance(10**9) == 2.0 + MAX_ALLOWANCE_S


def test_llama_cpp_timings_give_the_rate() -> None:
    assert timings_rate({"prompt_n": 781, "prompt_ms": 40919.0}) == (781, 40.919)
    assert timings_rate({"prompt_n": 0, "prompt_ms": 1.0}) is None
    assert timings_rate(None) is None


def test_the_report_names_only_endpoints_that_gave_an_allowance() -> None:
    used, unused = FirstToken(1.0), FirstToken(1.0)
    used.allowance(100)
    used.waited(3.25)
    report = first_token_report([("local", used), ("idle", unused), ("remote", None)])
    assert list(report["first_token"]) == ["local"]
    assert report["first_token"]["local"]["longest_first_token_s"] == 3.2
    assert first_token_report([("remote", None)]) == {}

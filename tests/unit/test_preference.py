"""How K scored responses become a preference pair: best chosen, worst rejected, a tie at the
top broken by a swapped pairwise check, and every reason a pair is not kept."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from synthgen.config import RulesConfig
from synthgen.records import Usage
from synthgen.stages.filter import preference
from synthgen.stages.filter.judge import Judgement, Opinion, Verdict
from synthgen.stages.filter.preference import PairOutcome, judge_pair
from synthgen.stages.filter.rules import Rules

RULES = Rules(RulesConfig(blacklist=[]))


class FakeJudge:
    """Scores each response by a table; records what it was asked."""

    def __init__(self, scores: dict[str, float]) -> None:
        self.scores, self.asked = scores, []  # type: ignore[var-annotated]

    async def judge(
        self, instruction: str, input: str, output: str, messages: Any = None
    ) -> Judgement:
        self.asked.append(output)
        v = Verdict(rationale="r", scores={"c": 1}, score=self.scores[output], flags=[])
        return Judgement((Opinion("j", v, Usage()),), threshold=3.0)


def _obj(*outputs: str) -> dict[str, Any]:
    return {
        "id": "p1",
        "instruction": "Summarise the ticket in one line.",
        "input": "",
        "output": outputs[0],
        "responses": [{"output": o, "generator": {"finish_reason": "stop"}} for o in outputs],
        "provenance": {"run_id": "r", "method": "self-instruct"},
    }


def _pair(judge: FakeJudge, obj: dict[str, Any], min_margin: float = 1.0) -> PairOutcome:
    verdict_of = lambda jg: jg.verdict("rubric", None)  # noqa: E731
    out = judge_pair(judge, RULES, obj["instruction"], "", obj, min_margin, verdict_of)  # type: ignore[arg-type]
    return asyncio.run(out)


A, B, C = "The customer was charged twice.", "Duplicate charge, refund asked.", "A ticket."


def test_the_best_is_chosen_and_the_worst_rejected() -> None:
    out = _pair(FakeJudge({A: 5, B: 3, C: 2}), _obj(A, B, C))
    assert out.drop is None and out.record is not None
    rec = out.record
    assert (rec["chosen"], rec["rejected"], rec["output"]) == (A, C, A)
    assert rec["prompt"] == "Summarise the ticket in one line."
    pref = rec["provenance"]["preference"]
    assert (pref["chosen"], pref["rejected"], pref["margin"], pref["scores"]) == (
        0,
        2,
        3.0,
        [5, 3, 2],
    )
    assert pref["tie_break"] is None and rec["provenance"]["judge"]["score"] == 5
    assert pref["verdicts"][0] == rec["provenance"]["judge"]  # the chosen one's verdict


def test_a_small_margin_a_failing_chosen_and_too_few_responses_are_ledgered() -> None:
    close = _pair(FakeJudge({A: 4, B: 3.2, C: 3.5}), _obj(A, C, B))
    assert close.drop is not None and close.drop[:2] == ("preference", "margin_too_small")
    assert close.drop[2] == "chosen 4 − rejected 3.2 = 0.8 < min_margin 1"
    low = _pair(FakeJudge({A: 2.5, B: 1}), _obj(A, B))
    assert low.drop is not None and low.drop[1] == "chosen_below_threshold"
    refusal = "I'm sorry, but I cannot help with that request."
    few = _pair(FakeJudge({A: 5}), _obj(A, refusal))
    assert few.drop is not None and few.drop[1] == "too_few_responses"
    assert few.preference["excluded"]["1"].startswith("refusal")


@pytest.mark.parametrize(
    ("winners", "kept", "reason"),
    [
        ((0, 1), True, None),  # A wins shown first, and wins again shown second: consistent
        ((1, 0), True, None),  # B both times
        ((0, 0), False, "position_inconsistent"),  # whatever is shown first wins
        ((1, 1), False, "position_inconsistent"),  # whatever is shown second wins
    ],
)
def test_a_tie_at_the_top_is_broken_by_two_comparisons_in_swapped_order(
    monkeypatch: pytest.MonkeyPatch, winners: tuple[int, int], kept: bool, reason: str | None
) -> None:
    asked: list[tuple[str, str]] = []
    answers = iter(winners)

    async def compare(judge: Any, instruction: str, input: str, a: str, b: str) -> tuple[int, str]:
        asked.append((a, b))
        return next(answers), "because"

    monkeypatch.setattr(preference, "compare", compare)
    out = _pair(FakeJudge({A: 5, B: 5, C: 2}), _obj(A, B, C))
    assert asked == [(A, B), (B, A)]  # the same two, in both orders
    tie = out.preference["tie_break"]
    assert tie["between"] == [0, 1] and len(tie["asked"]) == 2
    assert tie["consistent"] is kept
    if kept:
        assert out.record is not None
        assert out.record["chosen"] == (A if winners == (0, 1) else B)
        assert out.record["rejected"] == C
    else:
        assert out.drop is not None and out.drop[1] == reason

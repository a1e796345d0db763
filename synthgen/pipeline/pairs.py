"""`run` with `generation.responses_per_instruction` ≥ 2: each candidate holds K responses, and
what the judge keeps is a preference pair (stages/filter/preference.py decides it as
`filter` does)."""

from __future__ import annotations

from collections.abc import Callable

from synthgen.records import JudgeVerdict, Record
from synthgen.stages.filter.judge import Judge, Judgement
from synthgen.stages.filter.preference import PairOutcome, judge_pair
from synthgen.stages.filter.rules import Rules


async def verdict(
    judge: Judge,
    rules: Rules,
    rec: Record,
    min_margin: float,
    verdict_of: Callable[[Judgement], JudgeVerdict],
) -> Judgement | PairOutcome:
    """The judge's verdict on one candidate: a pair's outcome when it holds K responses, the
    whole conversation's when it is one, else its single response's."""
    if rec.responses and len(rec.responses) >= 2:
        obj = rec.model_dump(mode="json", exclude_none=True)
        return await judge_pair(
            judge, rules, rec.instruction, rec.input, obj, min_margin, verdict_of
        )
    turns = [t.model_dump() for t in rec.messages] if rec.messages else None
    return await judge.judge(rec.instruction, rec.input, rec.output, turns)


def pair_kept(rec: Record, outcome: PairOutcome) -> tuple[Record | None, tuple[str, str, str]]:
    """(the kept pair's record, or None; and the drop's (stage, reason, detail) otherwise),
    the dropped candidate carrying the pair's provenance for the ledger."""
    if outcome.record is not None:
        return Record.model_validate(outcome.record), ("", "", "")
    assert outcome.drop is not None
    prov = rec.provenance.model_copy(update={"preference": outcome.preference})
    return rec.model_copy(update={"provenance": prov}), outcome.drop

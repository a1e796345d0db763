"""Preference pairs: K responses to one instruction become a chosen and a rejected response.

Each response that passes the rules is scored by the judge (the same rubric and calibration
as any record). The best is chosen and the worst rejected; when the best score is shared, a
pairwise comparison of the first two so tied decides, asked twice with the order swapped to
cancel position bias, and a pair whose two answers disagree is not kept
(`position_inconsistent`). A pair is kept when the chosen response passes the threshold and
its score is at least `min_margin` above the rejected one's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from synthgen import prompts
from synthgen.llm.structured import ParseFailure, parse_json
from synthgen.llm.types import ChatRequest
from synthgen.records import JudgeVerdict
from synthgen.stages.filter.judge import Judge, Judgement, _inert
from synthgen.stages.filter.rules import Candidate, Rules

COMPARISON_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "rationale": {"type": "string"},
        "winner": {"type": "string", "enum": ["A", "B"]},
    },
    "required": ["rationale", "winner"],
    "additionalProperties": False,
}


@dataclass
class PairOutcome:
    """What became of one instruction's responses: a kept pair (its record) or a drop."""

    preference: dict[str, Any]
    record: dict[str, Any] | None = None
    drop: tuple[str, str, str] | None = None  # (stage, reason, detail)
    judged: list[Judgement] = field(default_factory=list)


def has_responses(obj: dict[str, Any]) -> bool:
    """Whether a record holds K ≥ 2 responses to make a pair of."""
    r = obj.get("responses")
    return isinstance(r, list) and len(r) >= 2 and all(isinstance(x, dict) for x in r)


def prompt_of(instruction: str, input: str) -> str:
    """The pair's prompt as TRL's standard format holds it: instruction, then the input."""
    return f"{instruction}\n\n{input}" if input else instruction


def comparison_request(judge: Judge, instruction: str, input: str, a: str, b: str) -> ChatRequest:
    """The pairwise question: which of two responses (A first) better follows the instruction."""
    rubric = judge.rubric
    msgs = prompts.load("judge_pairwise").render(
        rubric_name=rubric.name,
        scale_min=str(rubric.scale.min),
        scale_max=str(rubric.scale.max),
        rubric=rubric.text(),
        instruction=_inert(instruction),
        input=_inert(input) or "(none)",
        first=_inert(a),
        second=_inert(b),
    )
    return ChatRequest(
        messages=msgs,
        temperature=0.0,
        max_tokens=judge.max_new_tokens,
        seed=0,
        json_schema=COMPARISON_SCHEMA,
        schema_name="comparison",
    )


async def compare(judge: Judge, instruction: str, input: str, a: str, b: str) -> tuple[int, str]:
    """(0 when A wins, 1 when B wins, the rationale); ParseFailure when the answer is unusable."""
    (ans,) = await judge.clients[0].chat(comparison_request(judge, instruction, input, a, b))
    data = parse_json(ans.content or "")
    winner = data.get("winner") if isinstance(data, dict) else None
    if winner not in ("A", "B"):
        raise ParseFailure(f'the comparison names no winner "A" or "B": {str(data)[:120]}')
    return (0 if winner == "A" else 1), str(data.get("rationale", ""))[:500]


async def judge_pair(
    judge: Judge,
    rules: Rules,
    instruction: str,
    input: str,
    obj: dict[str, Any],
    min_margin: float,
    verdict_of: Callable[[Judgement], JudgeVerdict],
) -> PairOutcome:
    """Rules, verdicts and, on a tie at the top, the swapped pairwise check for one record
    (`obj`, with its K responses, asking `instruction` about `input`)."""
    task = obj.get("meta", {}).get("task") if isinstance(obj.get("meta"), dict) else None
    outs = [str(r.get("output") or "") for r in obj["responses"]]
    pref: dict[str, Any] = {"min_margin": min_margin, "excluded": {}}
    bad = rules.check_instruction(instruction, input, task)
    if bad is not None:
        return PairOutcome(pref, drop=("rules", bad[0], bad[1]))
    ok = []
    for i, (r, text) in enumerate(zip(obj["responses"], outs, strict=True)):
        gen = r.get("generator") if isinstance(r.get("generator"), dict) else {}
        failed = rules.check(Candidate(instruction, input, text, (gen.get("finish_reason"),)), task)
        if failed is None:
            ok.append(i)
        else:
            pref["excluded"][str(i)] = f"{failed[0]}: {failed[1]}"[:200]
    got = await asyncio.gather(
        *(judge.judge(instruction, input, outs[i]) for i in ok), return_exceptions=True
    )
    for g in got:
        if isinstance(g, BaseException):
            raise g
    judged = [g for g in got if not isinstance(g, BaseException)]
    scores: list[float | None] = [None] * len(outs)
    verdicts: list[dict[str, Any] | None] = [None] * len(outs)
    for i, jg in zip(ok, judged, strict=True):
        if jg.score is None:
            pref["excluded"][str(i)] = f"{jg.error}: {jg.failure_detail()[0]}"[:200]
        else:
            scores[i], verdicts[i] = jg.score, verdict_of(jg).as_json()
    pref.update(scores=scores, verdicts=verdicts, tie_break=None)
    scored = [i for i, s in enumerate(scores) if s is not None]
    if len(scored) < 2:
        detail = f"{len(scored)} of {len(outs)} responses passed the rules and got a verdict"
        return PairOutcome(pref, drop=("preference", "too_few_responses", detail), judged=judged)
    best = max(scores[i] for i in scored)  # type: ignore[type-var]
    top = [i for i in scored if scores[i] == best]
    chosen = top[0]
    if len(top) > 1:
        a, b = top[0], top[1]
        try:
            w1, r1 = await compare(judge, instruction, input, outs[a], outs[b])
            w2, r2 = await compare(judge, instruction, input, outs[b], outs[a])
        except ParseFailure as e:
            return PairOutcome(
                pref, drop=("preference", "judge_parse_failure", str(e)), judged=judged
            )
        first, second = (a, b)[w1], (b, a)[w2]
        pref["tie_break"] = {
            "between": [a, b],
            "asked": [
                {"order": [a, b], "winner": first, "rationale": r1},
                {"order": [b, a], "winner": second, "rationale": r2},
            ],
            "consistent": first == second,
        }
        if first != second:
            shown = "first" if first == a else "second"  # the answer followed the order
            detail = f"responses {a} and {b} tie at {best:g}; each won when shown {shown}"
            return PairOutcome(
                pref, drop=("preference", "position_inconsistent", detail), judged=judged
            )
        chosen = first
    rejected = min((i for i in scored if i != chosen), key=lambda i: (scores[i], i))
    margin = float(scores[chosen] - scores[rejected])  # type: ignore[operator]
    pref.update(chosen=chosen, rejected=rejected, margin=margin)
    if margin < min_margin:
        detail = (
            f"chosen {scores[chosen]:g} − rejected {scores[rejected]:g} = {margin:g} "
            f"< min_margin {min_margin:g}"
        )
        return PairOutcome(pref, drop=("preference", "margin_too_small", detail), judged=judged)
    jg = judged[ok.index(chosen)]
    if not jg.passed:
        detail = f"the chosen response scores {scores[chosen]:g} < threshold {jg.threshold:g}"
        return PairOutcome(
            pref, drop=("preference", "chosen_below_threshold", detail), judged=judged
        )
    record = {
        **obj,
        "output": outs[chosen],
        "prompt": prompt_of(instruction, input),
        "chosen": outs[chosen],
        "rejected": outs[rejected],
    }
    prov = dict(obj["provenance"])
    prov["judge"] = verdicts[chosen]
    prov["preference"] = pref
    record["provenance"] = prov
    return PairOutcome(pref, record=record, judged=judged)

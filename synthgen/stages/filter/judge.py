"""The rubric judge: prompt, one verdict request per judge, one repair of a malformed verdict
(a verdict cut off at max_tokens is not re-asked the same way), panels by median."""

from __future__ import annotations

import asyncio
import re
import statistics
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import orjson

from synthgen import prompts
from synthgen.llm.client import RequestRejected
from synthgen.llm.structured import ParseFailure, repair_request
from synthgen.llm.types import Answer, ChatRequest
from synthgen.records import JudgeVerdict, Usage, sha256_hex

# Re-exported: rubric and verdict parsing lived here before verdicts.py.
from synthgen.stages.filter.verdicts import VERDICT_SCHEMA_VERSION
from synthgen.stages.filter.verdicts import Criterion as Criterion
from synthgen.stages.filter.verdicts import Reference as Reference
from synthgen.stages.filter.verdicts import Rubric as Rubric
from synthgen.stages.filter.verdicts import Scale as Scale
from synthgen.stages.filter.verdicts import Verdict as Verdict
from synthgen.stages.filter.verdicts import load_rubric as load_rubric
from synthgen.stages.filter.verdicts import parse_verdict as parse_verdict
from synthgen.stages.filter.verdicts import read_reference as read_reference

if TYPE_CHECKING:
    from synthgen.llm.client import LLMClient


def judge_template_sha256() -> str:
    """One hash over the judge's prompt templates and verdict schema version, for a job's
    identity."""
    templates = prompts.load("judge").sha256 + prompts.load("judge_grounding").sha256
    return sha256_hex(f"{templates}\nverdict-schema-v{VERDICT_SCHEMA_VERSION}")


def judge_messages(
    rubric: Rubric,
    instruction: str,
    input: str,
    output: str,
    reference: Reference | None,
    messages: list[dict[str, str]] | None = None,
) -> list[dict[str, str]]:
    """The judge's chat messages for one record, grounded in the reference when given; a
    conversation (`messages`) is graded whole, every assistant turn, the last one most."""
    grounding = ""
    if reference is not None:
        facts = "\n".join(f"[{i}] {f}" for i, f in enumerate(reference.facts, 1))
        grounding = prompts.load("judge_grounding").render(facts=facts)[-1]["content"] + "\n"
    if messages:
        turns = "\n\n".join(f"{t['role'].capitalize()}: {_inert(t['content'])}" for t in messages)
        return prompts.load("judge_conversation").render(
            grounding=grounding,
            rubric_name=rubric.name,
            scale_min=str(rubric.scale.min),
            scale_max=str(rubric.scale.max),
            rubric=rubric.text(),
            conversation=turns,
        )
    return prompts.load("judge").render(
        grounding=grounding,
        rubric_name=rubric.name,
        scale_min=str(rubric.scale.min),
        scale_max=str(rubric.scale.max),
        rubric=rubric.text(),
        instruction=_inert(instruction),
        input=_inert(input) or "(none)",
        output=_inert(output),
    )


_CLOSING_TAG = re.compile(r"</\s*(instruction|input|response|conversation)\s*>", re.IGNORECASE)


def _inert(text: str) -> str:
    """The graded text cannot close its own tag and talk to the judge from outside it."""
    return _CLOSING_TAG.sub(lambda m: f"<\\/{m.group(1)}>", text)


@dataclass(frozen=True)
class Opinion:
    """What one judge model said about one record: a verdict, or why there is none."""

    model: str
    verdict: Verdict | None
    usage: Usage
    error: str | None = None  # judge_parse_failure | judge_request_rejected | judge_truncated
    detail: str = ""
    raw: str | None = None
    structured: str = ""  # the structured-output path of the reply (json_schema, ...)
    repaired: bool = False
    truncated: bool = False  # the first verdict was cut off at max_tokens
    retry_max_tokens: int | None = None  # the budget of the one retry after a cut-off verdict


@dataclass(frozen=True)
class Judgement:
    """All judges' opinions about one record, aggregated."""

    opinions: tuple[Opinion, ...]
    threshold: float
    usage: Usage = field(default_factory=Usage)

    @property
    def error(self) -> str | None:
        """The first failed opinion's reason, if any judge gave no verdict."""
        return next((o.error for o in self.opinions if o.error), None)

    @property
    def score(self) -> float | None:
        """The median of the judges' scores; None when any judge gave no verdict."""
        if self.error:
            return None
        return float(statistics.median(o.verdict.score for o in self.opinions if o.verdict))

    @property
    def passed(self) -> bool:
        """Does the score reach the threshold?"""
        s = self.score
        return s is not None and s >= self.threshold

    def verdict(self, rubric_sha256: str, reference_sha256: str | None) -> JudgeVerdict:
        """The `provenance.judge` contract, typed; only for judgements that have a score."""
        verdicts = [(o.model, o.verdict) for o in self.opinions if o.verdict is not None]
        names = list(verdicts[0][1].scores)
        retried = {o.model: o.retry_max_tokens or 0 for o in self.opinions if o.verdict}
        panel = len(verdicts) > 1
        assert self.score is not None
        return JudgeVerdict(
            models=[m for m, _ in verdicts],
            score=self.score,
            scores={n: statistics.median(v.scores[n] for _, v in verdicts) for n in names},
            rationale="\n".join(
                v.rationale if len(verdicts) == 1 else f"[{m}] {v.rationale}" for m, v in verdicts
            ),
            flags=sorted({f for _, v in verdicts for f in v.flags}),
            rubric_sha256=rubric_sha256,
            threshold=self.threshold,
            passed=self.passed,
            # how the verdict came back: the endpoint's structured-output path per model, and
            # whether it needed the repair re-ask (as expand records it for generations)
            structured={o.model: o.structured for o in self.opinions if o.verdict},
            repaired=any(o.repaired for o in self.opinions if o.verdict),
            # only when retried: verdicts without a retry keep their bytes
            truncation_retry={m: t for m, t in retried.items() if t} or None,
            panel=[{"model": m, **v.model_dump()} for m, v in verdicts] if panel else None,
            spread=max(v.score for _, v in verdicts) - min(v.score for _, v in verdicts)
            if panel
            else None,
            reference_sha256=reference_sha256 or None,
        )

    def provenance(self, rubric_sha256: str, reference_sha256: str | None) -> dict[str, Any]:
        """`verdict` as `provenance.judge` writes it."""
        return self.verdict(rubric_sha256, reference_sha256).as_json()

    def failure_detail(self) -> tuple[str, str | None]:
        """(detail, raw replies) of the opinions that failed, for the ledger."""
        bad = [o for o in self.opinions if o.error]
        detail = "; ".join(f"{o.model}: {o.detail}" for o in bad)[:500]
        raws = [o.raw for o in bad if o.raw is not None]
        raw = raws[0] if len(raws) == 1 else (orjson.dumps(raws).decode() if raws else None)
        return detail, raw


class Judge:
    """Scores records with one judge model, or a panel of them, through cached clients."""

    def __init__(
        self,
        rubric: Rubric,
        clients: list[LLMClient],
        threshold: float,
        max_new_tokens: int,
        reference: Reference | None = None,
        *,
        retry_truncated: bool = False,
    ) -> None:
        """`retry_truncated`: ask a verdict cut off at max_tokens once more with twice the
        tokens, instead of ledgering it as judge_truncated."""
        self.rubric, self.clients, self.threshold = rubric, clients, threshold
        self.max_new_tokens, self.reference = max_new_tokens, reference
        self.retry_truncated = retry_truncated
        self.schema = rubric.verdict_schema()
        # Verdicts cut off at max_tokens, and retries asked for them, for the run's summary.
        self.truncated = 0
        self.truncation_retries = 0

    @property
    def models(self) -> list[str]:
        """The judge models, in panel order."""
        return [c.model for c in self.clients]

    @property
    def standin(self) -> bool:
        """Whether a judge is the bundled stand-in, whose verdicts are made up."""
        return any(c.standin for c in self.clients)

    def request(
        self,
        instruction: str,
        input: str,
        output: str,
        messages: list[dict[str, str]] | None = None,
    ) -> ChatRequest:
        """The one verdict request for a record, identical for every judge in the panel."""
        msgs = judge_messages(self.rubric, instruction, input, output, self.reference, messages)
        return ChatRequest(
            messages=msgs,
            temperature=0.0,
            max_tokens=self.max_new_tokens,
            seed=0,
            json_schema=self.schema,
            schema_name="verdict",
        )

    async def judge(
        self,
        instruction: str,
        input: str,
        output: str,
        messages: list[dict[str, str]] | None = None,
    ) -> Judgement:
        """Every judge's opinion of one record (a whole conversation when `messages` are
        given), asked concurrently across the panel."""
        req = self.request(instruction, input, output, messages)
        if len(self.clients) == 1:
            opinions: list[Opinion] = [await self._ask(self.clients[0], req)]
        else:
            got = await asyncio.gather(
                *(self._ask(c, req) for c in self.clients), return_exceptions=True
            )
            opinions = []
            for r in got:  # every judge was asked (in batch mode: queued) before a failure
                if isinstance(r, BaseException):
                    raise r
                opinions.append(r)
        usage = Usage()
        for o in opinions:
            usage = usage + o.usage
        return Judgement(tuple(opinions), self.threshold, usage)

    async def _ask(self, client: LLMClient, req: ChatRequest) -> Opinion:
        model = client.model
        try:
            (a,) = await client.chat(req)
        except RequestRejected as e:
            return Opinion(model, None, Usage(), "judge_request_rejected", e.message)
        if a.finish_reason == "length":
            return await self._cut_off(client, req, a)
        content = a.content or ""
        try:
            return Opinion(
                model, parse_verdict(content, self.rubric), a.usage, structured=a.structured
            )
        except ParseFailure as first:
            fixed, a2 = await self._repair(client, req, content, str(first))
            usage = a.usage + (a2.usage if a2 is not None else Usage())
            if fixed is not None:
                return Opinion(model, fixed, usage, structured=a.structured, repaired=True)
            detail = f"{first}; after one repair: {a2.content if a2 is not None else 'rejected'}"
            return Opinion(
                model, None, usage, "judge_parse_failure", detail[:300], content, a.structured
            )

    async def _cut_off(self, client: LLMClient, req: ChatRequest, a: Answer) -> Opinion:
        """A verdict cut off at max_tokens. The repair re-ask would resend the same budget and
        pay for the same cut again, so: ledgered as judge_truncated, or (where the config
        allows) asked once more with twice the tokens."""
        cut = f"cut off at max_tokens={req.max_tokens}"
        self.truncated += 1
        base = Opinion(client.model, None, a.usage, "judge_truncated", "", a.content, a.structured)
        base = replace(base, truncated=True)
        if not self.retry_truncated:
            return replace(
                base,
                detail=f"{cut} (finish_reason=length): {_ran_long(a.content)}; raise "
                "filter.judge.max_new_tokens or set filter.judge.retry_truncated",
            )
        bigger = req.model_copy(update={"max_tokens": 2 * req.max_tokens})
        self.truncation_retries += 1
        base = replace(base, retry_max_tokens=bigger.max_tokens)
        try:
            (b,) = await client.chat(bigger, followup=True)
        except RequestRejected as e:
            detail = f"{cut}; the retry at {bigger.max_tokens} was refused: {e.message}"
            return replace(base, detail=detail[:300])
        retried = replace(base, usage=a.usage + b.usage, raw=b.content, structured=b.structured)
        if b.finish_reason == "length":
            detail = f"{cut}, and at {bigger.max_tokens} on the one retry: {_ran_long(b.content)}"
            return replace(retried, detail=detail)
        try:
            verdict = parse_verdict(b.content or "", self.rubric)
        except ParseFailure as e:
            detail = f"{cut}; the retry at {bigger.max_tokens} did not parse: {e}"
            return replace(retried, error="judge_parse_failure", detail=detail[:300])
        return replace(retried, verdict=verdict, error=None, raw=None)

    async def _repair(
        self, client: LLMClient, req: ChatRequest, bad: str, error: str
    ) -> tuple[Verdict | None, Any]:
        """One re-ask with the error shown; cached like any request."""
        fixed = repair_request(req, bad, prompts.repair_ask(error))
        try:
            (a,) = await client.chat(fixed, followup=True)
        except RequestRejected:
            return None, None
        try:
            return parse_verdict(a.content or "", self.rubric), a
        except ParseFailure:
            return None, a


def _ran_long(content: str | None) -> str:
    """Which part of a cut-off verdict ran long: the schema puts the rationale first."""
    if '"scores"' in (content or ""):
        return "the verdict ran long after its rationale"
    return "the rationale ran long"

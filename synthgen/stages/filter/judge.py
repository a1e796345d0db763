"""The rubric judge: verdict schema, prompt, strict parsing with one repair, panels by median."""

from __future__ import annotations

import asyncio
import re
import statistics
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from synthgen import prompts
from synthgen.errors import InputError
from synthgen.llm.client import RequestRejected
from synthgen.llm.structured import ParseFailure, parse_json, repair_request
from synthgen.llm.types import ChatRequest
from synthgen.records import Usage, canonical_json, sha256_hex

if TYPE_CHECKING:
    from synthgen.llm.client import LLMClient


class Scale(BaseModel):
    """The integer range every criterion, and the overall score, is given on."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    min: int = 1
    max: int = 5

    @model_validator(mode="after")
    def _ordered(self) -> Scale:
        if self.max <= self.min:
            raise ValueError(f"scale max {self.max} must be above min {self.min}")
        return self


class Criterion(BaseModel):
    """One thing the judge scores, with a description for every level of the scale."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    description: str
    levels: dict[int, str]


class Rubric(BaseModel):
    """Criteria scored on one integer scale, each level described."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str
    scale: Scale = Scale()
    criteria: list[Criterion] = Field(min_length=1)

    @model_validator(mode="after")
    def _every_level_described(self) -> Rubric:
        want = set(range(self.scale.min, self.scale.max + 1))
        names = [c.name for c in self.criteria]
        if len(set(names)) != len(names):
            raise ValueError("criterion names must be unique")
        for c in self.criteria:
            if set(c.levels) != want:
                raise ValueError(
                    f"criterion {c.name!r} describes levels {sorted(c.levels)}, "
                    f"the scale needs exactly {sorted(want)}"
                )
        return self

    @property
    def sha256(self) -> str:
        """The rubric's identity: the hash of its canonical JSON."""
        return sha256_hex(canonical_json(self.model_dump(mode="json")))

    def text(self) -> str:
        """The criteria and their level descriptions as the judge prompt shows them."""
        lines = []
        for c in self.criteria:
            lines.append(f"- {c.name}: {c.description}")
            lines += [f"    {k}: {c.levels[k]}" for k in sorted(c.levels)]
        return "\n".join(lines)

    def verdict_schema(self) -> dict[str, Any]:
        """The verdict's JSON schema; the rationale comes first so it is written first."""
        lo, hi = self.scale.min, self.scale.max
        crit = {c.name: {"type": "integer", "minimum": lo, "maximum": hi} for c in self.criteria}
        return {
            "type": "object",
            "properties": {
                "rationale": {"type": "string"},
                "scores": {
                    "type": "object",
                    "properties": crit,
                    "required": list(crit),
                    "additionalProperties": False,
                },
                "score": {"type": "number", "minimum": lo, "maximum": hi},
                "flags": {"type": "array", "items": {"type": "string"}},
            },
            "required": ["rationale", "scores", "score", "flags"],
            "additionalProperties": False,
        }


def load_rubric(path: Path | None) -> Rubric:
    """The rubric in a YAML/JSON file, or the bundled default."""
    import yaml

    if path is None:
        text = resources.files("synthgen.rubrics").joinpath("default.yaml").read_text("utf-8")
        name = "default.yaml"
    else:
        name = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as e:
            raise InputError(
                name, f"cannot read rubric ({e.strerror})", hint="check --rubric"
            ) from e
    try:
        data = yaml.safe_load(text)
        return Rubric.model_validate(data)
    except yaml.YAMLError as e:
        raise InputError(name, f"invalid YAML ({e})", hint="fix the rubric file") from None
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or None
        raise InputError(
            name,
            first["msg"],
            field=where,
            hint="see synthgen/rubrics/default.yaml: name, scale {min, max}, criteria with "
            "name, description and a descriptor per level (quote YAML words like 'no')",
        ) from None


class Verdict(BaseModel):
    """One judge's structured reply, as parsed (checked against the rubric by `parse_verdict`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    rationale: str
    scores: dict[str, int]
    score: float
    flags: list[str] = Field(default_factory=list)


def parse_verdict(content: str, rubric: Rubric) -> Verdict:
    """A verdict whose criteria and scores fit the rubric, else ParseFailure saying why."""
    data = parse_json(content)
    if isinstance(data, dict) and isinstance(data.get("scores"), dict):
        # 4.0 is an integer score written as a float; 4.5 is not.
        data["scores"] = {
            k: int(v) if isinstance(v, float) and v.is_integer() else v
            for k, v in data["scores"].items()
        }
    try:
        v = Verdict.model_validate(data, strict=False)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ParseFailure(f"field {where!r}: {first['msg']}") from None
    want = [c.name for c in rubric.criteria]
    if set(v.scores) != set(want):
        raise ParseFailure(f"scores must have exactly these criteria: {', '.join(want)}")
    lo, hi = rubric.scale.min, rubric.scale.max
    for name, s in [*v.scores.items(), ("score", v.score)]:
        if not lo <= s <= hi:
            raise ParseFailure(f"{name} = {s} is outside the scale {lo}..{hi}")
    return v


@dataclass(frozen=True)
class Reference:
    """Trusted facts the judge must cite (from --reference)."""

    facts: tuple[str, ...]
    sha256: str


def read_reference(path: Path) -> Reference:
    """A text file (one fact or passage per paragraph) or JSONL ({"text"|"fact"|...} per line)."""
    from synthgen.core.jsonl import iter_jsonl

    try:
        raw = path.read_bytes()
    except OSError as e:
        raise InputError(str(path), f"cannot read ({e.strerror})", hint="check --reference") from e
    facts: list[str] = []
    if path.suffix == ".jsonl":
        for n, obj in iter_jsonl(path):
            text = next((obj[k] for k in ("text", "fact", "content", "passage") if k in obj), None)
            if not isinstance(text, str) or not text.strip():
                raise InputError(
                    str(path),
                    "needs a text, fact, content or passage field",
                    line=n,
                    hint='write {"text": "..."} per line',
                )
            facts.append(text.strip())
    else:
        text = raw.decode("utf-8", errors="replace")
        facts = [p.strip() for p in text.split("\n\n") if p.strip()]
    if not facts:
        raise InputError(str(path), "holds no facts", hint="write one fact per paragraph")
    return Reference(tuple(facts), sha256_hex(raw))


def judge_template_sha256() -> str:
    """One hash over the judge's prompt templates, for a run's job identity."""
    return sha256_hex(prompts.load("judge").sha256 + prompts.load("judge_grounding").sha256)


def judge_messages(
    rubric: Rubric, instruction: str, input: str, output: str, reference: Reference | None
) -> list[dict[str, str]]:
    """The judge's chat messages for one record, grounded in the reference when given."""
    grounding = ""
    if reference is not None:
        facts = "\n".join(f"[{i}] {f}" for i, f in enumerate(reference.facts, 1))
        grounding = prompts.load("judge_grounding").render(facts=facts)[-1]["content"] + "\n"
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


_CLOSING_TAG = re.compile(r"</\s*(instruction|input|response)\s*>", re.IGNORECASE)


def _inert(text: str) -> str:
    """The graded text cannot close its own tag and talk to the judge from outside it."""
    return _CLOSING_TAG.sub(lambda m: f"<\\/{m.group(1)}>", text)


@dataclass(frozen=True)
class Opinion:
    """What one judge model said about one record: a verdict, or why there is none."""

    model: str
    verdict: Verdict | None
    usage: Usage
    error: str | None = None  # judge_parse_failure | judge_request_rejected
    detail: str = ""
    raw: str | None = None
    structured: str = ""  # the structured-output path of the reply (json_schema, ...)
    repaired: bool = False


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

    def provenance(self, rubric_sha256: str, reference_sha256: str | None) -> dict[str, Any]:
        """The `provenance.judge` contract; only for judgements that have a score."""
        verdicts = [(o.model, o.verdict) for o in self.opinions if o.verdict is not None]
        names = list(verdicts[0][1].scores)
        out: dict[str, Any] = {
            "models": [m for m, _ in verdicts],
            "score": self.score,
            "scores": {n: statistics.median(v.scores[n] for _, v in verdicts) for n in names},
            "rationale": "\n".join(
                v.rationale if len(verdicts) == 1 else f"[{m}] {v.rationale}" for m, v in verdicts
            ),
            "flags": sorted({f for _, v in verdicts for f in v.flags}),
            "rubric_sha256": rubric_sha256,
            "threshold": self.threshold,
            "passed": self.passed,
            # how the verdict came back: the endpoint's structured-output path per model, and
            # whether it needed the repair re-ask (as expand records it for generations)
            "structured": {o.model: o.structured for o in self.opinions if o.verdict},
            "repaired": any(o.repaired for o in self.opinions if o.verdict),
        }
        if len(verdicts) > 1:
            out["panel"] = [{"model": m, **v.model_dump()} for m, v in verdicts]
            out["spread"] = max(v.score for _, v in verdicts) - min(v.score for _, v in verdicts)
        if reference_sha256:
            out["reference_sha256"] = reference_sha256
        return out

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
    ) -> None:
        self.rubric, self.clients, self.threshold = rubric, clients, threshold
        self.max_new_tokens, self.reference = max_new_tokens, reference
        self.schema = rubric.verdict_schema()

    @property
    def models(self) -> list[str]:
        """The judge models, in panel order."""
        return [c.model for c in self.clients]

    def request(self, instruction: str, input: str, output: str) -> ChatRequest:
        """The one verdict request for a record, identical for every judge in the panel."""
        msgs = judge_messages(self.rubric, instruction, input, output, self.reference)
        return ChatRequest(
            messages=msgs,
            temperature=0.0,
            max_tokens=self.max_new_tokens,
            seed=0,
            json_schema=self.schema,
            schema_name="verdict",
        )

    async def judge(self, instruction: str, input: str, output: str) -> Judgement:
        """Every judge's opinion of one record, asked concurrently across the panel."""
        req = self.request(instruction, input, output)
        if len(self.clients) == 1:
            opinions: list[Opinion] = [await self._ask(self.clients[0], req)]
        else:
            opinions = list(await asyncio.gather(*(self._ask(c, req) for c in self.clients)))
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
        content = a.content or ""
        try:
            if a.finish_reason == "length":
                raise ParseFailure("the verdict was cut off (finish_reason=length)")
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

    async def _repair(
        self, client: LLMClient, req: ChatRequest, bad: str, error: str
    ) -> tuple[Verdict | None, Any]:
        """One re-ask with the error shown; cached like any request."""
        try:
            (a,) = await client.chat(repair_request(req, bad, error))
        except RequestRejected:
            return None, None
        try:
            return parse_verdict(a.content or "", self.rubric), a
        except ParseFailure:
            return None, a

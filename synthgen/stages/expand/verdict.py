"""The LLM verdict on a grounded answer, the dearest check and so the last: the judge (never
the generator, whose blind spots it would share) reads the raw chunk, the question and the
answer, and says whether the chunk supports the answer, contradicts it, and answers the
question at all. Calibrated first on the seeds and on
deliberately broken pairs (a seed's answer beside another chunk), which it must tell apart."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, ValidationError

from synthgen import prompts
from synthgen.errors import StoppedError
from synthgen.llm.client import LLMClient
from synthgen.llm.structured import ParseFailure, parse_json
from synthgen.llm.types import ChatRequest
from synthgen.records import Seed, Usage
from synthgen.stages.expand.grounded import chunk_block
from synthgen.stages.expand.sources import Sources

TEMPLATE = "grounded_verdict"
MIN_CALIBRATION = 0.8  # share of the calibration pairs the verdict must get right


class Verdict(BaseModel):
    """What the model says of an answer and its chunk."""

    model_config = ConfigDict(extra="ignore")
    supported: bool
    contradicts: bool
    answerable: bool


SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {k: {"type": "boolean"} for k in ("supported", "contradicts", "answerable")},
    "required": ["supported", "contradicts", "answerable"],
    "additionalProperties": False,
}


def verdict_request(chunks: list[Any], question: str, answer: str) -> ChatRequest:
    """The verdict's request: deterministic (temperature 0), one answer, small."""
    msgs = prompts.load(TEMPLATE).render(
        chunks="\n\n".join(chunk_block(c) for c in chunks), question=question, answer=answer
    )
    return ChatRequest(
        messages=msgs,
        temperature=0.0,
        max_tokens=64,
        seed=0,
        json_schema=SCHEMA,
        schema_name="grounded_verdict",
    )


async def ask(
    client: LLMClient, chunks: list[Any], question: str, answer: str
) -> tuple[Verdict | str, Usage, dict[str, str]]:
    """The verdict (or why there is none: what the reply was), what it cost, and the model
    that gave it: as asked, and as the endpoint named it when that differs."""
    (a,) = await client.chat(verdict_request(chunks, question, answer))
    who = {"model": client.model}
    if a.resolved_model and a.resolved_model != client.model:
        who["resolved_model"] = a.resolved_model
    try:
        return Verdict.model_validate(parse_json(a.content or "")), a.usage, who
    except (ParseFailure, ValidationError):
        return f"no usable verdict: {(a.content or '')[:200]!r}", a.usage, who


def provenance(v: Verdict | str, who: dict[str, str]) -> dict[str, Any]:
    """What a record's provenance says of its verdict: who gave it, and what it said."""
    said = v.model_dump() if isinstance(v, Verdict) else {"invalid": v}
    return {**who, **said}


def failure(v: Verdict | str) -> tuple[str, str] | None:
    """(reason, detail) for an answer the verdict rejects, worst first; None when it passes."""
    if isinstance(v, str):
        return "invalid_verdict", v
    if v.contradicts:
        return "contradicts_source", "the verdict: the chunk contradicts the answer"
    if not v.answerable:
        return "unanswerable", "the verdict: the chunk does not answer the question"
    if not v.supported:
        return "unsupported", "the verdict: the chunk does not support the answer"
    return None


async def calibrate(client: LLMClient, seeds: list[Seed], sources: Sources) -> dict[str, Any]:
    """Each seed whose quotes are in a chunk, judged beside that chunk (it must pass) and
    beside a chunk of other content (it must not); a StoppedError when the verdict gets
    fewer than MIN_CALIBRATION of those right. Its summary for the manifest otherwise."""
    pairs: list[tuple[Seed, Any, bool]] = []
    for seed in seeds:
        quotes = seed.meta.get("quotes")
        if not isinstance(quotes, list) or not quotes:
            continue
        home = sources.find_elsewhere(str(quotes[0]), set())
        if home is None:
            continue
        others = [c for c in sources.chunks if c.id != home.id and c.sha256 != home.sha256]
        pairs.append((seed, home, True))
        if others:  # the next chunk round the corpus: deterministic, and other content
            at = sources.chunks.index(home)
            pairs.append((seed, others[at % len(others)], False))
    if not pairs:
        return {"pairs": 0, "right": 0, "note": "no seed has quotes found in the documents"}
    got = await asyncio.gather(*(ask(client, [c], s.instruction, s.output) for s, c, _ in pairs))
    right = sum(
        1 for (_, _, ok), (v, _, _) in zip(pairs, got, strict=True) if (failure(v) is None) == ok
    )
    summary: dict[str, Any] = {"pairs": len(pairs), "right": right, "model": client.model}
    summary["min_share"] = MIN_CALIBRATION
    if right < MIN_CALIBRATION * len(pairs):
        raise StoppedError(
            f"the grounded verdict told {right} of {len(pairs)} calibration pairs apart "
            "(each seed beside its own chunk and beside another)",
            hint="use a stronger model for the verdict, or set grounding.verdict: false "
            "and rely on the quote and entity checks; see " + orjson.dumps(summary).decode(),
        )
    return summary

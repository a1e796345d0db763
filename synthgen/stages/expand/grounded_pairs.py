"""K responses to a grounded question (`responses_per_instruction` with `strategy: grounded`):
the grounded call's own answer is response 1; responses 2..K are asked of the responders in
turn, each shown the raw chunk and the question, and each checked against the chunk exactly
as the first was (quotes located, entities looked up, copying measured). `filter` (or `run`'s
judge) then builds the preference pair as it does for seeds."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from synthgen import prompts
from synthgen.config import GenerationConfig
from synthgen.llm.client import LLMClient
from synthgen.llm.structured import ParseFailure, parse_json
from synthgen.llm.types import Answer, ChatRequest
from synthgen.records import GeneratorInfo, Response
from synthgen.stages.expand.faithful import More, check_item
from synthgen.stages.expand.grounded import GroundedItem, Grounding, chunk_block
from synthgen.stages.expand.pairs import SEED_STEP
from synthgen.stages.expand.strategies import Job

TEMPLATE = "grounded_respond"
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "answer": {"type": "string"},
        "quotes": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 3},
    },
    "required": ["answer", "quotes"],
    "additionalProperties": False,
}


class GroundedResponse(BaseModel):
    """One more answer to a grounded question, as the responder returns it."""

    model_config = ConfigDict(extra="ignore")
    answer: str
    quotes: list[str] = Field(min_length=1, max_length=3)


def respond_request(g: Grounding, question: str, gen: GenerationConfig, seed: int) -> ChatRequest:
    """The request for one more answer to `question` from the job's chunk(s)."""
    msgs = prompts.load(TEMPLATE).render(
        chunks="\n\n".join(chunk_block(c) for c in g.chunks), question=question
    )
    return ChatRequest(
        messages=msgs,
        temperature=gen.temperature,
        top_p=gen.top_p,
        max_tokens=gen.max_new_tokens,
        seed=seed,
        json_schema=SCHEMA,
        schema_name="grounded_response",
    )


def more_responses(
    job: Job,
    sample: int,
    gen: GenerationConfig,
    responders: list[LLMClient],
    gen_info: Callable[[ChatRequest, Answer], GeneratorInfo],
) -> More | None:
    """For a grounded job with K ≥ 2 responses, what asks and checks responses 2..K of one of
    its questions; None with one response (nothing more is asked)."""
    k, g = gen.responses_per_instruction, job.grounding
    if k < 2 or g is None:
        return None
    grounding = g  # narrowed for the closure
    base = (job.request.seed or 0) + 1000 * sample

    async def more(item: GroundedItem) -> list[Response] | tuple[str, str]:
        async def one(j: int) -> tuple[ChatRequest, Answer, LLMClient]:
            client = responders[j % len(responders)]
            req = respond_request(grounding, item.instruction, gen, base + SEED_STEP * j)
            (a,) = await client.chat(req)
            return req, a, client

        # every call runs to its end (in batch mode each queues) before a failure is raised
        got = await asyncio.gather(*(one(j) for j in range(1, k)), return_exceptions=True)
        out: list[Response] = []
        for j, r in enumerate(got, 2):
            if isinstance(r, BaseException):
                raise r
            req, a, client = r
            said = f"response {j} of {k}"
            if a.finish_reason == "length":
                return "truncated", f"{said}: cut off at max_tokens={req.max_tokens}"
            try:
                resp = GroundedResponse.model_validate(parse_json(a.content or ""))
            except (ParseFailure, ValidationError):
                return "invalid_json", f"{said}: {(a.content or '')[:200]!r}"
            asked = item.model_copy(update={"answer": resp.answer, "quotes": resp.quotes})
            checked = check_item(asked, grounding, grounding.settings)
            if isinstance(checked, tuple):
                return checked[0], f"{said}: {checked[1]}"
            info = gen_info(req, a).model_copy(update={"model": client.model})
            out.append(
                Response(output=resp.answer, generator=info, usage=a.usage, evidence=checked)
            )
        return out

    return more

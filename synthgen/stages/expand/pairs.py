"""K responses to each instruction (`responses_per_instruction`), the material of preference
pairs: `filter` judges each response and keeps a chosen/rejected pair.

Response j of an instruction has its own seed and comes from the j-th responder model in
turn (`generation.models`), so that a pair is not one model against itself when several are
given. Response 0 is asked exactly as the single-response path asks it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from synthgen.records import Provenance, Record, Response, Usage, record_id
from synthgen.stages.expand.strategies import Job, Task, respond_request

if TYPE_CHECKING:
    from synthgen.config import GenerationConfig
    from synthgen.llm.client import LLMClient
    from synthgen.llm.types import Answer, ChatRequest
    from synthgen.records import GeneratorInfo

SEED_STEP = 7919  # response j's seed: response 0's + j × this


def pair_id(instruction: str, input: str, outputs: list[str]) -> str:
    """Same instruction and responses, same id."""
    return record_id(instruction, input, "\x1e".join(outputs))


async def respond_k(
    gen_info: Callable[[ChatRequest, Answer], GeneratorInfo],
    gen: GenerationConfig,
    task: Task,
    job: Job,
    sample: int,
    idx: int,
    responders: list[LLMClient],
) -> list[Response]:
    """The K responses to one instruction, each asked to its own end before a failure is
    raised (in batch mode each queues its request); `gen_info` describes a call."""
    base = (job.request.seed or 0) + 1000 * sample + idx

    async def one(j: int) -> Response:
        client = responders[j % len(responders)]
        req, _ = respond_request(task, gen, base + SEED_STEP * j)
        (a,) = await client.chat(req)
        info = gen_info(req, a).model_copy(update={"model": client.model})
        return Response(output=a.content or "", generator=info, usage=a.usage)

    k = gen.responses_per_instruction
    got = await asyncio.gather(*(one(j) for j in range(k)), return_exceptions=True)
    out: list[Response] = []
    for r in got:
        if isinstance(r, BaseException):
            raise r
        out.append(r)
    return out


def pair_record(task: Task, responses: list[Response], prov: Provenance, share: Usage) -> Record:
    """The record of one instruction and its K responses; `output` is the first response
    until `filter` sets it to the chosen one."""
    usage = share
    for r in responses:
        usage = usage + r.usage
    first = responses[0]
    return Record(
        id=pair_id(task.instruction, task.input, [r.output for r in responses]),
        instruction=task.instruction,
        input=task.input,
        output=first.output,
        responses=responses,
        meta={},
        provenance=prov.model_copy(update={"response_generator": first.generator, "usage": usage}),
    )

"""Turn answers into candidates: classify, parse, repair once, check, or ledger with a reason."""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson
from pydantic import ValidationError

from synthgen import prompts
from synthgen.config import GenerationConfig
from synthgen.llm.client import LLMClient, RequestRejected
from synthgen.llm.structured import ParseFailure, extract_items, repair_request
from synthgen.llm.types import Answer, ChatRequest
from synthgen.records import (
    GeneratorInfo,
    LedgerEntry,
    PromptRef,
    Provenance,
    Record,
    Usage,
    ledger_entry,
    ledger_id,
    record_id,
)
from synthgen.stages.expand.strategies import Job, Task, respond_request
from synthgen.version import __version__

if TYPE_CHECKING:
    from synthgen.stages.expand.sources import Sources


@dataclass(frozen=True)
class RunContext:
    """What every record of one run shares in its provenance."""

    run_id: str
    config_sha256: str
    task: str
    gen: GenerationConfig
    model: str
    endpoint: str
    sources: Sources | None = None  # grounded: the documents (run builds each round's plan)
    verdict: LLMClient | None = (
        None  # grounded: the judge of the chunk's verdict (not the generator)
    )


@dataclass
class JobOutcome:
    """What one job yielded: records to keep and drops to ledger, each in order."""

    job: Job
    records: list[Record] = field(default_factory=list)
    dropped: list[LedgerEntry] = field(default_factory=list)
    refusal: str | None = None  # what the endpoint said when it last refused one of its calls
    refused: bool = False  # the job's own request was refused, so it yielded nothing


_LEAKS = (
    "given prompt",
    "rewritten prompt",
    "#rewritten",
    "#given",
    "original instruction",
    "rewritten instruction",
)
# finish reasons that cut a reply short, and the drop reason each is ledgered under
_CUT_OFF = {"length": "truncated", "content_filter": "content_filter"}


def _cut_detail(finish_reason: str, max_tokens: int) -> str:
    """Why a reply was cut short, for the ledger."""
    if finish_reason == "length":
        return f"cut off at max_tokens={max_tokens} (finish_reason=length)"
    return f"finish_reason={finish_reason}"


_REFUSAL = re.compile(r"\b(sorry|i cannot|i can't|as an ai)\b", re.IGNORECASE)


def evol_failure(origin_instruction: str, task: Task) -> tuple[str, str] | None:
    """(reason, detail) when an evolution failed: unchanged, leaked, refused or empty."""
    # After WizardLM's elimination rules, with a similarity test in place of their LLM
    # equality check.
    from rapidfuzz.distance import Indel

    sim = Indel.normalized_similarity(origin_instruction.lower(), task.instruction.lower())
    if sim >= 0.9:
        return "evol_no_change", f"similarity to the parent {sim:.2f}"
    low = f"{task.instruction} {task.output}".lower()
    for leak in _LEAKS:
        if leak in low:
            return "evol_leak", f"contains {leak!r}"
    if _REFUSAL.search(task.output) and len(task.output) < 200:
        return "evol_refusal", task.output[:80]
    if not re.search(r"\w", task.output):
        return "evol_empty_output", "output has no words"
    return None


class Builder:
    """Runs one job through the client and accounts for every candidate it yields."""

    def __init__(
        self,
        ctx: RunContext,
        client: LLMClient,
        gate: Callable[[Task], tuple[str, str, str] | None] | None = None,
        responders: Sequence[LLMClient] = (),
    ) -> None:
        self.ctx, self.client = ctx, client
        # `run` screens separately generated instructions before paying for responses:
        # (stage, reason, detail) to drop one, None to let it through.
        self.gate = gate
        # The models that answer instructions when K responses are asked (default: client).
        self.responders: list[LLMClient] = list(responders)

    def _gen_info(self, req: ChatRequest, a: Answer, repaired: bool = False) -> GeneratorInfo:
        params: dict[str, Any] = {
            "temperature": req.temperature,
            "top_p": req.top_p,
            "max_tokens": req.max_tokens,
            "seed": req.seed,
        }
        if req.n > 1:
            params["n"] = req.n
        return GeneratorInfo(
            model=self.ctx.model,
            resolved_model=a.resolved_model,
            endpoint=self.ctx.endpoint,
            upstream_model=a.upstream_model,
            params=params,
            request_id=a.request_id,
            finish_reason=a.finish_reason,
            structured=a.structured,
            sampling=a.sampling,
            repaired=repaired,
            cached=a.cached,
        )

    def _prov(
        self,
        job: Job,
        gen: GeneratorInfo,
        usage: Usage,
        resp: GeneratorInfo | None = None,
        prompt: PromptRef | None = None,
        received_at: str = "",
    ) -> Provenance:
        now = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        return Provenance(
            run_id=self.ctx.run_id,
            # When the answer first arrived: a replay from the cache writes the same bytes.
            created_at=received_at or now,
            synthgen_version=__version__,
            config_sha256=self.ctx.config_sha256,
            method=job.method,
            operator=job.operator,
            parents=job.parents,
            prompt=prompt or job.prompt,
            generator=gen,
            source=job.grounding.source() if job.grounding else None,  # grounded: the chunk
            response_generator=resp,
            usage=usage,
            axes=job.axes,
        )

    def _drop(
        self,
        out: JobOutcome,
        key: str,
        idx: int,
        reason: str,
        detail: str,
        prov: Provenance,
        raw: str | None = None,
        task: Task | None = None,
        stage: str = "expand",
    ) -> None:
        out.dropped.append(
            ledger_entry(
                ledger_id(key, idx, reason),
                prov,
                stage,
                reason,
                detail[:500],
                instruction=task.instruction if task else None,
                input=task.input if task else None,
                output=task.output if task else None,
                raw=raw,
            )
        )

    async def run(self, job: Job) -> JobOutcome:
        """Ask the job's request and turn every answer into records or ledger entries."""
        out = JobOutcome(job)
        req = job.request
        answers: list[Answer] | None = None
        try:
            answers = await self.client.chat(req)
            for sample, a in enumerate(answers):
                await self._answer(out, job, sample, a)
        except RequestRejected as e:  # the job's call, or one of its response calls
            out.refusal, out.refused = e.message, answers is None
            fake = Answer(
                content=None,
                finish_reason=None,
                request_id=None,
                resolved_model=self.ctx.model,
                structured="none",
                sampling="single",
                usage=Usage(),
            )
            prov = self._prov(job, self._gen_info(req, fake), Usage())
            self._drop(out, self.client.key(req, 0), 0, e.reason, e.message, prov)
        return out

    async def _answer(self, out: JobOutcome, job: Job, sample: int, a: Answer) -> None:
        req = job.request
        info = self._gen_info(req, a)
        prov = self._prov(job, info, a.usage, received_at=a.received_at)
        if a.finish_reason in _CUT_OFF:
            # Ledgered, never repaired: a re-ask under the same max_tokens is cut off again.
            detail = _cut_detail(a.finish_reason, req.max_tokens)
            return self._drop(out, a.key, 0, _CUT_OFF[a.finish_reason], detail, prov, a.content)
        if not (a.content or "").strip():
            return self._drop(out, a.key, 0, "empty_reply", "no content", prov, a.content)
        content = a.content or ""
        try:
            items = extract_items(content, job.shape)
        except ParseFailure as first:
            repaired = await self._repair(out, job, sample, content, str(first))
            if repaired is None:
                return self._drop(out, a.key, 0, "invalid_json", str(first), prov, content)
            items, a2 = repaired
            usage = a.usage + a2.usage
            info = self._gen_info(req, a2, repaired=True)
            prov = self._prov(job, info, usage, received_at=a2.received_at)
        if job.grounding is not None:  # checked against its chunk, cheapest check first
            from synthgen.stages.expand.grounded_pairs import more_responses
            from synthgen.stages.expand.grounded_turns import grounded_records

            ledger = functools.partial(self._drop, out, a.key)
            g, name, who = job.grounding, self.ctx.task, self.responders or [self.client]
            more = more_responses(job, sample, self.ctx.gen, who, self._gen_info)
            out.records += await grounded_records(
                items, g, prov, name, ledger, self.ctx.verdict, more
            )
            return None
        share = Usage(
            prompt_tokens=prov.usage.prompt_tokens // len(items),
            completion_tokens=prov.usage.completion_tokens // len(items),
            cost_usd=prov.usage.cost_usd / len(items),
        )
        item_prov = prov.model_copy(update={"usage": share})
        if job.shape == "conversations":
            from synthgen.stages.expand.conversations import conversation_records

            def drop(idx: int, reason: str, detail: str, raw: str) -> None:
                self._drop(out, a.key, idx, reason, detail, item_prov, raw)

            out.records += conversation_records(items, self.ctx.task, item_prov, drop)
            return None
        tasks: list[tuple[int, Task]] = []
        for idx, item in enumerate(items):
            try:
                task = Task.model_validate(item)
            except ValidationError as e:
                raw = orjson.dumps(item).decode()
                detail = e.errors()[0]["msg"]
                self._drop(out, a.key, idx + 1, "invalid_item", detail, item_prov, raw)
                continue
            tasks.append((idx, task))
        tasks_resp: list[tuple[Task, GeneratorInfo | None, Usage | None]]
        if not job.with_output and self.gate is not None:
            # Instructions are screened before their responses are paid for (`run`).
            passed = []
            for idx, task in tasks:
                stop = self.gate(task)
                if stop is None:
                    passed.append((idx, task))
                else:
                    stage, reason, detail = stop
                    self._drop(out, a.key, idx + 1, reason, detail, item_prov, None, task, stage)
            tasks = passed
        if not job.with_output and self.ctx.gen.responses_per_instruction > 1:
            return await self._pairs(out, job, sample, tasks, item_prov, share)
        if not job.with_output:
            # Every response call runs to its end (in batch mode each one queues its request)
            # before the first failure, if any, is raised.
            got = await asyncio.gather(
                *(self._respond(task, job, sample, idx) for idx, task in tasks),
                return_exceptions=True,
            )
            tasks_resp = []
            for r in got:
                if isinstance(r, BaseException):
                    raise r
                tasks_resp.append(r)
        else:
            tasks_resp = [(t, None, None) for _, t in tasks]
        for (idx, _), (task, resp_info, resp_usage) in zip(tasks, tasks_resp, strict=True):
            p = item_prov
            if resp_info is not None and resp_usage is not None:
                p = p.model_copy(
                    update={"response_generator": resp_info, "usage": share + resp_usage}
                )
                if resp_info.finish_reason in _CUT_OFF:
                    reason = _CUT_OFF[resp_info.finish_reason]
                    cut = _cut_detail(resp_info.finish_reason, resp_info.params["max_tokens"])
                    detail = f"in the response call: {cut}"
                    self._drop(out, a.key, idx + 1, reason, detail, p, None, task)
                    continue
            self._check_and_keep(out, job, a.key, idx + 1, task, p)

    def _check_and_keep(
        self, out: JobOutcome, job: Job, key: str, idx: int, task: Task, prov: Provenance
    ) -> None:
        if not task.output.strip():
            return self._drop(out, key, idx, "empty_output", "output is empty", prov, None, task)
        if job.method == "evol" and job.origin is not None:
            failed = evol_failure(job.origin.instruction, task)
            if failed:
                return self._drop(out, key, idx, failed[0], failed[1], prov, None, task)
        out.records.append(
            Record(
                id=record_id(task.instruction, task.input, task.output),
                instruction=task.instruction,
                input=task.input,
                output=task.output,
                meta={"task": self.ctx.task, **({"tests": task.tests} if task.tests else {})},
                provenance=prov,
            )
        )

    async def _repair(
        self, out: JobOutcome, job: Job, sample: int, bad: str, error: str
    ) -> tuple[list[Any], Answer] | None:
        """One re-ask with the error shown; cached like any request."""
        req = job.request
        fixed = repair_request(req, bad, prompts.repair_ask(error)).model_copy(
            update={"n": 1, "seed": (req.seed or 0) + sample}
        )
        try:
            (a,) = await self.client.chat(fixed, followup=True)
        except RequestRejected as e:  # a re-ask is longer than its request: limits bite
            out.refusal = e.message
            return None
        if a.finish_reason != "stop" and a.finish_reason is not None:
            return None
        try:
            return extract_items(a.content or "", job.shape), a
        except ParseFailure:
            return None

    async def _pairs(
        self,
        out: JobOutcome,
        job: Job,
        sample: int,
        tasks: list[tuple[int, Task]],
        prov: Provenance,
        share: Usage,
    ) -> None:
        """Each instruction with its K responses, as one record (filter makes the pair)."""
        from synthgen.stages.expand.pairs import pair_record, respond_k

        responders = self.responders or [self.client]
        got = await asyncio.gather(
            *(
                respond_k(self._gen_info, self.ctx.gen, t, job, sample, i, responders)
                for i, t in tasks
            ),
            return_exceptions=True,
        )
        for r in got:
            if isinstance(r, BaseException):
                raise r
        for (_, task), responses in zip(tasks, got, strict=True):
            assert not isinstance(responses, BaseException)
            rec = pair_record(task, responses, prov, share)
            out.records.append(rec.model_copy(update={"meta": {"task": self.ctx.task}}))

    async def _respond(
        self, task: Task, job: Job, sample: int, idx: int
    ) -> tuple[Task, GeneratorInfo, Usage]:
        seed = (job.request.seed or 0) + 1000 * sample + idx
        req, _ = respond_request(task, self.ctx.gen, seed)
        (a,) = await self.client.chat(req)
        filled = task.model_copy(update={"output": a.content or ""})
        return filled, self._gen_info(req, a), a.usage

"""An answer cut off at max_tokens is not a parse failure: asking the same again would be cut
off again. The judge ledgers it (or retries once with twice the tokens where allowed);
expand ledgers it; a malformed but complete answer still gets its one repair."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from support.fakes import FakeClient, Reply, Script, as_llm_client, tasks_reply, verdict_reply

from synthgen.config import Config, GenerationConfig
from synthgen.fingerprint import fingerprint_dump
from synthgen.llm.types import Answer, ChatRequest
from synthgen.records import PromptRef
from synthgen.stages.expand.candidates import Builder, JobOutcome, RunContext
from synthgen.stages.expand.strategies import Job
from synthgen.stages.filter.judge import Judge, Judgement, load_rubric

RUBRIC = load_rubric(None)
CRITERIA = [c.name for c in RUBRIC.criteria]
GOOD = verdict_reply(5, CRITERIA)
CUT = '{"rationale": "The response names the steps, but the second one'  # cut off mid-way


class CutClient(FakeClient):
    """A FakeClient whose answers stop with finish_reason "length" while `cut(request)`."""

    def __init__(self, script: Script, cut: Callable[[ChatRequest], bool]) -> None:
        super().__init__(script)
        self.cut = cut

    async def chat(self, req: ChatRequest, followup: bool = False) -> list[Answer]:
        answers = await super().chat(req)
        if self.cut(req):
            return [a.model_copy(update={"finish_reason": "length"}) for a in answers]
        return answers


def _judge(client: FakeClient, retry: bool = False) -> tuple[Judge, Judgement]:
    judge = Judge(RUBRIC, [as_llm_client(client)], 3.5, 800, retry_truncated=retry)
    return judge, asyncio.run(judge.judge("Explain the steps.", "", "The steps are these."))


def test_a_cut_off_verdict_is_ledgered_as_truncated_without_a_repair() -> None:
    client = CutClient(lambda req, call: CUT, cut=lambda req: True)
    judge, jg = _judge(client)
    assert len(client.calls) == 1, "no repair re-ask for a verdict cut off at max_tokens"
    assert jg.error == "judge_truncated" and jg.score is None
    detail, raw = jg.failure_detail()
    assert "max_tokens=800" in detail and "rationale ran long" in detail
    assert raw == CUT
    assert (judge.truncated, judge.truncation_retries) == (1, 0)


def test_with_retry_allowed_exactly_one_retry_at_twice_the_tokens() -> None:
    client = CutClient(
        lambda req, call: GOOD if call else CUT, cut=lambda req: req.max_tokens < 1600
    )
    judge, jg = _judge(client, retry=True)
    first, retry = client.calls
    assert (first.max_tokens, retry.max_tokens) == (800, 1600)
    assert retry.messages == first.messages, "the same question, only a larger budget"
    assert jg.error is None and jg.score == 5
    prov = jg.provenance(RUBRIC.sha256, None)
    assert prov["truncation_retry"] == {"fake-model": 1600} and prov["repaired"] is False
    assert (judge.truncated, judge.truncation_retries) == (1, 1)
    assert jg.usage.completion_tokens == 10  # both answers are paid for


def test_a_retry_cut_off_again_is_ledgered_and_not_asked_a_third_time() -> None:
    client = CutClient(lambda req, call: GOOD[:-9], cut=lambda req: True)  # cut in its flags
    _, jg = _judge(client, retry=True)
    assert [r.max_tokens for r in client.calls] == [800, 1600]
    assert jg.error == "judge_truncated"
    detail = jg.failure_detail()[0]
    assert "max_tokens=800, and at 1600 on the one retry" in detail
    assert "the verdict ran long after its rationale" in detail


def test_a_malformed_but_complete_verdict_still_gets_one_repair() -> None:
    def script(req: ChatRequest, call: int) -> Reply:
        return GOOD if call else "Sure! The verdict is: good"

    client = CutClient(script, cut=lambda req: False)
    judge, jg = _judge(client, retry=True)
    first, repair = client.calls
    assert repair.max_tokens == first.max_tokens == 800
    assert len(repair.messages) == len(first.messages) + 2  # the bad reply and what was wrong
    assert jg.score == 5 and jg.provenance(RUBRIC.sha256, None)["repaired"] is True
    assert "truncation_retry" not in jg.provenance(RUBRIC.sha256, None)
    assert (judge.truncated, judge.truncation_retries) == (0, 0)


def _expand(client: FakeClient) -> JobOutcome:
    gen = GenerationConfig()
    req = ChatRequest(
        messages=[{"role": "user", "content": "write tasks"}],
        max_tokens=256,
        json_schema={"type": "object"},
    )
    prompt = PromptRef(template="t", template_sha256="0")
    job = Job(0, "self-instruct", None, ["seed:a"], prompt, req, "list", with_output=True)
    ctx = RunContext("run", "cfg", "default", gen, "fake-model", "fake.test")
    return asyncio.run(Builder(ctx, as_llm_client(client)).run(job))


def test_expand_ledgers_a_cut_off_generation_without_a_repair() -> None:
    client = CutClient(lambda req, call: tasks_reply("one", "two")[:30], cut=lambda req: True)
    out = _expand(client)
    assert len(client.calls) == 1, "no repair re-ask for a generation cut off at max_tokens"
    assert out.records == [] and len(out.dropped) == 1
    drop = out.dropped[0]
    assert drop.dropped.reason == "truncated" and "max_tokens=256" in drop.dropped.detail
    assert drop.raw == tasks_reply("one", "two")[:30]


def test_expand_repairs_a_malformed_but_complete_generation_once() -> None:
    def script(req: ChatRequest, call: int) -> Reply:
        return tasks_reply("one task here") if call else "here are the tasks: none"

    client = CutClient(script, cut=lambda req: False)
    out = _expand(client)
    assert len(client.calls) == 2 and len(out.records) == 1
    assert out.records[0].provenance.generator.repaired is True


def test_retry_truncated_keeps_the_fingerprint_of_configs_that_leave_it_unset() -> None:
    default, off = (
        Config(),
        Config.model_validate({"filter": {"judge": {"retry_truncated": False}}}),
    )
    on = Config.model_validate({"filter": {"judge": {"retry_truncated": True}}})
    judge = ("filter", "judge")
    assert "retry_truncated" not in fingerprint_dump(default.filter.judge, *judge)
    assert default.sha256() == off.sha256() != on.sha256()
    assert fingerprint_dump(on.filter.judge, *judge)["retry_truncated"] is True

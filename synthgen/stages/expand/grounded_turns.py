"""The checks and records of a grounded conversation (grounded_chat.py): every assistant
turn checked against the chunk as a single answer is (faithful.check_item), the first that
fails dropping the conversation with a detail naming the turn; the judge's verdict, last,
on the whole conversation beside the chunk."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from pydantic import ValidationError

from synthgen.llm.client import LLMClient
from synthgen.records import Provenance, Record, Usage
from synthgen.stages.expand.conversations import conversation_record
from synthgen.stages.expand.faithful import STAGE, Drop, More, check_item
from synthgen.stages.expand.faithful import grounded_records as faithful_records
from synthgen.stages.expand.grounded import GroundedItem, Grounding
from synthgen.stages.expand.grounded_chat import METHOD, GroundedConversation
from synthgen.stages.expand.strategies import Task
from synthgen.stages.expand.verdict import ask, failure, provenance


def check_conversation(
    conv: GroundedConversation, g: Grounding
) -> tuple[str, str] | list[dict[str, Any]]:
    """(reason, "turn N: detail") for the first assistant turn that fails a single answer's
    checks (quotes, entities, copying), else every turn's evidence, each with its `turn`
    (1-based exchange)."""
    if not conv.answerable:
        said = conv.exchanges[0].user
        return "unanswerable", f"the model says the chunk does not answer the conversation: {said}"
    evidence: list[dict[str, Any]] = []
    asked: list[str] = []  # earlier user turns: a name the user gave is no invention
    for n, ex in enumerate(conv.exchanges, 1):
        asked.append(ex.user)
        item = GroundedItem(
            instruction="\n".join(asked),
            answer=ex.assistant,
            quotes=ex.quotes,
            answerable=True,
        )
        got = check_item(item, g, g.settings)
        if isinstance(got, tuple):
            return got[0], f"turn {n}: {got[1]}"
        evidence += [{**ev, "turn": n} for ev in got]
    return evidence


async def grounded_records(
    items: list[Any],
    g: Grounding,
    prov: Provenance,
    task: str,
    drop: Drop,
    judge: LLMClient | None,
    more: More | None = None,
) -> list[Record]:
    """The records of one grounded reply: conversations for a conversation job (`g.chat`),
    else faithful.grounded_records' single answers."""
    if not g.chat or not items:
        return await faithful_records(items, g, prov, task, drop, judge, more)
    share = Usage(
        prompt_tokens=prov.usage.prompt_tokens // len(items),
        completion_tokens=prov.usage.completion_tokens // len(items),
        cost_usd=prov.usage.cost_usd / len(items),
    )
    base = prov.model_copy(update={"usage": share, "method": METHOD})
    passed: list[tuple[int, GroundedConversation, list[dict[str, Any]]]] = []
    for idx, raw in enumerate(items, 1):
        try:
            conv = GroundedConversation.model_validate(raw)
        except ValidationError as e:
            detail = e.errors()[0]["msg"]
            drop(idx, "invalid_item", detail, base, orjson.dumps(raw).decode(), None, "expand")
            continue
        got = check_conversation(conv, g)
        if isinstance(got, tuple):
            stage = "expand" if got[0] == "empty_output" else STAGE
            drop(idx, got[0], got[1], base, None, _task(conv), stage)
            continue
        passed.append((idx, conv, got))
    verdicts: list[Any] = []
    if g.settings.verdict and judge is not None and passed:
        # the whole conversation at once: its user turns as the question, its answers together
        asks = (ask(judge, list(g.chunks), *_as_question(conv)) for _, conv, _ in passed)
        verdicts = list(await asyncio.gather(*asks))
    kept: list[Record] = []
    for n, (idx, conv, evidence) in enumerate(passed):
        update: dict[str, Any] = {"evidence": evidence}
        failed = None
        if verdicts:
            v, cost, who = verdicts[n]
            update |= {"usage": share + cost, "grounded_verdict": provenance(v, who)}
            failed = failure(v)
        p = base.model_copy(update=update)
        if failed is not None:
            drop(idx, failed[0], failed[1], p, None, _task(conv), STAGE)
            continue
        kept.append(conversation_record(conv.turns(), task, p))
    return kept


def _as_question(conv: GroundedConversation) -> tuple[str, str]:
    """A conversation as the verdict reads it: its user turns as the question, its assistant
    turns together as the answer (one line each, so every turn is judged)."""
    users = " / ".join(" ".join(ex.user.split()) for ex in conv.exchanges)
    answers = " / ".join(" ".join(ex.assistant.split()) for ex in conv.exchanges)
    return users, answers


def _task(conv: GroundedConversation) -> Task:
    """A conversation as the ledger shows a candidate: its first exchange."""
    return Task(instruction=conv.exchanges[0].user, output=conv.exchanges[0].assistant)

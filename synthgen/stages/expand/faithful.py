"""Faithfulness, cheapest first, for the answers of a grounded job: each quote located in
its chunk (or found to come from elsewhere), the answer's numbers and names looked up in
the chunk, copying measured; a record that passes carries its source and evidence."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from pydantic import ValidationError

from synthgen.documents.grounding import GroundingSettings
from synthgen.llm.client import LLMClient
from synthgen.records import Provenance, Record, Response, Usage, record_id
from synthgen.stages.expand.grounded import GroundedItem, Grounding
from synthgen.stages.expand.pairs import pair_record
from synthgen.stages.expand.strategies import Task
from synthgen.stages.expand.verdict import Verdict, ask, failure, provenance
from synthgen.text.entities import unsupported
from synthgen.text.quotes import copied_share, locate, word_count

STAGE = "faithfulness"
# (item index, reason, detail, provenance, raw JSON, the item, stage) → one ledger entry
Drop = Callable[[int, str, str, Provenance, str | None, Task | None, str], None]
# K responses (grounded_pairs.py): responses 2..K of a question, each checked against the
# chunk, or (reason, detail) of the first that fails
More = Callable[[GroundedItem], Awaitable[list[Response] | tuple[str, str]]]


def check_item(
    item: GroundedItem, g: Grounding, s: GroundingSettings
) -> tuple[str, str] | list[dict[str, Any]]:
    """(reason, detail) for an answer that fails a check, else its evidence: each quote
    with its span in the document's extracted text, match type and score."""
    if not item.answerable:
        return "unanswerable", f"the model says the chunk does not answer: {item.instruction}"
    if not item.answer.strip():
        return "empty_output", "the answer is empty"
    evidence: list[dict[str, Any]] = []
    ids = {c.id for c in g.chunks}
    for quote in item.quotes:
        n = word_count(quote)
        if n < s.min_quote_words:
            return "quote_not_found", f"too short to prove anything ({n} words): {quote!r}"
        hit = None
        for chunk in g.chunks:
            got = locate(quote, chunk.text, s.fuzzy_min_score)
            if got is not None:
                hit = (chunk, got)
                break
        if hit is None:
            other = g.sources.find_elsewhere(quote, ids)
            if other is not None:
                return "quote_from_elsewhere", f"in chunk {other.id}, not this one: {quote!r}"
            return "quote_not_found", f"not in the chunk: {quote!r}"
        chunk, got = hit
        found = {"quote": quote, "chunk_id": chunk.id, "start": chunk.start + got.start}
        found |= {"end": chunk.start + got.end, "match": got.match}
        if got.match == "fuzzy":
            found["score"] = got.score
        evidence.append(found)
    texts = [c.text for c in g.chunks]
    if s.check_entities:
        missing = unsupported(item.answer, *texts, item.instruction)
        if missing:
            return "unsupported_entity", "not in the chunk: " + ", ".join(missing)
    share = max(copied_share(item.answer, t) for t in texts)
    if share > s.max_copied_share:
        limit = s.max_copied_share
        return "copies_source", f"the answer copies {share:.0%} of its chunk (limit {limit:.0%})"
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
    """The records of one reply that pass every check, the judge's verdict last (only for
    answers every deterministic check passed, and only with a judge: None leaves it out);
    every other item ledgered by `drop` (an empty reply too: the chunk yielded nothing,
    which coverage counts)."""
    if not items:
        ids = ", ".join(c.id for c in g.chunks)
        said = f"the model wrote no question for chunk {ids}"
        drop(0, "no_questions", said, prov, None, None, "expand")
        return []
    n = len(items)
    share = Usage(
        prompt_tokens=prov.usage.prompt_tokens // n,
        completion_tokens=prov.usage.completion_tokens // n,
        cost_usd=prov.usage.cost_usd / n,
    )
    base = prov.model_copy(update={"usage": share})
    passed: list[tuple[int, GroundedItem, list[dict[str, Any]]]] = []
    for idx, raw in enumerate(items, 1):
        try:
            item = GroundedItem.model_validate(raw)
        except ValidationError as e:
            detail = e.errors()[0]["msg"]
            drop(idx, "invalid_item", detail, base, orjson.dumps(raw).decode(), None, "expand")
            continue
        got = check_item(item, g, g.settings)
        if isinstance(got, tuple):
            stage = "expand" if got[0] == "empty_output" else STAGE
            drop(idx, got[0], got[1], base, None, _task(item), stage)
            continue
        passed.append((idx, item, got))
    extra: list[list[Response] | tuple[str, str]] = [[] for _ in passed]
    if more is not None and passed:  # K responses: each of the others checked the same way
        extra = list(await asyncio.gather(*(more(it) for _, it, _ in passed)))
    asked = g.settings.verdict and judge is not None
    # The judge's verdict on every answer that passed (all K of a question), asked at once.
    answers = [
        (n, item.instruction, a)
        for n, ((_, item, _), others) in enumerate(zip(passed, extra, strict=True))
        if not isinstance(others, tuple)
        for a in (item.answer, *(r.output for r in others))
    ]
    verdicts: list[tuple[Verdict | str, Usage, dict[str, str]]] = []
    if asked and judge is not None and answers:
        chunks = list(g.chunks)
        verdicts = list(await asyncio.gather(*(ask(judge, chunks, q, a) for _, q, a in answers)))
    kept: list[Record] = []
    for n, ((idx, item, evidence), others) in enumerate(zip(passed, extra, strict=True)):
        if isinstance(others, tuple):
            drop(idx, others[0], others[1], base, None, _task(item), STAGE)
            continue
        mine = [v for (m, _, _), v in zip(answers, verdicts, strict=False) if m == n]
        cost = sum((c for _, c, _ in mine), Usage())
        update: dict[str, Any] = {"evidence": evidence, "usage": share + cost}
        if mine:
            update["grounded_verdict"] = provenance(mine[0][0], mine[0][2])
        p = base.model_copy(update=update)
        failed = next((f for v, _, _ in mine if (f := failure(v)) is not None), None)
        if failed is not None:
            drop(idx, failed[0], failed[1], p, None, _task(item), STAGE)
            continue
        kept.append(_record(item, p, others, task))
    return kept


def _record(item: GroundedItem, p: Provenance, others: list[Response], task: str) -> Record:
    """A kept grounded question: one answer, or K (the first the grounded call's own) for
    `filter` to make a preference pair of."""
    if not others:
        return Record(
            id=record_id(item.instruction, "", item.answer),
            instruction=item.instruction,
            output=item.answer,
            meta={"task": task},
            provenance=p,
        )
    first = Response(output=item.answer, generator=p.generator, evidence=p.evidence)
    rec = pair_record(_task(item), [first, *others], p, p.usage)
    return rec.model_copy(update={"meta": {"task": task}})


def _task(item: GroundedItem) -> Task:
    """A grounded item as the ledger shows a candidate: its question and answer."""
    return Task(instruction=item.instruction, output=item.answer)

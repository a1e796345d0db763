"""Faithfulness, cheapest first, for the answers of a grounded job: each quote located in
its chunk (or found to come from elsewhere), the answer's numbers and names looked up in
the chunk, copying measured; a record that passes carries its source and evidence."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import orjson
from pydantic import ValidationError

from synthgen.documents.grounding import GroundingSettings
from synthgen.llm.client import LLMClient
from synthgen.records import Provenance, Record, Usage, record_id
from synthgen.stages.expand.grounded import GroundedItem, Grounding
from synthgen.stages.expand.strategies import Task
from synthgen.stages.expand.verdict import Verdict, ask, failure, provenance
from synthgen.text.entities import unsupported
from synthgen.text.quotes import copied_share, locate, word_count

STAGE = "faithfulness"
# (item index, reason, detail, provenance, raw JSON, the item, stage) → one ledger entry
Drop = Callable[[int, str, str, Provenance, str | None, Task | None, str], None]


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
    asked = g.settings.verdict and judge is not None
    verdicts: list[tuple[Verdict | str, Usage, dict[str, str]]] = [("", Usage(), {})] * len(passed)
    if asked and judge is not None and passed:
        chunks = list(g.chunks)
        verdicts = await asyncio.gather(
            *(ask(judge, chunks, it.instruction, it.answer) for _, it, _ in passed)
        )
    kept: list[Record] = []
    for (idx, item, evidence), (verdict, cost, who) in zip(passed, verdicts, strict=True):
        update: dict[str, Any] = {"evidence": evidence, "usage": share + cost}
        if asked:
            update["grounded_verdict"] = provenance(verdict, who)
        p = base.model_copy(update=update)
        failed = failure(verdict) if asked else None
        if failed is not None:
            drop(idx, failed[0], failed[1], p, None, _task(item), STAGE)
            continue
        rec_id = record_id(item.instruction, "", item.answer)
        kept.append(
            Record(
                id=rec_id,
                instruction=item.instruction,
                output=item.answer,
                meta={"task": task},
                provenance=p,
            )
        )
    return kept


def _task(item: GroundedItem) -> Task:
    """A grounded item as the ledger shows a candidate: its question and answer."""
    return Task(instruction=item.instruction, output=item.answer)

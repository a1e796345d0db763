"""Grounded conversations on a hand-made chunk (no endpoint): every assistant turn checked
as a single answer is, the first failing turn named; evidence per turn; the verdict once
per conversation; the stand-in's conversations carry their fault on one turn."""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any

import pytest
from support.fakes import FakeClient, as_llm_client

from synthgen.config import GenerationConfig
from synthgen.documents.grounding import GroundingSettings
from synthgen.documents.model import Chunk, Corpus, Document
from synthgen.errors import UsageError
from synthgen.llm.types import ChatRequest
from synthgen.records import Provenance, Seed, Turn, Usage, sha256_hex
from synthgen.stages.expand.grounded import Grounding
from synthgen.stages.expand.grounded_chat import (
    METHOD,
    GroundedConversation,
    chat_request,
    is_chat,
)
from synthgen.stages.expand.grounded_turns import check_conversation, grounded_records
from synthgen.stages.expand.sources import Sources
from synthgen.stages.expand.strategies import make_job
from synthgen.standin import grounded_chat as standin

PARTS = [
    "# Bees\n\nA worker bee lives for about 6 weeks in summer. Workers forage up to 5 km "
    "from the hive.\n\n",
    "## Honey\n\nBees make honey from nectar by evaporation and enzymes. A strong colony "
    "stores 25 kg of honey for winter.\n",
]
TEXT = "".join(PARTS)
TSHA = sha256_hex(TEXT)
HONEY = "A strong colony stores 25 kg of honey for winter."
NECTAR = "Bees make honey from nectar by evaporation and enzymes."
PROV = Provenance(
    run_id="run",
    created_at="2026-01-01T00:00:00Z",
    synthgen_version="0",
    config_sha256="cfg",
    method="grounded",
    parents=[],
    usage=Usage(prompt_tokens=100, completion_tokens=40),
)


def _sources() -> Sources:
    chunks, at = [], 0
    for i, part in enumerate(PARTS):
        chunks.append(
            Chunk(
                id=f"{TSHA[:12]}#{i}",
                document="bees.md",
                text_sha256=TSHA,
                index=i,
                start=at,
                end=at + len(part),
                sha256=sha256_hex(part),
                heading_path=("Bees",),
                text=part,
                tokens=len(part) // 4,
            )
        )
        at += len(part)
    doc = Document(
        path="bees.md",
        sha256=TSHA,
        parser="markdown",
        parser_version="synthgen",
        text_sha256=TSHA,
        chars=len(TEXT),
    )
    return Sources(Corpus.of((doc,), tuple(chunks), {TSHA: TEXT}))


SOURCES = _sources()


def _ground(verdict: bool = True) -> Grounding:
    chunk = SOURCES.chunks[1]
    settings = GroundingSettings(verdict=verdict)
    return Grounding((chunk,), SOURCES.document(chunk), SOURCES, settings, chat=True)


def _conv(*turns: tuple[str, str, list[str]], answerable: bool = True) -> GroundedConversation:
    exchanges = [{"user": u, "assistant": a, "quotes": q} for u, a, q in turns]
    return GroundedConversation.model_validate(
        {"system": "", "exchanges": exchanges, "answerable": answerable}
    )


GOOD = [
    ("How do bees make honey?", "From nectar, by evaporation and enzymes.", [NECTAR]),
    ("How much do they keep?", "About 25 kg, for the winter.", [HONEY]),
]


def test_every_turn_gets_its_evidence_with_its_turn_index() -> None:
    got = check_conversation(_conv(*GOOD), _ground())
    assert isinstance(got, list)
    assert [ev["turn"] for ev in got] == [1, 2]
    for ev, quote in zip(got, (NECTAR, HONEY), strict=True):
        assert TEXT[ev["start"] : ev["end"]] == quote and ev["match"] == "exact"


def test_the_first_failing_turn_drops_the_conversation_and_is_named() -> None:
    g = _ground()
    fabricated = (GOOD[1][0], GOOD[1][1], ["honey is stored in wax cells for the long winter"])
    got = check_conversation(_conv(GOOD[0], fabricated), g)
    assert got == (
        "quote_not_found",
        "turn 2: not in the chunk: 'honey is stored in wax cells for the long winter'",
    )
    elsewhere = (GOOD[0][0], GOOD[0][1], ["A worker bee lives for about 6 weeks in summer."])
    got = check_conversation(_conv(elsewhere, fabricated), g)
    assert isinstance(got, tuple) and got[0] == "quote_from_elsewhere"
    assert got[1].startswith(f"turn 1: in chunk {SOURCES.chunks[0].id}")
    number = (GOOD[1][0], "About 40 kg, for the winter.", [HONEY])
    assert check_conversation(_conv(GOOD[0], number), g) == (
        "unsupported_entity",
        "turn 2: not in the chunk: 40",
    )
    copied = (GOOD[1][0], PARTS[1], [HONEY])
    got = check_conversation(_conv(GOOD[0], copied), g)
    assert isinstance(got, tuple) and got[0] == "copies_source" and got[1].startswith("turn 2: ")
    got = check_conversation(_conv(*GOOD, answerable=False), g)
    assert isinstance(got, tuple) and got[0] == "unanswerable"


def test_a_name_the_user_gave_in_an_earlier_turn_is_not_an_invention() -> None:
    asked = ("I am Maria Lopez. How do bees make honey?", "From nectar and enzymes.", [NECTAR])
    named = ("And how much do they keep?", "Maria Lopez, about 25 kg.", [HONEY])
    assert isinstance(check_conversation(_conv(asked, named), _ground()), list)
    alone = ("How much do they keep?", "Maria Lopez, about 25 kg.", [HONEY])
    got = check_conversation(_conv(GOOD[0], alone), _ground())
    assert got == ("unsupported_entity", "turn 2: not in the chunk: Maria Lopez")


def _records(items: list[Any], judge: FakeClient | None) -> tuple[list[Any], list[tuple[str, str]]]:
    drops: list[tuple[str, str]] = []

    def drop(idx: int, reason: str, detail: str, *_: Any) -> None:
        drops.append((reason, detail))

    client = as_llm_client(judge) if judge is not None else None
    recs = asyncio.run(grounded_records(items, _ground(), PROV, "bees", drop, client))
    return recs, drops


def _item(*turns: tuple[str, str, list[str]]) -> dict[str, Any]:
    exchanges = [{"user": u, "assistant": a, "quotes": q} for u, a, q in turns]
    return {"system": "", "exchanges": exchanges, "answerable": True}


def test_kept_conversations_carry_turns_evidence_and_one_verdict_each() -> None:
    def says(req: ChatRequest, call: int) -> str:
        wrong = "40 kg" in req.messages[-1]["content"]
        return json.dumps({"supported": not wrong, "contradicts": wrong, "answerable": True})

    judge = FakeClient(says, model="judge-x")
    bad = (GOOD[1][0], "About 40 kg, for the winter.", [HONEY])
    items = [_item(*GOOD), _item(GOOD[0], bad), {"exchanges": []}]
    settings = GroundingSettings(verdict=True, check_entities=False)
    g = Grounding(_ground().chunks, _ground().document, SOURCES, settings, chat=True)
    drops: list[tuple[str, str]] = []
    recs = asyncio.run(
        grounded_records(
            items, g, PROV, "bees", lambda i, r, d, *_: drops.append((r, d)), as_llm_client(judge)
        )
    )
    assert len(judge.calls) == 2  # one verdict per conversation that passed the checks
    (rec,) = recs
    assert rec.messages is not None and [t.role for t in rec.messages] == ["user", "assistant"] * 2
    assert rec.messages[3] == Turn(role="assistant", content=GOOD[1][1])
    assert rec.provenance.method == METHOD
    assert [ev["turn"] for ev in rec.provenance.evidence or []] == [1, 2]
    assert rec.provenance.grounded_verdict == {
        "model": "judge-x",
        "supported": True,
        "contradicts": False,
        "answerable": True,
    }
    assert [r for r, _ in drops] == ["invalid_item", "contradicts_source"]


def test_an_empty_reply_is_no_questions_for_the_chunk() -> None:
    recs, drops = _records([], None)
    assert recs == [] and [r for r, _ in drops] == ["no_questions"]


def test_conversation_seeds_make_a_conversation_request() -> None:
    convo = Seed(
        id="c1",
        instruction="How do bees make honey?",
        output="From nectar.",
        messages=[
            Turn(role="user", content="How do bees make honey?"),
            Turn(role="assistant", content="From nectar."),
            Turn(role="user", content="How much?"),
            Turn(role="assistant", content="25 kg."),
        ],
        meta={"quotes": [HONEY]},
    )
    plain = Seed(id="q1", instruction="How much honey?", output="25 kg.")
    assert is_chat([plain, convo]) and not is_chat([plain])
    req, shown = chat_request(random.Random(1), [plain, convo], 2, 3, "bees", _ground(), {}, 7)
    assert shown == [convo]  # only conversations show the shape
    prompt = req.messages[-1]["content"]
    assert "shape, not facts" in prompt and f'Quote: "{HONEY}"' in prompt
    assert "exchanges, in order: 2, 2, 2" in prompt and req.schema_name == METHOD
    assert standin.is_chat(req.json_schema)


def test_the_standin_answers_with_conversations_quoting_the_chunk_and_one_faulty_turn() -> None:
    req, _ = chat_request(random.Random(1), [_seed_conv()], 1, 2, "bees", _ground(), {}, 7)
    msgs = [dict(m) for m in req.messages]
    clean = json.loads(standin.reply(msgs, req.json_schema, 0, [], 7) or "")
    for item in clean["items"]:
        conv = GroundedConversation.model_validate(item)
        assert isinstance(check_conversation(conv, _ground()), list)
    # chunk #1: the modes go fabricated, short, clean, clean by chunk index: "short"
    faulty = json.loads(standin.reply(msgs, req.json_schema, 0, ["short", "fabricated"], 7) or "")
    got = check_conversation(GroundedConversation.model_validate(faulty["items"][0]), _ground())
    assert isinstance(got, tuple) and got[0] == "quote_not_found" and got[1].startswith("turn 2:")


def _seed_conv() -> Seed:
    return Seed(
        id="c1",
        instruction="How do bees make honey?",
        output="From nectar.",
        messages=[
            Turn(role="user", content="How do bees make honey?"),
            Turn(role="assistant", content="From nectar."),
            Turn(role="user", content="How much?"),
            Turn(role="assistant", content="25 kg."),
        ],
    )


def test_conversation_seeds_make_conversation_jobs_and_refuse_k_responses() -> None:
    gen = GenerationConfig(strategy="grounded", per_call=1)
    job = make_job(0, gen, [_seed_conv()], [], "bees", ground=lambda i: _ground())
    assert job.method == METHOD and job.grounding is not None and job.grounding.chat
    paired = GenerationConfig(strategy="grounded", responses_per_instruction=2)
    with pytest.raises(UsageError, match="not grounded conversations"):
        make_job(0, paired, [_seed_conv()], [], "bees", ground=lambda i: _ground())

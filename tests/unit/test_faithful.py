"""The faithfulness checks of a grounded answer, the chunk plan and the coverage block, on
hand-made chunks (no endpoint, no files but the ledger's)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from support.fakes import FakeClient, as_llm_client

from synthgen.documents.grounding import GroundingSettings
from synthgen.documents.model import Chunk, Corpus, Document
from synthgen.errors import StoppedError
from synthgen.llm.types import ChatRequest
from synthgen.records import Seed, sha256_hex
from synthgen.stages.expand.coverage import ChunkPlan
from synthgen.stages.expand.faithful import check_item
from synthgen.stages.expand.grounded import GroundedItem, Grounding
from synthgen.stages.expand.sources import Sources
from synthgen.stages.expand.verdict import Verdict, calibrate, failure
from synthgen.stages.report.coverage import coverage, grounding_line, seen_coverage
from synthgen.standin.grounded import grounded_reply

PARTS = [
    "# Bees\n\nA worker bee lives for about 6 weeks in summer. Workers forage up to 5 km "
    "from the hive.\n\n",
    "## Queens\n\nThe queen lays up to 2,000 eggs a day in spring. Karl von Frisch described "
    "the waggle dance in 1927.\n\n",
    "## Honey\n\nBees make honey from nectar by evaporation and enzymes. A strong colony "
    "stores 25 kg of honey for winter.\n",
]
TEXT = "".join(PARTS)
TSHA = sha256_hex(TEXT)


def _corpus() -> Corpus:
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
                heading_path=("Bees",) if i == 0 else ("Bees", part.split("\n")[0][3:]),
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
    return Corpus.of((doc,), tuple(chunks), {TSHA: TEXT})


SOURCES = Sources(_corpus())
SETTINGS = GroundingSettings()


def _ground(i: int, settings: GroundingSettings = SETTINGS) -> Grounding:
    chunk = SOURCES.chunks[i]
    return Grounding((chunk,), SOURCES.document(chunk), SOURCES, settings)


def _item(answer: str, *quotes: str, answerable: bool = True) -> GroundedItem:
    q = "How much honey does a strong colony store?"
    return GroundedItem(instruction=q, answer=answer, quotes=list(quotes), answerable=answerable)


def test_a_supported_answer_gets_its_evidence_as_spans_of_the_document() -> None:
    quote = "A strong colony stores 25 kg of honey for winter."
    got = check_item(_item("About 25 kg, kept for winter.", quote), _ground(2), SETTINGS)
    assert isinstance(got, list)
    (ev,) = got
    assert TEXT[ev["start"] : ev["end"]] == quote and ev["match"] == "exact"
    assert ev["chunk_id"] == SOURCES.chunks[2].id


def test_each_failure_has_its_reason_and_names_what_failed() -> None:
    g = _ground(2)
    cases = {
        "quote_not_found": _item("25 kg.", "honey is stored in wax cells for the long winter"),
        "quote_from_elsewhere": _item("25 kg.", "The queen lays up to 2,000 eggs a day"),
        "unsupported_entity": _item("About 40 kg.", "A strong colony stores 25 kg of honey"),
        "unanswerable": _item("It does not say.", "stores 25 kg of honey for", answerable=False),
        "copies_source": _item(PARTS[2], "A strong colony stores 25 kg of honey"),
    }
    for reason, item in cases.items():
        got = check_item(item, g, SETTINGS)
        assert isinstance(got, tuple) and got[0] == reason, (reason, got)
    short = check_item(_item("25 kg.", "stores 25 kg"), g, SETTINGS)
    assert short == ("quote_not_found", "too short to prove anything (3 words): 'stores 25 kg'")
    elsewhere = check_item(cases["quote_from_elsewhere"], g, SETTINGS)
    assert SOURCES.chunks[1].id in elsewhere[1]  # type: ignore[index]
    named = check_item(
        _item("Karl von Frisch says 25 kg.", "A strong colony stores 25 kg"), g, SETTINGS
    )
    assert named == ("unsupported_entity", "not in the chunk: Karl von Frisch")


def test_entities_and_copying_follow_their_settings() -> None:
    lax = GroundingSettings(check_entities=False, max_copied_share=1.0)
    g = _ground(2, lax)
    assert isinstance(
        check_item(_item("About 40 kg.", "A strong colony stores 25 kg of honey"), g, lax), list
    )
    assert isinstance(
        check_item(_item(PARTS[2], "A strong colony stores 25 kg of honey"), g, lax), list
    )


def test_the_plan_goes_round_the_chunks_fewest_kept_first() -> None:
    plan = ChunkPlan(SOURCES, SETTINGS)
    assert [plan(i).chunks[0].index for i in range(4)] == [0, 1, 2, 0]
    ids = [c.id for c in SOURCES.chunks]
    later = ChunkPlan(SOURCES, SETTINGS, {ids[0]: 2, ids[1]: 1}, target=3)
    # chunk 2 kept nothing: it leads; chunk 0 is at its quota (1 of 3): it comes last
    assert [later(i).chunks[0].index for i in range(3)] == [2, 1, 0]
    hop = ChunkPlan(SOURCES, GroundingSettings(hops=2))
    assert [c.index for c in hop(2).chunks] == [1, 2]
    assert hop(2).source()["hop"]["chunk_id"] == ids[2]


def test_coverage_counts_per_chunk_and_the_evidence_union(tmp_path: Path) -> None:
    ids = [c.id for c in SOURCES.chunks]

    def line(chunk: int, spans: list[tuple[int, int]], **extra: object) -> str:
        ev = [{"start": s, "end": e} for s, e in spans]
        prov = {"source": {"chunk_id": ids[chunk], "text_sha256": TSHA}, "evidence": ev}
        return json.dumps({"provenance": prov, **extra}) + "\n"

    data, ledger = tmp_path / "data.jsonl", tmp_path / "dropped.jsonl"
    data.write_text(line(0, [(10, 30), (20, 40)]) + line(0, [(100, 110)]) + line(2, [(0, 5)]))
    why = {"stage": "faithfulness", "reason": "quote_not_found"}
    ledger.write_text(line(1, [], dropped=why) + '{"dropped": {"reason": "invalid_json"}}\n')
    cov = coverage(data, ledger, SOURCES.corpus.documents, SOURCES.chunks)
    assert [c.kept for c in cov.per_chunk] == [2, 0, 1]
    assert cov.per_chunk[1].dropped == {"quote_not_found": 1}
    assert cov.empty_chunks == [ids[1]] and cov.chunk_coverage == round(2 / 3, 4)
    assert cov.evidence_chars == 30 + 10 + 5 and cov.chars == len(TEXT)


def test_standin_quotes_its_chunk_and_repeats_a_fault_for_a_repair() -> None:
    prompt = f'Source text (x):\n<chunk id="{ids_of(3)}">\n{PARTS[2]}\n</chunk>'
    schema = {"properties": {"items": {"maxItems": 2, "items": {"quotes": {}}}}}
    msgs = [{"role": "user", "content": prompt}]
    reply = json.loads(grounded_reply(msgs, schema, 0, [], 7))
    assert len(reply["items"]) == 2
    assert all(q in PARTS[2] for it in reply["items"] for q in it["quotes"])
    faults = ["empty", "malformed", "fabricated", "number"]  # chunk #3: "number"
    repair = [*msgs, {"role": "assistant", "content": "{"}, {"role": "user", "content": "fix"}]
    assert grounded_reply(msgs, schema, 0, faults, 7) == grounded_reply(
        repair, schema, 0, faults, 7
    )
    first = json.loads(grounded_reply(msgs, schema, 0, faults, 7))["items"][0]
    assert "1009" in first["answer"]


def ids_of(i: int) -> str:
    return f"{TSHA[:12]}#{i}"


def _verdict_client(says: Callable[[str, str], dict[str, bool]]) -> FakeClient:
    """A verdict model that answers by looking at the chunk and the answer in the prompt."""

    def script(req: ChatRequest, call: int) -> str:
        prompt = req.messages[-1]["content"]
        answer = prompt.split("Answer: ", 1)[1].split("\n", 1)[0]
        return json.dumps(says(prompt.split("</chunk>", 1)[0], answer))

    return FakeClient(script)


SEEDS = [
    Seed(
        id="s1", instruction="How much honey?", output="25 kg.", meta={"quotes": [PARTS[2][12:60]]}
    ),
    Seed(
        id="s2",
        instruction="How many eggs?",
        output="2,000 a day.",
        meta={"quotes": [PARTS[1][12:50]]},
    ),
]


def test_calibration_passes_a_verdict_that_reads_the_chunk_and_stops_one_that_does_not() -> None:
    def reads(chunk: str, answer: str) -> dict[str, bool]:
        ok = answer.split()[0] in chunk
        return {"supported": ok, "contradicts": False, "answerable": True}

    summary = asyncio.run(calibrate(as_llm_client(_verdict_client(reads)), SEEDS, SOURCES))
    assert summary["pairs"] == 4 and summary["right"] == 4

    def agrees(chunk: str, answer: str) -> dict[str, bool]:
        return {"supported": True, "contradicts": False, "answerable": True}

    with pytest.raises(StoppedError, match="2 of 4 calibration pairs"):
        asyncio.run(calibrate(as_llm_client(_verdict_client(agrees)), SEEDS, SOURCES))


def test_verdict_reasons_worst_first() -> None:
    def v(s: bool, c: bool, a: bool) -> Verdict:
        return Verdict(supported=s, contradicts=c, answerable=a)

    assert failure(v(True, False, True)) is None
    assert failure(v(False, True, False))[0] == "contradicts_source"  # type: ignore[index]
    assert failure(v(False, False, False))[0] == "unanswerable"  # type: ignore[index]
    assert failure(v(False, False, True))[0] == "unsupported"  # type: ignore[index]
    assert failure("no usable verdict: 'x'")[0] == "invalid_verdict"  # type: ignore[index]


def test_decontaminate_takes_a_document_and_drops_a_record_sharing_a_13_gram(
    tmp_path: Path,
) -> None:
    from synthgen.api import dedup

    doc = tmp_path / "eval.md"
    doc.write_text(TEXT, encoding="utf-8")
    leak = "Bees make honey from nectar by evaporation and enzymes. A strong colony stores lots."
    rows = [
        {"instruction": "How is honey made?", "output": leak},
        {"instruction": "Name a pollinator.", "output": "The honey bee, among many others."},
    ]
    data = tmp_path / "data.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "kept.jsonl"
    summary = dedup(data, output=out, method="exact", decontaminate=[doc], state_dir=tmp_path)
    kept = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["instruction"] for r in kept] == ["Name a pollinator."]
    drop = json.loads((tmp_path / "kept.ledger.jsonl").read_text().splitlines()[0])
    assert drop["dropped"]["reason"] == "contaminated"
    assert summary.ok


def test_a_run_dirs_report_counts_every_chunk_of_the_corpus(tmp_path: Path) -> None:
    ids = [c.id for c in SOURCES.chunks]
    block = coverage(tmp_path / "none", None, SOURCES.corpus.documents, SOURCES.chunks)
    manifest = {
        "coverage": block.model_dump(mode="json"),
        "files": {f"documents/{TSHA}.txt": "x", "data.jsonl": "y"},
    }
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    ev = [{"start": 0, "end": 10}]
    src = {"chunk_id": ids[1], "text_sha256": TSHA, "chunk_span": [0, 1]}
    data = tmp_path / "data.jsonl"
    data.write_text(json.dumps({"provenance": {"source": src, "evidence": ev}}) + "\n")
    got = seen_coverage(data, None)
    assert got is not None and got["scope"] == "every chunk of the corpus"
    # chunks 0 and 2 were never in the data nor the ledger: still counted, as empty
    assert got["chunks"] == 3 and got["empty_chunks"] == [ids[0], ids[2]]
    assert got["evidence_chars"] == 10 and got["chars"] == len(TEXT)
    assert "1 of 3 chunks" in grounding_line(got) and ids[2] in grounding_line(got)
    (tmp_path / "manifest.json").unlink()  # elsewhere: only the chunks the data names
    assert seen_coverage(data, None)["chunks"] == 1  # type: ignore[index]


def test_each_of_k_grounded_responses_is_checked_against_the_chunk() -> None:
    from synthgen.config import GenerationConfig
    from synthgen.records import GeneratorInfo, PromptRef
    from synthgen.stages.expand.grounded_pairs import more_responses
    from synthgen.stages.expand.strategies import Job

    g = _ground(2)
    gen = GenerationConfig(strategy="grounded", responses_per_instruction=3)
    ref = PromptRef(template="grounded", template_sha256="x")
    job = Job(0, "grounded", None, [], ref, ChatRequest(messages=[], seed=5), "grounded", True)
    job = dataclasses.replace(job, grounding=g)
    good = "A strong colony stores 25 kg of honey for winter."
    replies = {0: {"answer": "About 25 kg.", "quotes": [good]}}  # call 0: response 2

    def script(req: ChatRequest, call: int) -> str:  # otherwise a quote that is not there
        bad = {"answer": "About 25 kg.", "quotes": ["bees keep honey in golden jars forever"]}
        return json.dumps(replies.get(call, bad))

    client = FakeClient(script)

    def info(req: ChatRequest, a: object) -> GeneratorInfo:
        return GeneratorInfo.model_construct(model="m", params={"seed": req.seed})

    more = more_responses(job, 0, gen, [as_llm_client(client)], info)  # type: ignore[arg-type]
    assert more is not None
    item = _item("About 25 kg.", good)
    got = asyncio.run(more(item))
    assert got == ("quote_not_found", "response 3 of 3: not in the chunk: "
                   "'bees keep honey in golden jars forever'")  # fmt: skip
    # each response its own seed; every request shows the chunk and the question
    assert len({r.seed for r in client.calls}) == 2
    assert all(item.instruction in r.messages[-1]["content"] for r in client.calls)
    replies[2] = replies[3] = replies[0]  # the rerun's calls (the fake does not cache)
    ok = asyncio.run(more(item))
    assert isinstance(ok, list) and len(ok) == 2
    assert ok[0].evidence[0]["match"] == "exact"  # type: ignore[attr-defined]
    one = GenerationConfig(strategy="grounded")
    assert more_responses(job, 0, one, [as_llm_client(client)], info) is None  # type: ignore[arg-type]

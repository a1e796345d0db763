"""Ledger lines, byte for byte: filter, dedup, run and expand each write drops through their
real code on small fixed inputs, and the bytes must equal the pinned files in golden/.

The golden files were written by the code before ledger entries had one constructor; a
change to them is a change to every ledger synthgen writes, so make it on purpose only.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import orjson
from support.fakes import FakeClient, Reply, as_llm_client, verdict_reply
from support.filter_fixtures import synthgen_record, write_jsonl

from synthgen.config import RulesConfig
from synthgen.core.sink import Sink
from synthgen.llm.client import RequestRejected
from synthgen.llm.types import ChatRequest
from synthgen.records import JudgeVerdict, Provenance, Turn, Usage, ledger_entry, ledger_id
from synthgen.seeds.dataset import iter_rows
from synthgen.stages.dedup.stage import DedupConfig, run_dedup
from synthgen.stages.filter.engine import FilterEngine, RecordSink
from synthgen.stages.filter.judge import Judge, Judgement, load_rubric
from synthgen.stages.filter.rules import Rules

GOLDEN = Path(__file__).parent / "golden"
RUBRIC = load_rubric(None)
CRITERIA = [c.name for c in RUBRIC.criteria]
# Longer than the 500 characters a filter drop's detail keeps.
REFUSED = "the endpoint answered HTTP 400: prompt too long " + "x" * 600


def _pinned(name: str, got: bytes) -> None:
    want = (GOLDEN / name).read_bytes()
    assert got.splitlines() == want.splitlines()
    assert got == want


def _judge_script(req: ChatRequest, _call: int) -> Reply:
    text = req.messages[1]["content"]
    out = text.split("<response>", 1)[1].split("</response>", 1)[0].strip()
    if out.startswith("GOOD"):
        return verdict_reply(5, CRITERIA)
    if out.startswith("BAD"):
        return verdict_reply(2, CRITERIA)
    if out.startswith("REFUSE"):
        return RequestRejected(REFUSED, "request_rejected")
    return "no verdict here, not even after a repair"


def test_filter_ledger_bytes(tmp_path: Path) -> None:
    rows = [
        synthgen_record("Hi", "GOOD"),  # instruction_too_short
        synthgen_record("Explain the steps of case one in detail.", " "),  # empty_output
        synthgen_record("Explain the steps of case two in detail.", "GOOD answer two", "ctx"),
        synthgen_record("Explain the steps of case three in detail.", "BAD answer three"),
        synthgen_record("Explain the steps of case four in detail.", "GARBLED answer four"),
        synthgen_record("Explain the steps of case five in detail.", "REFUSE answer five"),
        synthgen_record("Explain the steps of case two in detail.", "GOOD answer two", "ctx"),
    ]
    rows[3]["meta"] = {"task": "t", "tags": ["a", "b"]}
    src = write_jsonl(tmp_path / "in.jsonl", rows)
    out, ledger = tmp_path / "kept.jsonl", tmp_path / "kept.ledger.jsonl"
    sink = RecordSink(out, ledger, False, False)
    judge = Judge(RUBRIC, [as_llm_client(FakeClient(_judge_script))], 3.5, 800)

    def verdict_of(jg: Judgement) -> JudgeVerdict:
        return jg.verdict(RUBRIC.sha256, None)

    engine = FilterEngine(
        iter_rows(src, empty_output=True),
        str(src),
        "2026-01-01T00:00:00Z",
        Rules(RulesConfig()),
        judge,
        sink,
        verdict_of,
        2,
    )
    assert asyncio.run(engine.run()).status == "complete"
    sink.close(finalise_files=True)
    _pinned("filter.ledger.jsonl", ledger.read_bytes())


def test_dedup_ledger_bytes(tmp_path: Path) -> None:
    base = "Describe the migration habits of the arctic tern across the whole year"
    rows: list[dict[str, Any]] = [
        synthgen_record(base, "first answer"),
        synthgen_record(base.upper() + "!", "an exact copy after normalisation"),
        synthgen_record(base.replace("whole", "entire"), "a near copy"),
        synthgen_record("Write a haiku about rain falling on a tin roof at night", "drip"),
        synthgen_record("Summarise the plot of the evaluation item number seven here", "x"),
    ]
    # Fields dedup passes through as they are, in their order: extras, nulls, a `match`.
    rows[1]["extra"] = None
    rows[2] = {"match": {"old": 1}, **rows[2], "responses": [{"output": "a"}]}
    against = write_jsonl(
        tmp_path / "old.jsonl",
        [{"instruction": "Write a haiku about rain falling on a tin roof at night", "output": "o"}],
    )
    evals = write_jsonl(
        tmp_path / "eval.jsonl",
        [{"instruction": "Summarise the plot of the evaluation item number seven", "output": "y"}],
    )
    src = write_jsonl(tmp_path / "in.jsonl", rows)
    ledger = tmp_path / "rejected.jsonl"
    cfg = DedupConfig(
        input=str(src),
        output=str(tmp_path / "out.jsonl"),
        rejected=str(ledger),
        method="minhash",
        threshold=0.5,
        against=(str(against),),
        decontaminate=(str(evals),),
        ngram=5,
        state_dir=str(tmp_path / ".synthgen"),
    )
    summary = run_dedup(cfg, lambda _s: None)
    assert summary.ok, summary
    got = ledger.read_bytes().replace(str(tmp_path).encode(), b"TMP")
    assert len(got.splitlines()) == 4
    _pinned("dedup.ledger.jsonl", got)


def _prov() -> Provenance:
    return Provenance(
        run_id="run_x",
        created_at="2026-01-01T00:00:00Z",
        synthgen_version="0",
        config_sha256="cfg",
        method="self-instruct",
        parents=["seed:s0"],
        usage=Usage(prompt_tokens=3, completion_tokens=4, cost_usd=0.5),
        judge={"score": 2.0, "passed": False},
    )


def test_run_and_expand_ledger_bytes(tmp_path: Path) -> None:
    """The entries run and expand build (their own calls' shapes), through a real Sink."""
    sink = Sink(tmp_path / "o.jsonl", tmp_path / "o.ledger.jsonl", False, False)
    # run's screen: a record's texts, then `match` after `dropped`
    sink.drop(
        ledger_entry(
            "sg_1",
            _prov(),
            "dedup",
            "near_duplicate",
            "minhash jaccard 0.8 ≥ 0.7",
            instruction="i",
            input="",
            output="o",
            match={"id": "sg_0", "similarity": 0.8},
        )
    )
    # run's judge, with no match
    sink.drop(
        ledger_entry(
            "sg_2",
            _prov(),
            "judge",
            "below_threshold",
            "score 2 < 3.5",
            instruction="i2",
            input="in",
            output="o2",
        )
    )
    # expand: a parse failure keeps only the raw answer
    sink.drop(
        ledger_entry(
            ledger_id("key", 0, "parse_failure"),
            _prov(),
            "expand",
            "parse_failure",
            "no JSON",
            raw="garbage",
        )
    )
    # expand: a conversation's drop
    entry = ledger_entry(
        ledger_id("key", 1, "duplicate_id"),
        _prov(),
        "expand",
        "duplicate_id",
        "same",
        instruction="u",
        input="",
        output="a",
    )
    sink.drop(entry.model_copy(update={"messages": [Turn(role="user", content="u")]}))
    sink.close(finalise_files=True)
    got = (tmp_path / "o.ledger.jsonl").read_bytes()
    for line in got.splitlines():
        assert orjson.loads(line) == json.loads(line)
    _pinned("run_expand.ledger.jsonl", got)

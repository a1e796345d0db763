"""FilterEngine's flow over a scripted judge client: rules before the judge, verdicts to kept
or ledger, input order kept whatever order the judge answers in, counts that add up."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from support.fakes import FakeClient, Reply, as_llm_client, verdict_reply

from synthgen.config import RulesConfig
from synthgen.llm.client import RequestRejected
from synthgen.llm.types import ChatRequest
from synthgen.records import JudgeVerdict
from synthgen.seeds.dataset import iter_rows
from synthgen.stages.filter.engine import EngineResult, FilterEngine, RecordSink
from synthgen.stages.filter.judge import Judge, Judgement, load_rubric
from synthgen.stages.filter.rules import Rules

RUBRIC = load_rubric(None)
CRITERIA = [c.name for c in RUBRIC.criteria]
REFUSED = "the endpoint answered HTTP 400: prompt too long"

# Each row's output says how the scripted judge treats it; the first two fail the rules.
ROWS = [
    ("Hi", "GOOD"),  # instruction_too_short
    ("Explain the steps of case one in detail.", " "),  # empty_output
    ("Explain the steps of case two in detail.", "GOOD answer two"),
    ("Explain the steps of case three in detail.", "BAD answer three"),
    ("Explain the steps of case four in detail.", "GARBLED answer four"),
    ("Explain the steps of case five in detail.", "GOOD answer five"),
    ("Explain the steps of case six in detail.", "REFUSE answer six"),
    ("Explain the steps of case seven in detail.", "GOOD answer seven"),
]


def graded(req: ChatRequest) -> str:
    """The response under grading (a repair re-ask repeats the original question)."""
    text = req.messages[1]["content"]
    return text.split("<response>", 1)[1].split("</response>", 1)[0].strip()


def script(req: ChatRequest, _call: int) -> Reply:
    out = graded(req)
    if out.startswith("GOOD"):
        return verdict_reply(5, CRITERIA)
    if out.startswith("BAD"):
        return verdict_reply(2, CRITERIA)
    if out.startswith("REFUSE"):
        return RequestRejected(REFUSED, "request_rejected")
    return "no verdict here, not even after a repair"


class Run:
    """A FilterEngine over ROWS in a file, a scripted judge, and a real RecordSink."""

    def __init__(self, tmp: Path, rows: list[tuple[str, str]], window: int = 4) -> None:
        src = tmp / "in.jsonl"
        lines = [json.dumps({"instruction": i, "input": "", "output": o}) for i, o in rows]
        src.write_text("\n".join(lines) + "\n")
        self.out, self.ledger = tmp / "kept.jsonl", tmp / "kept.ledger.jsonl"
        self.sink = RecordSink(self.out, self.ledger, False, False)
        self.client = FakeClient(script)
        judge = Judge(RUBRIC, [as_llm_client(self.client)], 3.5, 800)

        def verdict_of(jg: Judgement) -> JudgeVerdict:
            return jg.verdict(RUBRIC.sha256, None)

        self.engine = FilterEngine(
            iter_rows(src, empty_output=True),
            str(src),
            "2026-01-01T00:00:00Z",
            Rules(RulesConfig()),
            judge,
            self.sink,
            verdict_of,
            window,
        )

    def finish(self) -> None:
        self.sink.close(finalise_files=True)

    def kept(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.out.read_text().splitlines()]

    def drops(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.ledger.read_text().splitlines()]


def _line(obj: dict[str, Any]) -> int:
    line: int = obj["provenance"]["source"]["line"]
    return line


def test_rules_judge_and_ledger_account_for_every_row_in_input_order(tmp_path: Path) -> None:
    run = Run(tmp_path, ROWS)
    gate = run.client.hold(0)  # the first judged row answers last

    async def main() -> EngineResult:
        task = asyncio.create_task(run.engine.run())
        await run.client.until_returned(3)
        assert run.engine.tally.input == 2  # the rule failures ahead of it, nothing after
        gate.set()
        return await task

    result = asyncio.run(main())
    run.finish()
    assert result.status == "complete" and result.error is None
    assert run.client.returned[:3] == [1, 2, 3] and 0 in run.client.returned[3:]

    # Rule failures never reach the judge; each judged row is asked once (+ one repair).
    asked = [graded(r) for r in run.client.calls if len(r.messages) == 2]
    assert asked == [o for _, o in ROWS[2:]]
    repairs = [graded(r) for r in run.client.calls if len(r.messages) > 2]
    assert repairs == ["GARBLED answer four"]

    kept, drops = run.kept(), run.drops()
    assert [k["output"] for k in kept] == [
        "GOOD answer two",
        "GOOD answer five",
        "GOOD answer seven",
    ]
    assert all(k["provenance"]["judge"]["passed"] for k in kept)
    got = [(d["output"], d["dropped"]["stage"], d["dropped"]["reason"]) for d in drops]
    assert got == [
        ("GOOD", "rules", "instruction_too_short"),
        (" ", "rules", "empty_output"),
        ("BAD answer three", "judge", "below_threshold"),
        ("GARBLED answer four", "judge", "judge_parse_failure"),
        ("REFUSE answer six", "judge", "judge_request_rejected"),
    ]
    assert drops[3]["raw"] == "no verdict here, not even after a repair"
    assert drops[4]["dropped"]["detail"] == f"fake-model: {REFUSED}"
    # Both files follow the input's order.
    assert [_line(k) for k in kept] == sorted(_line(k) for k in kept)
    assert [_line(d) for d in drops] == sorted(_line(d) for d in drops)

    t = run.engine.tally
    assert t.input == run.engine.read == len(ROWS)
    assert t.kept + sum(sum(c.values()) for c in t.dropped.values()) == t.input
    assert (t.kept, len(drops)) == (len(kept), t.counts()["dropped_total"])
    assert (t.judged, t.passed, t.unprocessed) == (4, 3, 0)


def test_a_judge_that_refuses_everything_ledgers_every_row_with_its_answer(
    tmp_path: Path,
) -> None:
    rows = [(f"Explain the steps of case {n} in detail.", f"REFUSE {n}") for n in range(5)]
    run = Run(tmp_path, rows, window=2)
    result = asyncio.run(run.engine.run())
    run.finish()
    # Refusals are per row, never a stop: the run completes and the ledger says why.
    assert result.status == "complete"
    assert not run.kept()
    details = [d["dropped"]["detail"] for d in run.drops()]
    assert details == [f"fake-model: {REFUSED}"] * 5
    assert run.engine.tally.counts()["dropped"] == {"judge": {"judge_request_rejected": 5}}

"""`filter`'s loop: rules first, the judge for what passes, committed strictly in input order.

Judge calls run concurrently inside a window of rows; rows are committed (kept or ledgered)
in input order, so a rerun after a crash walks the same rows, replays answered judge
requests from the cache and claims what is already on disk instead of writing it twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from synthgen.core.sink import Sink
from synthgen.errors import SynthgenError
from synthgen.records import JudgeVerdict, Status, ledger_id, ledger_line, record_id
from synthgen.seeds.dataset import SYNTHGEN, Row, record_dict, to_record
from synthgen.stages.filter.calibration import known_as
from synthgen.stages.filter.checks.repair import Repair, Repairer
from synthgen.stages.filter.checks.runner import Checks, Failure
from synthgen.stages.filter.judge import Judge, Judgement
from synthgen.stages.filter.preference import PairOutcome, has_responses, judge_pair
from synthgen.stages.filter.rules import Candidate, Rules
from synthgen.stages.filter.tally import Tally
from synthgen.stages.filter.window import JudgeWindow, stop_error

FLUSH_EVERY = 256


class RecordSink(Sink):
    """A Sink for filter's stream of plain dicts (records unchanged but for their verdict)."""

    def add_obj(self, rec_id: str, obj: dict[str, Any]) -> bool:
        """`Sink.add_obj`, writing the queue out once FLUSH_EVERY records wait in it."""
        added = super().add_obj(rec_id, obj)
        if len(self._queued) >= FLUSH_EVERY:  # no jobs here to flush after: every N records
            self.flush()
        return added


@dataclass
class Item:
    """One input row inside the window: its record, its rule failure, its judge call."""

    row: Row
    ordinal: int  # position in the input stream: a self-instruct line holds several rows
    obj: dict[str, Any]
    failure: tuple[str, str] | None = None
    stage: str = "rules"  # whose failure: the rules', or a check's that executes ("checks")
    # the judge's verdict: a Judgement, or a PairOutcome for K responses; None: not asked
    request: Awaitable[Judgement | PairOutcome | None] | None = None
    checked: Failure | None = None  # the check it failed: (check, reason, detail)
    repair: Repair | None = None  # filter.checks.repair: the one repair's outcome


@dataclass(frozen=True)
class EngineResult:
    """How a filter run ended, and the error that ended it early."""

    status: Status
    error: SynthgenError | None = None


def stop_result(e: BaseException) -> EngineResult:
    """How a budget stop, a request that kept failing, or a cancellation ends a run."""
    return EngineResult(*stop_error(e))


class FilterEngine:
    """Streams rows through the rules, then the judge, committing each in input order."""

    def __init__(
        self,
        rows: Iterator[Row],
        source_name: str,
        created_at: str,
        rules: Rules,
        judge: Judge | None,
        sink: RecordSink,
        provenance_extra: Callable[[Judgement], JudgeVerdict],
        window: int,
        on_progress: Callable[[Tally], None] | None = None,
        on_generator: Callable[[str], None] | None = None,
    ) -> None:
        self.rows, self.source_name, self.created_at = rows, source_name, created_at
        self.rules, self.judge, self.sink = rules, judge, sink
        self.verdict_of = provenance_extra
        self.window = window
        self.on_progress = on_progress or (lambda t: None)
        self.on_generator = on_generator or (lambda m: None)  # first sight of a generator
        self.tally = Tally()
        self.read = 0
        self.min_margin = 1.0  # preference pairs: filter.judge.min_margin
        self.waiting = 0  # batch mode: rows whose verdict waits for a batch
        self.checks: Checks | None = None  # that execute: after the rules, before the judge
        self.repairer: Repairer | None = None  # filter.checks.repair: 1

    def prepare(self, row: Row) -> Item:
        """Take in one row: check it against the rules, and ask the judge if it passes."""
        if row.fmt == SYNTHGEN:
            to_record(row, self.source_name)  # a malformed record is an InputError, exit 2
            obj = dict(row.raw)
        else:
            obj = record_dict(row, self.source_name, self.created_at)
        prov = obj.get("provenance") or {}
        gens: list[dict[str, Any]] = [
            g for k in ("generator", "response_generator") if isinstance(g := prov.get(k), dict)
        ]
        if gens and gens[0].get("model"):
            model = known_as(gens[0])  # the upstream model, when a router said which
            if model not in self.tally.generators:
                self.on_generator(model)
            self.tally.generators[model] += 1
        task_name = obj.get("meta", {}).get("task") if isinstance(obj.get("meta"), dict) else None
        cand = Candidate(
            row.instruction,
            row.input,
            row.output,
            tuple(g.get("finish_reason") for g in gens),
        )
        self.read += 1
        if self.judge is not None and has_responses(obj):  # K responses: a preference pair
            item = Item(row, self.read, obj)
            item.request = judge_pair(
                self.judge,
                self.rules,
                row.instruction,
                row.input,
                obj,
                self.min_margin,
                self.verdict_of,
            )
            return item
        failure = (
            self.rules.check_conversation(row.messages, cand.finish_reasons, task_name)
            if row.messages
            else self.rules.check(cand, task_name)
        )
        item = Item(row, self.read, obj, failure)
        if failure is None and self.checks and not row.messages:
            item = self._check(item)
        if item.checked is not None and self.repairer is not None:
            item.request = self._repaired(item)
        elif item.failure is None and self.judge is not None:
            item.request = self.judge.judge(row.instruction, row.input, row.output, row.messages)
        return item

    def _check(self, item: Item) -> Item:
        """The checks that execute, on a row the rules passed: a failure is the check's."""
        assert self.checks is not None
        row, meta = item.row, item.obj.get("meta")
        subject = self.checks.subject(row.instruction, row.input, row.output, meta)
        failed = self.checks.check(subject)
        if failed is None:
            checks = self.checks.provenance()
            item.obj = {**item.obj, "provenance": {**item.obj["provenance"], "checks": checks}}
            return item
        item.failure, item.stage, item.checked = (failed[1], failed[2]), "checks", failed
        return item

    async def _repaired(self, item: Item) -> Judgement | None:
        """The one repair request, then the judge for a repaired answer that passes."""
        assert self.repairer is not None and item.checked is not None
        row = item.row
        rep = await self.repairer.repair(
            row.instruction, row.input, row.output, item.obj.get("meta"), item.checked
        )
        item.repair = rep
        if rep.output is None or rep.failure is not None or self.judge is None:
            return None
        return await self.judge.judge(row.instruction, row.input, rep.output, row.messages)

    def _swap_in_repair(self, item: Item) -> Item | None:
        """A repaired row: its failed first attempt goes to the ledger (reason `repaired`),
        and the repaired record, a new candidate, takes its place (None: the repair failed,
        and the row is dropped under its check's reason with the repair noted)."""
        rep, obj = item.repair, item.obj
        assert rep is not None and item.failure is not None and self.checks is not None
        prov = {**obj["provenance"], "repair": rep.note}
        if not rep.passed:
            item.obj = {**obj, "provenance": prov}
            reason, detail = item.failure
            item.failure = (reason, f"{detail[:300]} · repair asked: {rep.note['result']}")
            return None
        assert rep.output is not None
        row = item.row
        new_id = record_id(row.instruction, row.input, rep.output)
        check, reason, detail = item.checked or ("", "", "")
        item.obj = {**obj, "provenance": {**prov, "repair": {**rep.note, "into": new_id}}}
        said = f"{check} {reason}: {detail[:300]} · repaired into {new_id}"
        self._drop(item, "checks", "repaired", said)
        usage = dict(prov.get("usage") or {})
        for k, v in rep.note["usage"].items():
            usage[k] = round(usage.get(k, 0) + v, 8) if k == "cost_usd" else usage.get(k, 0) + v
        prov.update(usage=usage, checks=self.checks.provenance())
        new_row = replace(row, id=new_id, output=rep.output)
        new_obj = {**obj, "id": new_id, "output": rep.output, "provenance": prov}
        self.tally.input += 1  # the repaired answer is a candidate of its own
        return Item(new_row, item.ordinal, new_obj, request=item.request)

    async def run(self) -> EngineResult:
        """Commit every row in input order, judging a window ahead, until the input ends."""
        window: JudgeWindow[Item, Judgement | PairOutcome | None] = JudgeWindow(
            lambda item: item.request, self.commit, self.window, on_wait=self.sink.flush
        )
        try:
            end = await window.run(self.prepare(row) for row in self.rows)
        finally:
            self.sink.flush()
        self.tally.unprocessed += len(end.uncommitted)
        self.waiting = end.waiting
        return EngineResult(end.status, end.error)

    def commit(self, item: Item, judgement: Judgement | PairOutcome | None) -> None:
        """Keep one row, with its verdict, or ledger it; count it either way."""
        self.tally.input += 1
        if isinstance(judgement, PairOutcome):
            return self._commit_pair(item, judgement)
        if item.repair is not None:
            item = self._swap_in_repair(item) or item
        t, row, obj = self.tally, item.row, item.obj
        if item.failure is not None:
            return self._drop(item, item.stage, *item.failure)
        if judgement is not None:
            if judgement.error:
                detail, raw = judgement.failure_detail()
                if judgement.error == "judge_request_rejected":
                    t.refused, t.last_refusal = t.refused + 1, detail
                return self._drop(item, "judge", judgement.error, detail, raw=raw)
            verdict = self.verdict_of(judgement)
            obj["provenance"] = {**obj["provenance"], "judge": verdict.as_json()}
            t.judged += 1
            t.scores.append(verdict.score)
            t.lengths.append(len(row.output))
            t.flags.update(verdict.flags)
            t.structured.update(f"{m}: {p}" for m, p in verdict.structured.items())
            t.repaired += verdict.repaired
            if verdict.spread is not None:
                t.spreads.append(verdict.spread)
            if not verdict.passed:
                detail = f"score {verdict.score:g} < threshold {verdict.threshold:g}"
                return self._drop(item, "judge", "below_threshold", detail)
            t.passed += 1
        if not self.sink.add_obj(row.id, obj):
            return self._drop(item, "rules", "duplicate_id", f"same content as {row.id}")
        t.kept += 1
        if t.input % 64 == 0:
            self.on_progress(t)

    def _commit_pair(self, item: Item, pair: PairOutcome) -> None:
        """Keep a preference pair, or ledger why its responses made none."""
        t = self.tally
        outs = [str(r.get("output") or "") for r in item.obj["responses"]]
        for text, score in zip(outs, pair.preference.get("scores") or [], strict=False):
            if score is not None:  # every verdict counts toward the judge's length bias
                t.judged += 1
                t.scores.append(score)
                t.lengths.append(len(text))
        t.pairs += 1
        if pair.drop is not None:
            item.obj = {
                **item.obj,
                "provenance": {**item.obj["provenance"], "preference": pair.preference},
            }
            return self._drop(item, *pair.drop)
        assert pair.record is not None
        t.passed += 1
        if not self.sink.add_obj(item.row.id, pair.record):
            return self._drop(item, "rules", "duplicate_id", f"same content as {item.row.id}")
        t.kept += 1
        if t.input % 64 == 0:
            self.on_progress(t)

    def _drop(
        self, item: Item, stage: str, reason: str, detail: str, raw: str | None = None
    ) -> None:
        row, obj = item.row, item.obj
        self.tally.drop(stage, reason)
        candidate = {
            "id": ledger_id(row.id, item.ordinal, reason),
            "record_id": row.id,
            "instruction": row.instruction,
            "input": row.input,
            "output": row.output,
            "meta": obj.get("meta", {}),
            "provenance": obj["provenance"],
        }
        entry = ledger_line(candidate, stage, reason, detail[:500], raw=raw)
        self.sink.drop_obj(entry)
        if self.tally.input % 64 == 0:
            self.on_progress(self.tally)

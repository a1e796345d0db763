"""`filter.checks.repair: 1` in `run`: a candidate a check failed is held back from the
ledger and queued with the survivors; in candidate order, it gets the filter stage's one
repair request (stages/filter/checks/repair.py), and a repaired answer that passes the same
checks goes through the rest of the screen (rules, dedup) to the judge as a candidate of
its own. The failed first attempt is ledgered as `repaired` (or under its check's reason
when the repair failed too), in the ledger's own `repair` phase, so dropped.jsonl's order
never follows the timing of the answers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Protocol

from synthgen.records import Record, Usage, record_id
from synthgen.settings.checks import CHECK_REASONS
from synthgen.stages.filter.checks.repair import Repairer
from synthgen.stages.filter.checks.runner import Failure

if TYPE_CHECKING:
    from synthgen.config import Config
    from synthgen.llm.client import LLMClient
    from synthgen.pipeline.ledger import RunLedger
    from synthgen.pipeline.screen import Screen, Verdict
    from synthgen.stages.filter.tally import Tally

_CHECK_OF = {reason: check for check, reasons in CHECK_REASONS.items() for reason in reasons}


class Survivors(Protocol):
    """A round's stream (pipeline/expand_round.py's RoundStream), as repairs read it."""

    def survivors(self) -> AsyncIterator[Record]:
        """The survivors in candidate order."""
        ...


class RunRepairs:
    """The candidates waiting for their repair, and how each repair ended up."""

    def __init__(
        self,
        screen: Screen,
        repairer: Repairer,
        drops: RunLedger,
        totals: Tally,
        deduplicated: bool,
    ) -> None:
        self.screen, self.repairer, self.drops, self.totals = screen, repairer, drops, totals
        self.deduplicated = deduplicated  # instructions screened before responses were paid
        self.pending: dict[str, Failure] = {}
        self.stopped = ""  # why no more repairs are asked (the judge window stopped taking)

    def stop(self, why: str) -> None:
        """The round takes no more candidates: those still held are ledgered, unrepaired."""
        self.stopped = why

    def hold(self, rec: Record, verdict: Verdict) -> bool:
        """A check's drop: held for its repair (True), instead of ledgered now."""
        check = _CHECK_OF.get(verdict.reason)
        if verdict.stage != "checks" or check is None:
            return False
        self.pending[rec.id] = (check, verdict.reason, verdict.detail)
        return True

    async def through(self, stream: Survivors) -> AsyncIterator[Record]:
        """The stream's survivors in order, each held candidate replaced by its repaired
        answer (or left out, ledgered, when its repair fails or the screen drops it)."""
        async for rec in stream.survivors():
            failed = self.pending.pop(rec.id, None)
            if failed is None:
                yield rec
                continue
            fixed = await self._repair(rec, failed)
            if fixed is not None:
                yield fixed

    async def _repair(self, rec: Record, failed: Failure) -> Record | None:
        if self.stopped:
            said = f"{failed[2][:300]} · not repaired: {self.stopped}"
            note = {"check": failed[0], "reason": failed[1], "first_failure": failed[2][:500]}
            note["result"] = f"not asked: {self.stopped}"
            self.drops.record(_noted(rec, note), "checks", failed[1], said, phase="repair")
            return None
        rep = await self.repairer.repair(rec.instruction, rec.input, rec.output, rec.meta, failed)
        check, reason, detail = failed
        if not rep.passed or rep.output is None:
            said = f"{detail[:300]} · repair asked: {rep.note['result']}"
            self.drops.record(_noted(rec, rep.note), "checks", reason, said, phase="repair")
            return None
        new_id = record_id(rec.instruction, rec.input, rep.output)
        first = _noted(rec, {**rep.note, "into": new_id})
        said = f"{check} {reason}: {detail[:300]} · repaired into {new_id}"
        self.drops.record(first, "checks", "repaired", said, phase="repair")
        u = rep.note["usage"]
        usage = rec.provenance.usage + Usage(
            prompt_tokens=u["prompt_tokens"],
            completion_tokens=u["completion_tokens"],
            cost_usd=u["cost_usd"],
        )
        prov = rec.provenance.model_copy(update={"repair": rep.note, "usage": usage})
        fixed = rec.model_copy(update={"id": new_id, "output": rep.output, "provenance": prov})
        self.totals.input += 1  # the repaired answer is a candidate of its own
        verdict = self.screen.check(fixed, self.deduplicated, count=False)
        if verdict is None:
            return fixed
        v = verdict
        self.drops.record(fixed, v.stage, v.reason, v.detail, v.match, phase="repair")
        return None

    def report(self) -> dict[str, Any]:
        """How many repairs were asked and passed, per check (the manifest's checks block)."""
        return self.repairer.stats.as_json()


def run_repairs(
    cfg: Config,
    screen: Screen,
    generator: LLMClient | None,
    drops: RunLedger,
    totals: Tally,
) -> RunRepairs | None:
    """The run's repairs, when filter.checks.repair is on and a check is configured."""
    if not cfg.filter.checks.repair or screen.checks is None or generator is None:
        return None
    repairer = Repairer(screen.checks, generator, cfg.generation)
    # as run_loop's gates_instructions: instructions were deduplicated before responses
    dedup = cfg.generation.responses == "separate" and screen.screens_instructions
    return RunRepairs(screen, repairer, drops, totals, dedup)


def _noted(rec: Record, note: dict[str, Any]) -> Record:
    return rec.model_copy(update={"provenance": rec.provenance.model_copy(update={"repair": note})})

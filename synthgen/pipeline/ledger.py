"""`run`'s dropped.jsonl: each drop counted at once and built by the one ledger constructor.
In a round the screen and the judge decide concurrently (candidates are judged as they are
made), so a round's entries are held and written when it ends, in phase order (expand's own
drops, then the screen's, then the judge's): the file never follows when each decided."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from synthgen.core.sink import Sink
from synthgen.records import LedgerEntry, Provenance, Record, ledger_entry
from synthgen.stages.filter.tally import Tally

PHASES = ("expand", "screen", "repair", "judge")  # repair: pipeline/repairs.py


class RunLedger:
    """Drops counted into `totals` and written to `sink`, held per phase during a round."""

    def __init__(
        self, sink: Sink, totals: Tally, stamp: Callable[[Record], dict[str, Any]] | None = None
    ) -> None:
        self.sink, self.totals = sink, totals
        # the checks a candidate passed before a later drop (dedup, judge, surplus): the
        # report's pass rates count its ledger line as a pass, as the manifest does
        self.stamp = stamp or (lambda rec: {})
        self.held: dict[str, list[LedgerEntry]] | None = None

    def record(
        self,
        rec: Record,
        stage: str,
        reason: str,
        detail: str,
        match: dict[str, Any] | None = None,
        judge: dict[str, Any] | None = None,
        phase: str = "judge",
    ) -> None:
        """A dropped candidate, with its provenance (and verdict, if judged) and why."""
        update = {**self.stamp(rec), **({"judge": judge} if judge is not None else {})}
        prov: Provenance = rec.provenance.model_copy(update=update) if update else rec.provenance
        extra: dict[str, Any] = {} if match is None else {"match": match}
        entry = ledger_entry(
            rec.id,
            prov,
            stage,
            reason,
            detail,
            instruction=rec.instruction,
            input=rec.input,
            output=rec.output,
            **extra,
        )
        self.write(entry, phase)

    def write(self, entry: LedgerEntry, phase: str) -> None:
        """Count a drop now; write it now, or when the round holding it ends."""
        self.totals.drop(entry.dropped.stage, entry.dropped.reason)
        if self.held is not None:
            self.held[phase].append(entry)
        else:
            self.sink.extend([], [entry.model_dump(mode="json", exclude_none=True)])

    def hold(self) -> None:
        """A round begins: hold its entries."""
        self.held = {phase: [] for phase in PHASES}

    def release(self) -> None:
        """The round ended (however): write what it held, phase by phase."""
        held, self.held = self.held or {}, None
        for phase in PHASES:
            entries = held.get(phase, [])
            self.sink.extend([], [e.model_dump(mode="json", exclude_none=True) for e in entries])

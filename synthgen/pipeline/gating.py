"""What stops a run between rounds besides its target: a quality gate past its threshold, the
keep-rate floor, and (at the end) the coverage gates; plus the loop's small async helpers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

from synthgen.config import GatesConfig
from synthgen.core.stage import Outcome
from synthgen.errors import StoppedError
from synthgen.pipeline.rounds import GateTrip, below_floor, check_gates, floor_error
from synthgen.pipeline.steering import Steering, cell_gate
from synthgen.records import Record
from synthgen.stages.filter.tally import Tally


def gate_outcome(
    gates: GatesConfig, totals: Tally, steer: Steering | None, final: bool
) -> tuple[GateTrip, Outcome] | None:
    """The gate that trips now (exit 3, naming gate, threshold and value), if any."""
    trip = check_gates(gates, totals, final)
    trip = trip or (cell_gate(gates, steer) if final else None)
    if trip is None and not final:
        floor = below_floor(gates, totals)
        if floor is not None:
            return floor, Outcome("stopped_gate", floor_error(totals))
    if trip is None:
        return None
    error = StoppedError(
        f"quality gate {trip.gate} tripped: measured {trip.measured}, threshold {trip.threshold}",
        hint="look at the report and the ledger before loosening the gate in the config",
    )
    return trip, Outcome("stopped_gate", error)


def abort_if_cancelled() -> None:
    """A step that ended "interrupted" because the run was aborted (the second Ctrl-C, or the
    grace after the first ran out) cancels the run: the earlier run dir stands. One that ended
    on the first Ctrl-C returns, and the run dir is written as it stands."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


async def each(items: Iterator[Record] | AsyncIterator[Record]) -> AsyncIterator[Record]:
    """The items of a list's iterator or of an async source, alike."""
    if isinstance(items, AsyncIterator):
        async for item in items:
            yield item
    else:
        for item in items:
            yield item

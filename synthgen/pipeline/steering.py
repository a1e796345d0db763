"""Coverage steering: `run` fills the cells of `generation.coverage` (one value of each axis
it is over) to their quotas among KEPT records. Each round's calls go to the cells short of
their quota, in proportion to the calls each still needs at its own keep rate, leaning toward
cells whose kept records are the least diverse (distinct-2 and mean pairwise ROUGE-L of a
bounded sample); a full cell's candidates are dropped before
the judge (surplus/cell_full); a cell that keeps failing is asked up to `max_asked` times its
quota, then reported as hard and its shortfall shared among the others. Only counts decide,
so a rerun from the cache makes the same decisions; each round's go into the manifest."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from synthgen.config import Config, GatesConfig
from synthgen.errors import ConfigError
from synthgen.pipeline.rounds import GateTrip, distinct_2, keep_rate
from synthgen.records import Record
from synthgen.settings.axes import CoverageConfig
from synthgen.stages.expand.axes import Axis, Drawer, draw, load_axes
from synthgen.stages.filter.tally import Tally
from synthgen.stages.report.metrics import mean_pairwise_rouge_l

Cell = tuple[str, ...]
SAMPLE = 64  # kept instructions per cell its distinct-2 is measured on (bounded memory)
MAX_CELLS = 10_000
RATE_FROM = 10  # a cell's candidates before its own keep rate counts fully
LEAN = 1.25  # extra weight of a least-diverse cell's need for calls
DIVERSE_FROM = 5  # kept records a cell needs before its distinct-2 and ROUGE-L are compared
MARGIN = 0.05  # how far from the cells' mean a cell's distinct-2 or ROUGE-L must be to lean


@dataclass
class CellState:
    """What steering knows of one cell: its quota, kept, candidates and a kept sample."""

    quota: int
    kept: int = 0
    candidates: int = 0
    hard: bool = False
    sample: list[str] = field(default_factory=list)
    # (sample size, its ROUGE-L): the sample only grows, so its size says when to remeasure
    _rouge: tuple[int, float | None] = field(default=(0, None), init=False, repr=False)

    @property
    def distinct_2(self) -> float | None:
        """Distinct-2 of the cell's kept sample (None below DIVERSE_FROM kept)."""
        return distinct_2(self.sample) if len(self.sample) >= DIVERSE_FROM else None

    @property
    def rouge_l(self) -> float | None:
        """Mean pairwise ROUGE-L of the kept sample, the report's measure (None below
        DIVERSE_FROM kept); rounded so that it decides the same on every platform."""
        n = len(self.sample)
        if n < DIVERSE_FROM:
            return None
        if self._rouge[0] != n:
            value = mean_pairwise_rouge_l(self.sample, SAMPLE, 0)
            self._rouge = (n, None if value is None else round(value, 4))
        return self._rouge[1]


def largest_remainder(total: int, weights: Sequence[float]) -> list[int]:
    """`total` split in proportion to `weights`, whole numbers summing to `total` (ties to
    the earlier)."""
    s = sum(weights)
    if s <= 0:
        return [0] * len(weights)
    exact = [total * w / s for w in weights]
    out = [math.floor(x) for x in exact]
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - out[i]), i))
    for i in order[: total - sum(out)]:
        out[i] += 1
    return out


def cell_name(over: Sequence[str], cell: Cell) -> str:
    """A cell as the manifest and report name it: `difficulty=hard, channel=email`."""
    return ", ".join(f"{a}={v}" for a, v in zip(over, cell, strict=True))


class Steering:
    """The cells, their quotas and kept counts, and each round's allocation of calls."""

    def __init__(self, axes: Sequence[Axis], cov: CoverageConfig, target: int) -> None:
        self.axes = tuple(axes)
        by_name = {a.name: a for a in axes}
        over = cov.over or [a.name for a in axes if a.categorical]
        for name in [*over, *cov.shares]:
            axis = by_name.get(name)
            if axis is None or not axis.categorical or name not in over:
                raise ConfigError(
                    f"generation.coverage names {name!r}, not a list or map axis it is over",
                    hint="coverage.over and coverage.shares name axes given as values",
                )
        self.over = tuple(over)
        values = [by_name[n].values for n in self.over]
        if math.prod(len(v) for v in values) > MAX_CELLS:
            raise ConfigError(
                f"generation.coverage over {', '.join(self.over)} makes over {MAX_CELLS} cells",
                hint="cover fewer axes (coverage.over); the others are still drawn at random",
            )
        self.cells: list[Cell] = list(itertools.product(*values))
        weights = [self._share(cov, c) for c in self.cells]
        quotas = largest_remainder(target, weights)
        self.state = {c: CellState(q) for c, q in zip(self.cells, quotas, strict=True)}
        self.target, self.max_asked = target, cov.max_asked
        self.caps: dict[Cell, int] | None = dict(quotas_of(self.state))
        self.order: list[Cell] = []  # the round's calls, one cell each
        self.decisions: list[dict[str, Any]] = []

    def _share(self, cov: CoverageConfig, cell: Cell) -> float:
        """A cell's share: the product of its values' shares (each axis normalised)."""
        out = 1.0
        for name, value in zip(self.over, cell, strict=True):
            shares = cov.shares.get(name)
            if shares:
                total = sum(shares.values())
                out *= shares.get(value, 0.0) / total if total else 0.0
        return out

    def cell_of(self, rec: Record) -> Cell | None:
        """The record's cell, from its provenance.axes (None: not one of the cells)."""
        axes = rec.provenance.axes or {}
        cell = tuple(axes.get(a, "") for a in self.over)
        return cell if cell in self.state else None

    def full(self, rec: Record) -> str | None:
        """Why the record's cell takes no more (its detail), else None."""
        cell = self.cell_of(rec)
        if cell is None or self.caps is None:
            return None
        s, cap = self.state[cell], self.caps[cell]
        if s.kept < cap:
            return None
        return f"{cell_name(self.over, cell)} has its {cap} kept"

    def admit(self, rec: Record) -> str | None:
        """A new candidate: why its full cell takes no more (so it is not worth a rule, a
        dedup or a verdict), else None (counted)."""
        full = self.full(rec)
        if full is None and (cell := self.cell_of(rec)) is not None:
            self.state[cell].candidates += 1
        return full

    def take(self, rec: Record) -> str | None:
        """A record that passed: why its cell (filled meanwhile) takes no more, else None
        (counted, its instruction into the cell's sample)."""
        full = self.full(rec)
        if full is None and (cell := self.cell_of(rec)) is not None:
            s = self.state[cell]
            s.kept += 1
            if len(s.sample) < SAMPLE:
                s.sample.append(rec.instruction.lower())
        return full

    def size(self, asked: int, per_call: int, totals: Tally) -> int:
        """The round's candidates: its calls planned toward cells (at most `asked`)."""
        self.order = self.plan(asked // per_call, per_call, keep_rate(totals))
        return per_call * (len(self.order) or asked // per_call)

    def plan(self, calls: int, per_call: int, rate: float) -> list[Cell]:
        """The round's calls, one cell each, interleaved; records this round's decisions."""
        self.decisions = self._mark_hard()
        need = {c: self._calls_needed(c, per_call, rate) for c in self.cells}
        need = {c: n for c, n in need.items() if n > 0}
        if not need:  # every cell is hard or full: draw at random, take what comes
            self.caps = None
            return []
        lean = self._least_diverse()
        weight = {c: need[c] * (LEAN if c in lean else 1.0) for c in need}
        alloc = dict.fromkeys(need, 0)
        rank = {c: -i for i, c in enumerate(self.cells)}  # ties: the earlier cell
        for _ in range(min(calls, sum(need.values()))):
            best = max(need, key=lambda c: (weight[c] * (1 - alloc[c] / need[c]), rank[c]))
            alloc[best] += 1
        for c in self.cells:
            if alloc.get(c):
                s = self.state[c]
                decision: dict[str, Any] = {
                    "cell": cell_name(self.over, c),
                    "quota": self.caps[c] if self.caps else s.quota,
                    "kept": s.kept,
                    "calls": alloc[c],
                    "reason": "least_diverse" if c in lean else "under_quota",
                }
                if c in lean:  # what made it least diverse
                    decision |= {"distinct_2": s.distinct_2, "rouge_l": s.rouge_l}
                self.decisions.append(decision)
        order: list[Cell] = []
        left = dict(alloc)
        while any(left.values()):
            for c in self.cells:
                if left.get(c):
                    order.append(c)
                    left[c] -= 1
        return order

    def _calls_needed(self, cell: Cell, per_call: int, rate: float) -> int:
        s = self.state[cell]
        short = (self.caps or {}).get(cell, 0) - s.kept
        if s.hard or short <= 0:
            return 0
        # the cell's own keep rate, pulled toward the run's while it has few candidates
        own = (s.kept + rate * RATE_FROM) / (s.candidates + RATE_FROM)
        return math.ceil(short / (per_call * max(own, 0.02)))

    def _mark_hard(self) -> list[dict[str, Any]]:
        """Cells asked `max_asked` × their quota without filling it become hard: their cap
        becomes what they kept and the shortfall is shared among the other cells."""
        out = []
        for c in self.cells:
            s = self.state[c]
            if s.hard or not s.quota or s.kept >= s.quota:
                continue
            if s.candidates >= self.max_asked * s.quota:
                s.hard = True
                out.append(
                    {
                        "cell": cell_name(self.over, c),
                        "quota": s.quota,
                        "kept": s.kept,
                        "calls": 0,
                        "reason": "hard",
                        "candidates": s.candidates,
                    }
                )
        if out:
            self.caps = self._recap()
        return out

    def _recap(self) -> dict[Cell, int]:
        """Caps: a hard cell's is what it kept; the rest of the target by the others' quotas."""
        hard = {c for c in self.cells if self.state[c].hard}
        left = self.target - sum(self.state[c].kept for c in hard)
        soft = [c for c in self.cells if c not in hard]
        split = largest_remainder(left, [float(self.state[c].quota) for c in soft])
        caps = {c: self.state[c].kept for c in hard}
        caps.update(zip(soft, split, strict=True))
        return caps

    def _least_diverse(self) -> set[Cell]:
        """Cells whose kept sample's distinct-2 is well under the cells' mean, or whose mean
        pairwise ROUGE-L is well over theirs (records that read alike)."""
        out: set[Cell] = set()
        d2 = {c: d for c in self.cells if (d := self.state[c].distinct_2) is not None}
        if len(d2) >= 2:
            mean = sum(d2.values()) / len(d2)
            out |= {c for c, d in d2.items() if d < mean - MARGIN}
        rl = {c: r for c in d2 if (r := self.state[c].rouge_l) is not None}
        if len(rl) >= 2:
            mean = sum(rl.values()) / len(rl)
            out |= {c for c, r in rl.items() if r > mean + MARGIN}
        return out

    def adjusted(self, adjustment: dict[str, Any] | None) -> dict[str, Any] | None:
        """The round's manifest adjustment, with this round's steering decisions."""
        if not self.decisions:
            return adjustment
        return (adjustment or {}) | {"steering": self.decisions}

    def drawer(self, seed: int) -> Drawer:
        """Job j of the round states its planned cell's values (the other axes drawn)."""
        order = list(self.order)

        def values(index: int) -> dict[str, str]:
            if not order:
                return draw(self.axes, seed, index)
            cell = order[index % len(order)]
            return draw(self.axes, seed, index, dict(zip(self.over, cell, strict=True)))

        return values

    def summary(self) -> dict[str, Any]:
        """The manifest's coverage: every cell's quota, cap, kept, candidates and hardness."""
        cells = []
        for c in self.cells:
            s = self.state[c]
            row: dict[str, Any] = {
                "cell": cell_name(self.over, c),
                "values": dict(zip(self.over, c, strict=True)),
                "quota": s.quota,
                "kept": s.kept,
                "candidates": s.candidates,
                "distinct_2": s.distinct_2,
                "rouge_l": s.rouge_l,
            }
            if s.hard:
                row["hard"] = True
            cells.append(row)
        return {"over": list(self.over), "cells": cells}


def cell_gate(g: GatesConfig, steer: Steering | None) -> GateTrip | None:
    """At the end: too few cells at their quota (min_cell_coverage, the share of cells whose
    kept reach it), or one cell with too much of what was kept (max_cell_share)."""
    if steer is None:
        return None
    states = [s for s in steer.state.values() if s.quota]
    kept = sum(s.kept for s in steer.state.values())
    if g.min_cell_coverage is not None and states:
        covered = sum(s.kept >= s.quota for s in states) / len(states)
        if covered < g.min_cell_coverage:
            return GateTrip(
                gate="min_cell_coverage", threshold=g.min_cell_coverage, measured=round(covered, 4)
            )
    if g.max_cell_share is not None and kept:
        top = max(s.kept for s in steer.state.values()) / kept
        if top > g.max_cell_share:
            return GateTrip(
                gate="max_cell_share", threshold=g.max_cell_share, measured=round(top, 4)
            )
    return None


def quotas_of(state: dict[Cell, CellState]) -> list[tuple[Cell, int]]:
    """Each cell with its quota."""
    return [(c, s.quota) for c, s in state.items()]


def steering_for(cfg: Config) -> Steering | None:
    """The run's steering, when generation.coverage is set."""
    gen = cfg.generation
    if gen.coverage is None:
        return None
    if not gen.axes:
        raise ConfigError(
            "generation.coverage needs generation.axes", hint="give the axes it is over"
        )
    return Steering(load_axes(gen, cfg.home), gen.coverage, cfg.target.count)

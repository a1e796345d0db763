"""What `run` decides between rounds: how big the next one is, whether seed sampling should
lean toward under-used seeds, and whether a quality gate has tripped."""

from __future__ import annotations

import math
import statistics
from collections import Counter
from typing import Any

from synthgen.config import GatesConfig
from synthgen.records import Frozen, Seed
from synthgen.stages.filter.tally import Tally

# Before anything is seen, assume half the candidates survive rules, dedup and judge.
PRIOR_KEEP_RATE = 0.5
MIN_RATE = 0.02  # a lower observed rate still sizes rounds as if 2% survived
RATE_FROM = 20  # candidates seen before the observed rate replaces the prior
OVERSHOOT = 1.15  # ask a little more than the rate says, so one round usually suffices
MAX_ROUNDS = 40
SKEW_FACTOR = 2.0  # top-3 seeds' share of lineage above this × their fair share: reweight


class RoundRecord(Frozen):
    """One round as the manifest records it: its size, what became of it, any adjustment."""

    index: int
    asked: int
    candidates: int
    kept: int
    dropped: dict[str, dict[str, int]]
    keep_rate: float | None
    distinct_2: float | None
    adjustment: dict[str, Any] | None = None
    seconds: float = 0.0  # wall time of the round (timings; not part of any record)


class GateTrip(Frozen):
    """A quality gate that stopped the run: its name, threshold and what was measured."""

    gate: str
    threshold: float | str
    measured: float | str


def run_counts(t: Tally) -> dict[str, Any]:
    """run's summary counts: candidates = kept + every dropped one, by stage and reason."""
    return {"candidates": t.input, "kept": t.kept, "dropped": t.by_stage()}


def round_size(need: int, totals: Tally, per_call: int) -> int:
    """Candidates to ask for so that `need` more are kept at the keep rate seen so far."""
    rate = totals.keep_rate if totals.input >= RATE_FROM else None
    rate = PRIOR_KEEP_RATE if rate is None else max(rate, MIN_RATE)
    return max(per_call, math.ceil(need / rate * OVERSHOOT))


def seed_weights(seeds: list[Seed], parents: Counter[str]) -> tuple[list[float], float] | None:
    """Weights toward under-used seeds when the kept records' lineage concentrates on a few
    (the report's seed_skew), with the top three's share; None while it is even enough."""
    total = sum(parents[s.ref] for s in seeds)
    if total < 3 * len(seeds) or len(seeds) < 4:
        return None
    top3 = sum(n for _, n in Counter({s.ref: parents[s.ref] for s in seeds}).most_common(3))
    share = top3 / total
    if share <= SKEW_FACTOR * 3 / len(seeds):
        return None
    return [1.0 / (1 + parents[s.ref]) for s in seeds], share


def distinct_2(texts: list[str]) -> float | None:
    """Distinct word bigrams ÷ all bigrams over the round's kept instructions."""
    grams = [
        tuple(ws[i : i + 2]) for t in texts if len(ws := t.split()) > 1 for i in range(len(ws) - 1)
    ]
    return round(len(set(grams)) / len(grams), 4) if grams else None


def check_gates(g: GatesConfig, t: Tally, final: bool) -> GateTrip | None:
    """The first gate past its threshold, once enough candidates are seen (always at the end)."""
    if t.input < g.min_candidates and not final:
        return None
    rate = t.keep_rate
    if g.min_keep_rate is not None and rate is not None and rate < g.min_keep_rate:
        return GateTrip(gate="min_keep_rate", threshold=g.min_keep_rate, measured=round(rate, 4))
    dups = sum(t.dropped.get("dedup", Counter()).values())
    if g.max_duplicate_rate is not None and t.input:
        measured = dups / t.input
        if measured > g.max_duplicate_rate:
            return GateTrip(
                gate="max_duplicate_rate",
                threshold=g.max_duplicate_rate,
                measured=round(measured, 4),
            )
    if g.min_mean_score is not None and t.scores:
        mean = statistics.fmean(t.scores)
        if mean < g.min_mean_score:
            return GateTrip(
                gate="min_mean_score", threshold=g.min_mean_score, measured=round(mean, 4)
            )
    if g.max_length_bias is not None and len(t.scores) >= 10:
        from synthgen.text.stats import spearman

        rho = spearman(t.scores, [float(n) for n in t.lengths])
        if rho is not None and rho > g.max_length_bias:
            return GateTrip(
                gate="max_length_bias", threshold=g.max_length_bias, measured=round(rho, 4)
            )
    return None

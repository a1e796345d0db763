"""What `run` decides between rounds: how big the next one is, whether seed sampling should
lean toward under-used seeds, and whether a quality gate has tripped."""

from __future__ import annotations

import math
import statistics
from collections import Counter
from typing import Any

from synthgen.config import GatesConfig
from synthgen.errors import EndpointError, StoppedError
from synthgen.records import Frozen, Seed
from synthgen.stages.filter.tally import Tally
from synthgen.stages.filter.window import short_of

# Before anything is seen, assume half the candidates survive rules, dedup and judge.
PRIOR_KEEP_RATE = 0.5
RATE_FROM = 20  # candidates seen before the observed rate replaces the prior
# With no keep-rate gate configured, a run that keeps under FLOOR_RATE of its candidates
# once FLOOR_AFTER are seen stops (exit 3): its budget would go on records it drops.
FLOOR_RATE = 0.02
FLOOR_AFTER = 200
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


def keep_rate(totals: Tally) -> float:
    """Keeps per candidate seen so far; the prior until RATE_FROM candidates are seen."""
    rate = totals.keep_rate if totals.input >= RATE_FROM else None
    return PRIOR_KEEP_RATE if rate is None else rate


def round_size(need: int, totals: Tally, per_call: int, concurrency: int) -> int:
    """Candidates the next round asks for: whole calls, taken while the expected keeps of
    those taken (at the keep rate so far) may not make up `need` (the judge window's rule,
    one stage earlier), and at most what `concurrency` keeps busy. A round is generated and
    judged before the next is sized, so the surplus at the target is at most one round."""
    rate, calls = keep_rate(totals), 1
    while calls < concurrency and short_of(need, 0, calls * per_call, rate):
        calls += 1
    return calls * per_call


def max_candidates(target: int, per_round: int) -> int:
    """Candidates after which a run that has not reached its target ends "exhausted": what
    the target needs at the floor keep rate, and a round more."""
    return math.ceil(target / FLOOR_RATE) + per_round


def below_floor(g: GatesConfig, t: Tally) -> GateTrip | None:
    """With no keep-rate gate configured: the floor, once FLOOR_AFTER candidates are seen."""
    if g.min_keep_rate is not None or t.input < FLOOR_AFTER:
        return None
    rate = t.keep_rate
    if rate is None or rate >= FLOOR_RATE:
        return None
    return GateTrip(gate="keep_rate_floor", threshold=FLOOR_RATE, measured=round(rate, 4))


# What to change when a stage drops most candidates (the floor's hint).
_FIXES = {
    "judge": "the judge's bar (filter.judge.threshold, filter.judge.min_margin for preference "
    "pairs) or the judge itself (filter.judge.model, the rubric)",
    "preference": "the judge's bar (filter.judge.min_margin, filter.judge.threshold) or the "
    "judge itself (filter.judge.model, the rubric): its scores must tell the responses apart",
    "dedup": "dedup's threshold or fields, or the generation's variety (temperature, seeds)",
    "rules": "the rules (filter.rules) or the prompt they reject",
    "expand": "the generator (endpoint.model) or its replies' format",
}


def floor_error(t: Tally) -> StoppedError:
    """The floor's stop, naming the top drop reasons and what to change."""
    rate = t.keep_rate or 0.0
    top = top_drops(t)
    stage = top.split("/", 1)[0] if top != "none" else "judge"
    return StoppedError(
        f"kept {t.kept} of {t.input} candidates ({rate:.1%}), under the floor of "
        f"{FLOOR_RATE:.0%} once {FLOOR_AFTER} are seen; dropped most as: {top}",
        hint=f"change {_FIXES.get(stage, _FIXES['judge'])}; or set gates.min_keep_rate to "
        "choose the floor yourself (0: never stop on it)",
    )


def exhausted_error(t: Tally, target: int, rounds: int) -> EndpointError:
    """Why a run that asked for all the candidates it may ends short of its target."""
    return EndpointError(
        f"{t.kept} of {target} records after {rounds} rounds ({t.input} candidates)",
        hint="the keep rate is too low to reach the target: check the report and "
        "the ledger (dropped.jsonl) for why candidates are dropped",
    )


def top_drops(t: Tally, n: int = 3) -> str:
    """The most frequent drop reasons so far, as `stage/reason count, ...`."""
    by = Counter(
        {f"{stage}/{reason}": k for stage, c in t.dropped.items() for reason, k in c.items()}
    )
    by.pop("surplus/surplus", None)
    return ", ".join(f"{name} {k}" for name, k in by.most_common(n)) or "none"


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

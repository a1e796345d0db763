"""The judge's block of the filter summary: verdict counts, scores, calibration, bias."""

from __future__ import annotations

import statistics
from typing import Any

from synthgen.config import Config
from synthgen.stages.filter.calibration import SeedCheck
from synthgen.stages.filter.plan import Plan
from synthgen.stages.filter.tally import Tally


def _histogram(scores: list[float]) -> dict[str, int]:
    """Scores in half-point bins (a panel median can fall between integers)."""
    bins: dict[float, int] = {}
    for s in scores:
        b = round(s * 2) / 2
        bins[b] = bins.get(b, 0) + 1
    return {f"{b:g}": n for b, n in sorted(bins.items())}


def judge_block(
    cfg: Config,
    plan: Plan,
    tally: Tally,
    bias: dict[str, Any],
    indep: list[dict[str, str]],
    seeds: SeedCheck | None,
    anchors: dict[str, Any] | None,
) -> dict[str, Any] | None:
    """What the judge did, as the summary shows it (None without a judge)."""
    if plan.rubric is None:
        return None
    jd: dict[str, int] = dict(tally.dropped.get("judge", {}))
    judge: dict[str, Any] = {
        "models": plan.models,
        "rubric": plan.rubric.name,
        "rubric_sha256": plan.rubric.sha256,
        "threshold": cfg.filter.judge.threshold,
        "judged": tally.judged,
        "passed": tally.passed,
        "mean_score": round(statistics.fmean(tally.scores), 4) if tally.scores else None,
        "score_histogram": _histogram(tally.scores),
        "parse_failures": jd.get("judge_parse_failure", 0),
        "truncated": jd.get("judge_truncated", 0),  # cut off at max_tokens; not repaired
        "structured": dict(sorted(tally.structured.items())),
        "repaired": tally.repaired,
        "request_rejected": jd.get("judge_request_rejected", 0),
        "flags": dict(tally.flags.most_common(20)),
        "length_bias": bias,
        "seeds": seeds.summary() if seeds else None,
        "anchors": anchors,
        "independence": indep,
        "generators": dict(tally.generators),
        "grounded": plan.reference is not None,
    }
    if tally.spreads:
        judge["panel_spread_mean"] = round(statistics.fmean(tally.spreads), 4)
        judge["panel_spread_max"] = max(tally.spreads)
    return judge

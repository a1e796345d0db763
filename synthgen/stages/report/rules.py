"""The warning rules: one small function per code, run in table order by find_warnings.

Each rule reads the typed view of a report and the thresholds in force and returns the
warnings it raises (usually none). Measured values are compared in the direction that fires
("value ≥ limit fires"), so that a NaN, which compares false both ways, stays silent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeGuard

from synthgen.stages.report.axes import OFF_TASK_FROM
from synthgen.stages.report.shapes import describe
from synthgen.stages.report.view import ReportView, SeedBaseline, report_view
from synthgen.stages.report.warnings import ReportWarning, Thresholds

Rule = Callable[[ReportView, Thresholds], list[ReportWarning]]

NO_SEEDS = SeedBaseline()


def _pct(x: float) -> str:
    return f"{x * 100:.0f}%"


def _warn(code: str, message: str, value: float, threshold: float) -> list[ReportWarning]:
    return [ReportWarning(code=code, message=message, value=value, threshold=threshold)]


def _reaches(value: float | None, limit: float) -> TypeGuard[float]:
    """The value is known and at or above the limit."""
    return value is not None and value >= limit


def _collapsed(
    value: float | None, limit: float, seeds: float | None, v: ReportView, t: Thresholds
) -> TypeGuard[float]:
    """At or above the limit on enough records and, with seeds, ≥ seed_margin × their value."""
    # data whose seeds all open "Triage…" is not collapsing when it does too
    return (
        v.records >= t.min_records
        and _reaches(value, limit)
        and (seeds is None or _reaches(value, t.seed_margin * seeds))
    )


def _vs_seeds(seeds: float | None, fmt: str) -> str:
    return "" if seeds is None else f" (seeds: {format(seeds, fmt)})"


def collapse(v: ReportView, t: Thresholds) -> list[ReportWarning]:
    """Records read alike: mean pairwise ROUGE-L at or above rouge_l_max."""
    rouge, seeds = v.metrics.mean_pairwise_rouge_l, (v.baseline or NO_SEEDS).rouge
    if not _collapsed(rouge, t.rouge_l_max, seeds, v, t):
        return []
    message = f"records read alike: mean pairwise ROUGE-L {rouge:.2f}" + _vs_seeds(seeds, ".2f")
    return _warn("collapse", message, rouge, t.rouge_l_max)


def repetition(v: ReportView, t: Thresholds) -> list[ReportWarning]:
    """The text compresses too well: compression ratio at or above compression_max."""
    comp, base = v.metrics.compression_ratio, v.baseline or NO_SEEDS
    if v.records < t.min_records or not _reaches(comp, t.compression_max):
        return []
    seeds, data, same = base.compression, base.data_compression, ""
    if seeds is not None and data is not None:
        # compression grows with the amount of text, so the seeds are only compared with
        # the data cut to their (smaller) budget
        if not _reaches(data, t.seed_margin * seeds):
            return []
        same = f" (on the seeds' budget: {data:.1f}× vs seeds {seeds:.1f}×)"
    return _warn(
        "repetition",
        f"text is repetitive: it compresses {comp:.1f}×{same}",
        comp,
        t.compression_max,
    )


def opener_collapse(v: ReportView, t: Thresholds) -> list[ReportWarning]:
    """One first word opens too many instructions: its share at or above top_opener_share_max."""
    share, seeds = v.metrics.top_opener_share, (v.baseline or NO_SEEDS).opener
    if v.top_opener is None or not _collapsed(share, t.top_opener_share_max, seeds, v, t):
        return []
    message = f"{_pct(share)} of instructions open with {v.top_opener!r}" + _vs_seeds(seeds, ".0%")
    return _warn("opener_collapse", message, share, t.top_opener_share_max)


def duplicates(v: ReportView, t: Thresholds) -> list[ReportWarning]:
    """Exact duplicates at or above duplicate_share_max (never on none, whatever the limit)."""
    dup = v.metrics.exact_duplicate_share
    if _reaches(dup, t.duplicate_share_max) and dup > 0:
        message = f"{_pct(dup)} of records repeat an earlier one exactly"
        return _warn("duplicates", message, dup, t.duplicate_share_max)
    return []


def seed_skew(v: ReportView, t: Thresholds) -> list[ReportWarning]:
    """A few seeds parent most records: concentration ≥ seed_concentration_max and ≫ chance."""
    c = v.coverage
    if c is None or c.records_with_lineage < t.min_records or c.seeds <= 1:
        return []
    conc, chance, top = c.seed_concentration, c.chance_concentration, c.top_k_share
    if top is None or not _reaches(conc, t.seed_concentration_max):
        return []
    # few records per seed make the top decile heavy by chance alone; that is not skew
    if chance is not None and not _reaches(conc, t.seed_chance_margin * chance):
        return []
    by_chance = (
        ""
        if chance is None or c.chance_top_k_share is None
        else f", {_pct(c.chance_top_k_share)} by chance alone"
    )
    message = (
        f"{_pct(top)} of records descend from {c.top_k} of "
        f"{c.seeds} seeds (fair share {_pct(c.top_k / c.seeds)}{by_chance})"
    )
    return _warn("seed_skew", message, conc, t.seed_concentration_max)


def length_bias(v: ReportView, t: Thresholds) -> list[ReportWarning]:
    """The judge rewards length: Spearman(score, output words) at or above length_spearman_max."""
    if v.judge is None or v.judge.scored < t.min_records:
        return []
    rho = v.judge.length_spearman
    if not _reaches(rho, t.length_spearman_max):
        return []
    message = f"judge score rises with length: Spearman {rho:.2f}"
    return _warn("length_bias", message, rho, t.length_spearman_max)


def chosen_longer(v: ReportView, t: Thresholds) -> list[ReportWarning]:
    """The judge prefers the longer answer: chosen has more words than rejected in more than
    chosen_longer_max of the preference pairs (on at least min_records pairs)."""
    if v.preference is None or v.preference.pairs < t.min_records:
        return []
    share = v.preference.chosen_longer_share
    if not share > t.chosen_longer_max:  # more than the limit fires; NaN stays silent
        return []
    message = (
        f"chosen is longer than rejected in {_pct(share)} of {v.preference.pairs} preference "
        "pairs: the judge may prefer length"
    )
    return _warn("chosen_longer", message, share, t.chosen_longer_max)


def trait_drift(v: ReportView, t: Thresholds) -> list[ReportWarning]:
    """One warning per teacher habit common in the data and ≥ trait_ratio_max × the seeds' rate."""
    out: list[ReportWarning] = []
    for tr in v.drift.traits if v.drift else ():
        if tr.data >= t.trait_min_rate and tr.ratio >= t.trait_ratio_max:
            message = (
                f"{tr.name.replace('_', ' ')} in {_pct(tr.data)} of outputs vs "
                f"{_pct(tr.seeds)} of seeds ({tr.ratio:.1f}×)"
            )
            out += _warn("trait_drift", message, tr.ratio, t.trait_ratio_max)
    return out


def length_drift(v: ReportView, t: Thresholds) -> list[ReportWarning]:
    """Outputs at least length_ratio_max × or at most length_ratio_min × the seeds' length."""
    ratio = v.drift.output_length_ratio if v.drift else None
    if ratio is None:
        return []
    if ratio >= t.length_ratio_max:
        message = f"outputs are {ratio:.1f}× as long as the seeds'"
        return _warn("length_drift", message, ratio, t.length_ratio_max)
    if ratio <= t.length_ratio_min:
        message = f"outputs are {ratio:.2f}× as long as the seeds'"
        return _warn("length_drift", message, ratio, t.length_ratio_min)
    return []


def format_drift(v: ReportView, t: Thresholds) -> list[ReportWarning]:
    """The seeds answer in one format (JSON, SQL, a list...) and the data mostly does not:
    its share of that format at most format_share_min × the seeds'."""
    f = v.drift.format if v.drift else None
    if f is None or not f.task_format or f.data > t.format_share_min * f.seeds:
        return []
    others = {k: s for k, s in f.data_shapes.items() if k != f.shape}
    message = (
        f"outputs left the seeds' format: {_pct(f.data)} are {f.shape.replace('_', ' ')} vs "
        f"{_pct(f.seeds)} of seeds" + (f" (data: {describe(others)})" if others else "")
    )
    return _warn("format_drift", message, f.data / f.seeds, t.format_share_min)


def judge_disagrees(v: ReportView, t: Thresholds) -> list[ReportWarning]:
    """The judge and the human auditors disagree: Cohen's kappa below kappa_min."""
    if v.human is None or v.human.paired_with_judge < t.min_records:
        return []
    kappa = v.human.kappa
    if kappa is not None and kappa < t.kappa_min:
        message = f"judge and auditors disagree: Cohen's kappa {kappa:.2f}"
        return _warn("judge_disagrees", message, kappa, t.kappa_min)
    return []


def value_judge_fails(v: ReportView, t: Thresholds) -> list[ReportWarning]:
    """One warning per axis value (a topic, say) whose records the judge fails: more than
    value_fail_share_max of its verdicts, on at least OFF_TASK_FROM of them."""
    out: list[ReportWarning] = []
    for a in v.axis_values:
        if a.judged < OFF_TASK_FROM:
            continue
        share = a.judge_failed / a.judged
        if share > t.value_fail_share_max:  # more than the limit fires, as in the report
            message = (
                f"{a.axis} = {a.value}: the judge failed {_pct(share)} of its {a.judged} "
                "judged records (off task, or too hard? edit or drop it)"
            )
            out += _warn("value_judge_fails", message, round(share, 4), t.value_fail_share_max)
    return out


# code -> rule, in the order warnings are reported (the order of CODES and docs/report.md)
RULES: dict[str, Rule] = {
    "collapse": collapse,
    "repetition": repetition,
    "opener_collapse": opener_collapse,
    "duplicates": duplicates,
    "seed_skew": seed_skew,
    "length_bias": length_bias,
    "chosen_longer": chosen_longer,
    "trait_drift": trait_drift,
    "length_drift": length_drift,
    "format_drift": format_drift,
    "judge_disagrees": judge_disagrees,
    "value_judge_fails": value_judge_fails,
}


def find_warnings(r: Mapping[str, Any], t: Thresholds) -> list[ReportWarning]:
    """Every warning that fires on a report's sections (see docs/report.md)."""
    view = report_view(r)
    return [w for rule in RULES.values() for w in rule(view, t)]

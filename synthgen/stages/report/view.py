"""A typed read of a report's sections: the numbers the warning rules judge, built in one place.

The report's blocks stay plain dicts (they are what `--json` prints); each view below names
the keys one block must hold, so a renamed key fails here, loudly, rather than silencing a rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict


class View(BaseModel):
    """A frozen, typed projection of a report block; keys the rules do not read are ignored."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class Diversity(View):
    """The flat metrics the collapse and duplicate rules read."""

    mean_pairwise_rouge_l: float | None
    compression_ratio: float | None
    top_opener_share: float | None
    exact_duplicate_share: float | None


class SeedBaseline(View):
    """The seeds' own values of the collapse measures (None where they were not measured)."""

    rouge: float | None = None
    compression: float | None = None  # the seeds on the common budget
    data_compression: float | None = None  # the data on that same budget
    opener: float | None = None  # seed instructions opening with the data's top opener


class Coverage(View):
    """How the data's lineage spreads over the seeds (the `coverage` block)."""

    records_with_lineage: int
    seeds: int
    top_k: int
    top_k_share: float | None
    seed_concentration: float | None
    chance_top_k_share: float | None
    chance_concentration: float | None


class Judge(View):
    """The judge's length bias and how many scores it rests on (the `judge` block)."""

    scored: int
    length_spearman: float | None


class Human(View):
    """Judge–human agreement and how many records it rests on (the `human` block)."""

    paired_with_judge: int
    kappa: float | None


class TraitDrift(View):
    """One teacher habit: its rate in the data and in the seeds, and their smoothed ratio."""

    name: str
    data: float
    seeds: float
    ratio: float


class FormatDrift(View):
    """The seeds' dominant output shape, its share in seeds and data, and the data's shapes."""

    shape: str
    seeds: float
    data: float
    task_format: bool
    data_shapes: dict[str, float]


class Drift(View):
    """What the drift rules read from the `drift` block (present only with seeds)."""

    output_length_ratio: float | None
    traits: tuple[TraitDrift, ...] = ()
    format: FormatDrift | None = None


class Preference(View):
    """How often the chosen response is the longer one, over how many pairs."""

    pairs: int
    chosen_longer_share: float


class AxisValue(View):
    """One axis value's verdicts (the `axes` block's rows): judged, and failed by the judge."""

    axis: str
    value: str
    judged: int = 0
    judge_failed: int = 0


class ReportView(View):
    """Everything the warning rules read, typed; absent blocks are None."""

    records: int
    metrics: Diversity
    top_opener: str | None = None
    baseline: SeedBaseline | None = None
    coverage: Coverage | None = None
    judge: Judge | None = None
    human: Human | None = None
    drift: Drift | None = None
    preference: Preference | None = None
    axis_values: tuple[AxisValue, ...] = ()


def _baseline(
    drift: Mapping[str, Any] | None, seed_metrics: Mapping[str, Any] | None
) -> SeedBaseline | None:
    """The seeds' collapse measures; None without seeds (no drift block, no seed metrics)."""
    if not drift or not seed_metrics:
        return None
    budget, top = drift["common_budget"], drift.get("top_opener")
    return SeedBaseline(
        rouge=seed_metrics.get("mean_pairwise_rouge_l"),
        compression=budget["seeds"]["compression_ratio"],
        data_compression=budget["data"]["compression_ratio"],
        opener=top["seeds"] if top else None,
    )


def _drift(d: Mapping[str, Any] | None) -> Drift | None:
    if not d:
        return None
    traits = tuple(
        TraitDrift.model_validate({"name": name, **rates}) for name, rates in d["traits"].items()
    )
    fmt = d.get("format")
    return Drift(
        output_length_ratio=d.get("output_length_ratio"),
        traits=traits,
        format=FormatDrift.model_validate(fmt) if fmt else None,
    )


def report_view(r: Mapping[str, Any]) -> ReportView:
    """Read a report's sections (as build_report assembles them) into the typed view."""
    openers = r["openers"]
    return ReportView(
        records=r["records"],
        metrics=Diversity.model_validate(r["metrics"]),
        top_opener=openers[0]["word"] if openers else None,
        baseline=_baseline(r.get("drift"), r.get("seed_metrics")),
        coverage=Coverage.model_validate(r["coverage"]) if r.get("coverage") else None,
        judge=Judge.model_validate(r["judge"]) if r.get("judge") else None,
        human=Human.model_validate(r["human"]) if r.get("human") else None,
        drift=_drift(r.get("drift")),
        preference=Preference.model_validate(r["preference"]) if r.get("preference") else None,
        axis_values=tuple(
            AxisValue.model_validate(v) for v in (r.get("axes") or {}).get("values", [])
        ),
    )

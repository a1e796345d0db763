"""Warnings in plain words, with stable codes and thresholds that can gate a dataset in CI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from synthgen.errors import ConfigError, UsageError
from synthgen.records import Frozen


class ReportWarning(Frozen):
    """One warning: a stable code, plain words, and the number that crossed the threshold."""

    code: str
    message: str
    value: float
    threshold: float


class Thresholds(Frozen):
    """When each warning fires. Every name can be set with --threshold NAME=VALUE or a YAML file."""

    rouge_l_max: float = 0.4  # collapse
    compression_max: float = 4.0  # repetition
    top_opener_share_max: float = 0.5  # opener_collapse
    duplicate_share_max: float = 0.05  # duplicates
    seed_concentration_max: float = 2.5  # seed_skew
    seed_chance_margin: float = 1.5  # seed_skew also needs ≥ this × what chance alone gives
    length_spearman_max: float = 0.3  # length_bias
    trait_ratio_max: float = 2.0  # trait_drift
    trait_min_rate: float = 0.05  # trait_drift: ignore traits rarer than this in the data
    length_ratio_max: float = 2.0  # length_drift (longer than the seeds)
    length_ratio_min: float = 0.5  # length_drift (shorter than the seeds)
    kappa_min: float = 0.2  # judge_disagrees
    min_records: int = 20  # no diversity/lineage/judge warning on fewer records than this
    seed_margin: float = 1.25  # with seeds, collapse codes also need data ≥ this × the seeds


CODES: dict[str, str] = {
    "collapse": "sampled records read alike (mean pairwise ROUGE-L)",
    "repetition": "the text compresses too well (gzip ratio)",
    "opener_collapse": "one first word opens too many instructions",
    "duplicates": "exact duplicate records",
    "seed_skew": "a few seeds parent most records",
    "length_bias": "judge score rises with output length",
    "trait_drift": "a teacher habit is far more common than in the seeds",
    "length_drift": "outputs are much longer or shorter than the seeds'",
    "judge_disagrees": "the judge and the human auditors disagree",
}


def load_thresholds(path: Path | None, overrides: list[str]) -> Thresholds:
    """Defaults, then a YAML file, then NAME=VALUE overrides."""
    import yaml
    from pydantic import ValidationError

    values: dict[str, Any] = {}
    if path is not None:
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except OSError as e:
            raise ConfigError(f"{path}: cannot read ({e.strerror})", hint="check the path") from e
        except yaml.YAMLError as e:
            raise ConfigError(f"{path}: not valid YAML ({e})", hint="fix the YAML") from e
        doc = doc.get("thresholds", doc) if isinstance(doc, dict) else doc
        if not isinstance(doc, dict):
            raise ConfigError(
                f"{path}: must be a mapping of NAME: VALUE (optionally under thresholds:)",
                hint="e.g. rouge_l_max: 0.5 (names in docs/report.md)",
            )
        values.update(doc)
    for item in overrides:
        name, sep, value = item.partition("=")
        if not sep:
            raise UsageError(f"--threshold {item!r} is not NAME=VALUE", hint="e.g. rouge_l_max=0.5")
        values[name.strip()] = value.strip()
    try:
        return Thresholds.model_validate(values)
    except ValidationError as e:
        err = e.errors()[0]
        names = ", ".join(Thresholds.model_fields)
        raise UsageError(
            f"threshold {'.'.join(map(str, err['loc']))}: {err['msg']}", hint=f"known: {names}"
        ) from None


def check_gates(fail_on: list[str]) -> list[str]:
    """Validate --fail-on codes ("any" means every code)."""
    codes = [c.strip() for item in fail_on for c in item.split(",") if c.strip()]
    unknown = [c for c in codes if c != "any" and c not in CODES]
    if unknown:
        raise UsageError(
            f"unknown warning code {unknown[0]!r} for --fail-on",
            hint=f"use any, or one of: {', '.join(CODES)}",
        )
    return list(CODES) if "any" in codes else codes


def _seed_baseline(r: dict[str, Any]) -> dict[str, float | None]:
    """The seeds' own values of the collapse measures (empty without seeds)."""
    d, sm = r.get("drift"), r.get("seed_metrics")
    if not d or not sm:
        return {}
    cb, top = d["common_budget"], d.get("top_opener")
    return {
        "rouge": sm.get("mean_pairwise_rouge_l"),
        "compression": cb["seeds"]["compression_ratio"],
        "data_compression": cb["data"]["compression_ratio"],
        "opener": top["seeds"] if top else None,
    }


def _pct(x: float) -> str:
    return f"{x * 100:.0f}%"


def find_warnings(r: dict[str, Any], t: Thresholds) -> list[ReportWarning]:
    """Every warning that fires on a report's sections (see docs/report.md)."""
    out: list[ReportWarning] = []

    def add(code: str, message: str, value: float, threshold: float) -> None:
        out.append(ReportWarning(code=code, message=message, value=value, threshold=threshold))

    m, n = r["metrics"], r["records"]
    enough = n >= t.min_records
    base = _seed_baseline(r)

    def worse(value: float | None, limit: float, key: str) -> bool:
        """At or above the threshold, and (with seeds) clearly above the seeds' own value."""
        seeds = base.get(key)
        return (
            enough
            and value is not None
            and value >= limit
            and (seeds is None or value >= t.seed_margin * seeds)
        )

    def vs(key: str, fmt: str) -> str:
        return "" if base.get(key) is None else f" (seeds: {format(base[key], fmt)})"

    rouge, comp = m.get("mean_pairwise_rouge_l"), m.get("compression_ratio")
    if worse(rouge, t.rouge_l_max, "rouge"):
        add(
            "collapse",
            f"records read alike: mean pairwise ROUGE-L {rouge:.2f}" + vs("rouge", ".2f"),
            rouge,
            t.rouge_l_max,
        )
    seeds_comp, data_comp = base.get("compression"), base.get("data_compression")
    if (
        enough
        and comp is not None
        and comp >= t.compression_max
        and (seeds_comp is None or data_comp is None or data_comp >= t.seed_margin * seeds_comp)
    ):
        same = (
            ""
            if seeds_comp is None or data_comp is None
            else f" (on the seeds' budget: {data_comp:.1f}× vs seeds {seeds_comp:.1f}×)"
        )
        add(
            "repetition",
            f"text is repetitive: it compresses {comp:.1f}×{same}",
            comp,
            t.compression_max,
        )
    share, top = m.get("top_opener_share"), r["openers"]
    if top and worse(share, t.top_opener_share_max, "opener"):
        add(
            "opener_collapse",
            f"{_pct(share)} of instructions open with {top[0]['word']!r}" + vs("opener", ".0%"),
            share,
            t.top_opener_share_max,
        )
    dup = m.get("exact_duplicate_share")
    if dup is not None and dup >= t.duplicate_share_max and dup > 0:
        add(
            "duplicates",
            f"{_pct(dup)} of records repeat an earlier one exactly",
            dup,
            t.duplicate_share_max,
        )
    cov = r.get("coverage") or {}
    conc = cov.get("seed_concentration")
    chance = cov.get("chance_concentration")
    if (
        conc is not None
        and conc >= t.seed_concentration_max
        and (chance is None or conc >= t.seed_chance_margin * chance)
        and cov["records_with_lineage"] >= t.min_records
        and cov["seeds"] > 1
    ):
        by_chance = "" if chance is None else f", {_pct(cov['chance_top_k_share'])} by chance alone"
        add(
            "seed_skew",
            f"{_pct(cov['top_k_share'])} of records descend from {cov['top_k']} of "
            f"{cov['seeds']} seeds (fair share {_pct(cov['top_k'] / cov['seeds'])}{by_chance})",
            conc,
            t.seed_concentration_max,
        )
    judge = r.get("judge") or {}
    rho = judge.get("length_spearman")
    if rho is not None and judge["scored"] >= t.min_records and rho >= t.length_spearman_max:
        add(
            "length_bias",
            f"judge score rises with length: Spearman {rho:.2f}",
            rho,
            t.length_spearman_max,
        )
    _drift_warnings(r.get("drift"), t, add)
    human = r.get("human") or {}
    kappa = human.get("kappa")
    if kappa is not None and human["paired_with_judge"] >= t.min_records and kappa < t.kappa_min:
        add(
            "judge_disagrees",
            f"judge and auditors disagree: Cohen's kappa {kappa:.2f}",
            kappa,
            t.kappa_min,
        )
    return out


def _drift_warnings(d: dict[str, Any] | None, t: Thresholds, add: Any) -> None:
    if not d:
        return
    for name, tr in d["traits"].items():
        if tr["data"] >= t.trait_min_rate and tr["ratio"] >= t.trait_ratio_max:
            add(
                "trait_drift",
                f"{name.replace('_', ' ')} in {_pct(tr['data'])} of outputs vs "
                f"{_pct(tr['seeds'])} of seeds ({tr['ratio']:.1f}×)",
                tr["ratio"],
                t.trait_ratio_max,
            )
    ratio = d.get("output_length_ratio")
    if ratio is not None and ratio >= t.length_ratio_max:
        add(
            "length_drift",
            f"outputs are {ratio:.1f}× as long as the seeds'",
            ratio,
            t.length_ratio_max,
        )
    elif ratio is not None and ratio <= t.length_ratio_min:
        add(
            "length_drift",
            f"outputs are {ratio:.2f}× as long as the seeds'",
            ratio,
            t.length_ratio_min,
        )

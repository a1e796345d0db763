"""Warnings in plain words, with stable codes and thresholds that can gate a dataset in CI."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from synthgen.errors import ConfigError, UsageError
from synthgen.records import Frozen

if TYPE_CHECKING:
    from pydantic_core import ErrorDetails


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


def _key_lines(text: str) -> dict[str, int]:
    """Line (1-based) of each top-level key, or of each key under `thresholds:`."""
    import yaml

    lines: dict[str, int] = {}
    node = yaml.compose(text)
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if k.value == "thresholds" and isinstance(v, yaml.MappingNode):
                return {kk.value: kk.start_mark.line + 1 for kk, _ in v.value}
            lines[str(k.value)] = k.start_mark.line + 1
    return lines


def _bad_threshold(err: ErrorDetails) -> str:
    """A pydantic error in plain words."""
    if err["type"] == "extra_forbidden":
        return "unknown threshold"
    if err["type"].startswith("int"):
        return f"must be a whole number, not {err['input']!r}"
    return f"must be a number, not {err['input']!r}"


def load_thresholds(path: Path | None, overrides: list[str]) -> Thresholds:
    """Defaults, then a YAML file, then NAME=VALUE overrides."""
    import yaml
    from pydantic import ValidationError

    known = ", ".join(Thresholds.model_fields)
    from_file: dict[str, Any] = {}
    lines: dict[str, int] = {}
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
            doc = yaml.safe_load(text) or {}
        except OSError as e:
            raise ConfigError(f"{path}: cannot read ({e.strerror})", hint="check the path") from e
        except UnicodeDecodeError as e:
            raise ConfigError(f"{path}: not UTF-8 text", hint="save it as UTF-8 YAML") from e
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            where = f":{mark.line + 1}" if mark is not None else ""
            problem = getattr(e, "problem", None) or str(e)
            raise ConfigError(
                f"{path}{where}: not valid YAML ({problem})",
                hint="write NAME: VALUE lines, e.g. rouge_l_max: 0.5",
            ) from e
        doc = doc.get("thresholds", doc) if isinstance(doc, dict) else doc
        if not isinstance(doc, dict):
            raise ConfigError(
                f"{path}: must be a mapping of NAME: VALUE (optionally under thresholds:)",
                hint="e.g. rouge_l_max: 0.5 (names in docs/report.md)",
            )
        from_file = {str(k): v for k, v in doc.items()}
        lines = _key_lines(text)
    given: dict[str, str] = {}
    for item in overrides:
        name, sep, value = item.partition("=")
        if not sep:
            raise UsageError(f"--threshold {item!r} is not NAME=VALUE", hint="e.g. rouge_l_max=0.5")
        given[name.strip()] = value.strip()
    try:
        return Thresholds.model_validate({**from_file, **given})
    except ValidationError as e:
        err = e.errors()[0]
        name = ".".join(map(str, err["loc"]))
        what = _bad_threshold(err)
        default = getattr(Thresholds(), name, 0.5)
        hint = f"known thresholds: {known}" if err["type"] == "extra_forbidden" else ""
        if name in given or path is None:
            raise UsageError(
                f"--threshold {name}: {what}", hint=hint or f"e.g. --threshold {name}={default}"
            ) from None
        line = f":{lines[name]}" if name in lines else ""
        raise ConfigError(
            f"{path}{line}: threshold {name!r}: {what}",
            hint=hint or f"e.g. {name}: {default} (the default)",
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

"""Warnings in plain words, with stable codes and thresholds that can gate a dataset in CI.

The rules that raise them, one per code, are in rules.py.
"""

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
    chosen_longer_max: float = 0.7  # chosen_longer: share of pairs whose chosen is longer
    trait_ratio_max: float = 2.0  # trait_drift
    trait_min_rate: float = 0.05  # trait_drift: ignore traits rarer than this in the data
    length_ratio_max: float = 2.0  # length_drift (longer than the seeds)
    length_ratio_min: float = 0.5  # length_drift (shorter than the seeds)
    format_share_min: float = 0.5  # format_drift: data's share of the seeds' format ≤ this × theirs
    kappa_min: float = 0.2  # judge_disagrees
    value_fail_share_max: float = 0.5  # value_judge_fails: share of a value's verdicts failed
    min_records: int = 20  # no diversity/lineage/judge/pair warning on fewer records than this
    seed_margin: float = 1.25  # with seeds, collapse codes also need data ≥ this × the seeds


CODES: dict[str, str] = {
    "collapse": "sampled records read alike (mean pairwise ROUGE-L)",
    "repetition": "the text compresses too well (gzip ratio)",
    "opener_collapse": "one first word opens too many instructions",
    "duplicates": "exact duplicate records",
    "seed_skew": "a few seeds parent most records",
    "length_bias": "judge score rises with output length",
    "chosen_longer": "the chosen answer of a preference pair is mostly the longer one",
    "trait_drift": "a teacher habit is far more common than in the seeds",
    "length_drift": "outputs are much longer or shorter than the seeds'",
    "format_drift": "outputs left the seeds' format (JSON, SQL, code, a list...)",
    "judge_disagrees": "the judge and the human auditors disagree",
    "value_judge_fails": "the judge fails most records of one axis value (a topic, say)",
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

"""Each warning rule on its own, on small typed views: fires at its threshold, silent below."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from synthgen.stages.report.rules import (
    RULES,
    collapse,
    duplicates,
    find_warnings,
    format_drift,
    judge_disagrees,
    length_bias,
    length_drift,
    opener_collapse,
    repetition,
    seed_skew,
    trait_drift,
)
from synthgen.stages.report.view import (
    Coverage,
    Diversity,
    Drift,
    FormatDrift,
    Human,
    Judge,
    ReportView,
    SeedBaseline,
    TraitDrift,
    report_view,
)
from synthgen.stages.report.warnings import CODES, ReportWarning, Thresholds

DOCS = Path(__file__).resolve().parents[2] / "docs" / "report.md"
T = Thresholds()


def metrics(**values: float) -> Diversity:
    fields: dict[str, float | None] = dict.fromkeys(Diversity.model_fields)
    return Diversity(**{**fields, **values})


def view(records: int = 100, **over: Any) -> ReportView:
    """A report view on which nothing fires, with the given parts replaced."""
    return ReportView(**{"records": records, "metrics": metrics(), "top_opener": "write", **over})


def one(found: list[ReportWarning], code: str) -> ReportWarning:
    assert [w.code for w in found] == [code], found
    return found[0]


def coverage(**over: Any) -> Coverage:
    # the docs' example: 41% of records on 3 of 25 seeds, whose fair share is 12%
    base: dict[str, Any] = {
        "records_with_lineage": 200,
        "seeds": 25,
        "top_k": 3,
        "top_k_share": 0.41,
        "seed_concentration": 0.41 / 0.12,
        "chance_top_k_share": None,
        "chance_concentration": None,
    }
    return Coverage(**{**base, **over})


# --- collapse ---------------------------------------------------------------------------


def test_collapse_fires_at_its_threshold_and_names_the_value() -> None:
    w = one(collapse(view(metrics=metrics(mean_pairwise_rouge_l=0.4)), T), "collapse")
    assert (w.value, w.threshold) == (0.4, T.rouge_l_max)
    assert w.message == "records read alike: mean pairwise ROUGE-L 0.40"
    above = one(collapse(view(metrics=metrics(mean_pairwise_rouge_l=0.73)), T), "collapse")
    assert "ROUGE-L 0.73" in above.message


def test_collapse_is_silent_below_it_on_few_records_and_without_a_value() -> None:
    assert collapse(view(metrics=metrics(mean_pairwise_rouge_l=0.39)), T) == []
    assert collapse(view(records=19, metrics=metrics(mean_pairwise_rouge_l=0.9)), T) == []
    assert collapse(view(), T) == []


def test_collapse_with_seeds_needs_the_margin_over_the_seeds() -> None:
    seeds = SeedBaseline(rouge=0.5)  # the margin puts the bar at 1.25 × 0.5 = 0.625
    assert collapse(view(metrics=metrics(mean_pairwise_rouge_l=0.6), baseline=seeds), T) == []
    w = one(
        collapse(view(metrics=metrics(mean_pairwise_rouge_l=0.625), baseline=seeds), T), "collapse"
    )
    assert w.message.endswith(" (seeds: 0.50)") and w.threshold == T.rouge_l_max


# --- repetition -------------------------------------------------------------------------


def test_repetition_fires_at_its_threshold_and_names_the_ratio() -> None:
    w = one(repetition(view(metrics=metrics(compression_ratio=4.0)), T), "repetition")
    assert (w.value, w.threshold) == (4.0, T.compression_max)
    assert w.message == "text is repetitive: it compresses 4.0×"
    assert repetition(view(metrics=metrics(compression_ratio=3.9)), T) == []
    assert repetition(view(records=19, metrics=metrics(compression_ratio=9.0)), T) == []


def test_repetition_with_seeds_compares_on_the_seeds_budget() -> None:
    heavy = metrics(compression_ratio=6.0)
    same = SeedBaseline(compression=2.0, data_compression=2.4)  # below 1.25 × 2.0
    assert repetition(view(metrics=heavy, baseline=same), T) == []
    worse = SeedBaseline(compression=2.0, data_compression=2.5)
    w = one(repetition(view(metrics=heavy, baseline=worse), T), "repetition")
    assert (
        w.message
        == "text is repetitive: it compresses 6.0× (on the seeds' budget: 2.5× vs seeds 2.0×)"
    )
    # half a baseline is no baseline: the plain threshold decides
    half = SeedBaseline(compression=9.0, data_compression=None)
    assert one(repetition(view(metrics=heavy, baseline=half), T), "repetition").value == 6.0


# --- opener_collapse --------------------------------------------------------------------


def test_opener_collapse_fires_at_its_threshold_and_names_the_word() -> None:
    w = one(opener_collapse(view(metrics=metrics(top_opener_share=0.5)), T), "opener_collapse")
    assert (w.value, w.threshold) == (0.5, T.top_opener_share_max)
    assert w.message == "50% of instructions open with 'write'"
    assert opener_collapse(view(metrics=metrics(top_opener_share=0.49)), T) == []
    assert opener_collapse(view(records=19, metrics=metrics(top_opener_share=0.9)), T) == []
    assert opener_collapse(view(top_opener=None, metrics=metrics(top_opener_share=0.9)), T) == []


def test_opener_collapse_with_seeds_that_open_alike_too() -> None:
    seeds = SeedBaseline(opener=0.5)
    assert opener_collapse(view(metrics=metrics(top_opener_share=0.6), baseline=seeds), T) == []
    found = opener_collapse(view(metrics=metrics(top_opener_share=0.75), baseline=seeds), T)
    assert (
        one(found, "opener_collapse").message
        == "75% of instructions open with 'write' (seeds: 50%)"
    )


# --- duplicates -------------------------------------------------------------------------


def test_duplicates_fire_at_their_threshold_on_any_number_of_records() -> None:
    w = one(
        duplicates(view(records=2, metrics=metrics(exact_duplicate_share=0.05)), T), "duplicates"
    )
    assert (w.value, w.threshold) == (0.05, T.duplicate_share_max)
    assert w.message == "5% of records repeat an earlier one exactly"
    assert duplicates(view(metrics=metrics(exact_duplicate_share=0.049)), T) == []
    assert duplicates(view(), T) == []


def test_duplicates_never_fire_on_none_even_with_a_zero_threshold() -> None:
    zero = Thresholds(duplicate_share_max=0.0)
    assert duplicates(view(metrics=metrics(exact_duplicate_share=0.0)), zero) == []
    assert duplicates(view(metrics=metrics(exact_duplicate_share=0.01)), zero) != []


# --- seed_skew --------------------------------------------------------------------------


def test_seed_skew_fires_at_its_threshold_and_says_who_holds_what() -> None:
    w = one(seed_skew(view(coverage=coverage()), T), "seed_skew")
    assert w.value == pytest.approx(0.41 / 0.12) and w.threshold == T.seed_concentration_max
    assert w.message == "41% of records descend from 3 of 25 seeds (fair share 12%)"
    at = one(seed_skew(view(coverage=coverage(seed_concentration=2.5)), T), "seed_skew")
    assert at.value == 2.5
    assert seed_skew(view(coverage=coverage(seed_concentration=2.49)), T) == []


def test_seed_skew_must_also_beat_chance() -> None:
    by_chance = {"chance_top_k_share": 0.16, "chance_concentration": 0.16 / 0.12}
    w = one(seed_skew(view(coverage=coverage(**by_chance)), T), "seed_skew")
    assert (
        w.message
        == "41% of records descend from 3 of 25 seeds (fair share 12%, 16% by chance alone)"
    )
    # 3.4 is above the threshold but not 1.5 × a chance concentration of 2.5
    heavy_chance = {"chance_top_k_share": 0.3, "chance_concentration": 2.5}
    assert seed_skew(view(coverage=coverage(**heavy_chance)), T) == []


def test_seed_skew_is_silent_on_little_lineage_one_seed_or_none() -> None:
    assert seed_skew(view(coverage=coverage(records_with_lineage=19)), T) == []
    assert seed_skew(view(coverage=coverage(seeds=1, top_k=1)), T) == []
    assert seed_skew(view(coverage=None), T) == []


# --- length_bias ------------------------------------------------------------------------


def test_length_bias_fires_at_its_threshold_and_names_the_correlation() -> None:
    w = one(length_bias(view(judge=Judge(scored=20, length_spearman=0.3)), T), "length_bias")
    assert (w.value, w.threshold) == (0.3, T.length_spearman_max)
    assert w.message == "judge score rises with length: Spearman 0.30"
    assert length_bias(view(judge=Judge(scored=20, length_spearman=0.29)), T) == []
    assert length_bias(view(judge=Judge(scored=19, length_spearman=0.9)), T) == []
    assert length_bias(view(judge=Judge(scored=50, length_spearman=None)), T) == []
    assert length_bias(view(), T) == []


# --- trait_drift ------------------------------------------------------------------------


def drift(*traits: TraitDrift, length: float | None = None) -> Drift:
    return Drift(output_length_ratio=length, traits=traits)


def test_trait_drift_fires_per_trait_at_its_ratio_and_names_the_rates() -> None:
    ai = TraitDrift(name="as_an_ai", data=0.1, seeds=0.0, ratio=6.0)
    exclaim = TraitDrift(name="exclamation", data=0.18, seeds=0.08, ratio=2.0)
    found = trait_drift(view(records=3, drift=drift(ai, exclaim)), T)
    assert [(w.code, w.value, w.threshold) for w in found] == [
        ("trait_drift", 6.0, T.trait_ratio_max),
        ("trait_drift", 2.0, T.trait_ratio_max),
    ]
    assert found[0].message == "as an ai in 10% of outputs vs 0% of seeds (6.0×)"
    assert found[1].message == "exclamation in 18% of outputs vs 8% of seeds (2.0×)"


def test_trait_drift_is_silent_below_its_ratio_and_on_rare_traits() -> None:
    below = TraitDrift(name="hedging", data=0.3, seeds=0.15, ratio=1.99)
    rare = TraitDrift(name="refusal", data=0.049, seeds=0.0, ratio=3.45)
    assert trait_drift(view(drift=drift(below, rare)), T) == []
    assert trait_drift(view(), T) == []


# --- length_drift -----------------------------------------------------------------------


def test_length_drift_fires_on_long_outputs_and_names_the_ratio() -> None:
    w = one(length_drift(view(drift=drift(length=2.0)), T), "length_drift")
    assert (w.value, w.threshold) == (2.0, T.length_ratio_max)
    assert w.message == "outputs are 2.0× as long as the seeds'"
    assert length_drift(view(drift=drift(length=1.99)), T) == []


def test_length_drift_fires_on_short_outputs_against_the_lower_bound() -> None:
    w = one(length_drift(view(drift=drift(length=0.5)), T), "length_drift")
    assert (w.value, w.threshold) == (0.5, T.length_ratio_min)
    assert w.message == "outputs are 0.50× as long as the seeds'"
    assert length_drift(view(drift=drift(length=0.51)), T) == []
    assert length_drift(view(drift=drift(length=None)), T) == []
    assert length_drift(view(), T) == []


# --- format_drift -----------------------------------------------------------------------


def fmt(data: dict[str, float], seeds: float = 1.0, task: bool = True) -> Drift:
    share = data.get("json_object", 0.0)
    f = FormatDrift(
        shape="json_object", seeds=seeds, data=share, task_format=task, data_shapes=data
    )
    return Drift(output_length_ratio=None, format=f)


def test_format_drift_fires_when_the_seeds_format_is_at_most_half_as_common() -> None:
    w = one(
        format_drift(view(records=3, drift=fmt({"prose": 0.9, "broken_json": 0.1})), T),
        "format_drift",
    )
    assert (w.value, w.threshold) == (0.0, T.format_share_min)
    assert w.message == (
        "outputs left the seeds' format: 0% are json object vs 100% of seeds "
        "(data: prose 90% · broken json 10%)"
    )
    at = one(format_drift(view(drift=fmt({"json_object": 0.4}, seeds=0.8)), T), "format_drift")
    assert at.value == 0.5 and at.message.endswith("40% are json object vs 80% of seeds")


def test_format_drift_is_silent_above_half_on_mixed_seeds_and_without_seeds() -> None:
    assert format_drift(view(drift=fmt({"json_object": 0.51, "prose": 0.49})), T) == []
    assert format_drift(view(drift=fmt({"prose": 1.0}, seeds=0.5, task=False)), T) == []
    assert format_drift(view(drift=drift()), T) == []
    assert format_drift(view(), T) == []


# --- judge_disagrees --------------------------------------------------------------------


def test_judge_disagrees_fires_below_its_minimum_and_names_kappa() -> None:
    w = one(
        judge_disagrees(view(human=Human(paired_with_judge=20, kappa=0.1)), T), "judge_disagrees"
    )
    assert (w.value, w.threshold) == (0.1, T.kappa_min)
    assert w.message == "judge and auditors disagree: Cohen's kappa 0.10"
    # kappa_min is a floor: at it the judge agrees well enough
    assert judge_disagrees(view(human=Human(paired_with_judge=20, kappa=0.2)), T) == []
    assert judge_disagrees(view(human=Human(paired_with_judge=19, kappa=-0.5)), T) == []
    assert judge_disagrees(view(human=Human(paired_with_judge=40, kappa=None)), T) == []
    assert judge_disagrees(view(), T) == []


# --- the table --------------------------------------------------------------------------


def _documented_codes() -> list[str]:
    """The codes in the table under "## Warnings" in docs/report.md, in order."""
    text = DOCS.read_text(encoding="utf-8")
    section = text.split("\n## Warnings\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `(\w+)` \|", section, flags=re.MULTILINE)


def test_the_table_covers_every_documented_code_in_order() -> None:
    documented = _documented_codes()
    assert len(documented) == 12, documented
    assert list(RULES) == documented
    assert list(CODES) == documented  # --fail-on accepts exactly the codes that can fire


def test_find_warnings_reads_report_sections_and_keeps_the_table_order() -> None:
    """Every block, as build_report writes it, reaches its rule; warnings come in table order."""
    sections: dict[str, Any] = {
        "records": 100,
        "metrics": {
            "mean_pairwise_rouge_l": 0.8,
            "compression_ratio": 5.0,
            "top_opener_share": 0.9,
            "exact_duplicate_share": 0.2,
            "distinct_1": 0.1,  # metrics no rule reads are ignored
        },
        "openers": [{"word": "triage", "count": 90, "share": 0.9}],
        "seed_metrics": {"mean_pairwise_rouge_l": 0.2},
        "drift": {
            "common_budget": {
                "seeds": {"compression_ratio": 2.0},
                "data": {"compression_ratio": 3.0},
            },
            "top_opener": {"word": "triage", "data": 0.9, "seeds": 0.1},
            "output_length_ratio": 3.0,
            "traits": {"apology": {"data": 0.3, "seeds": 0.0, "ratio": 16.0}},
            "format": {
                "shape": "sql",
                "seeds": 0.9,
                "data": 0.1,
                "task_format": True,
                "data_shapes": {"sql": 0.1, "prose": 0.9},
                "seed_shapes": {"sql": 0.9, "prose": 0.1},
            },
        },
        "coverage": coverage().model_dump() | {"per_seed": []},
        "judge": {"scored": 50, "length_spearman": 0.7, "mean_score": 4.0},
        "human": {"paired_with_judge": 30, "kappa": 0.0, "path": "v.jsonl"},
        "preference": {"pairs": 30, "chosen_longer_share": 0.9, "tie_breaks": 2},
        "axes": {
            "axes": ["topic"],
            "values": [
                {"axis": "topic", "value": "Billing", "kept": 2, "judged": 9, "judge_failed": 7}
            ],
        },
    }
    found = find_warnings(sections, T)
    assert [w.code for w in found] == list(RULES)
    assert found[0].message.endswith("(seeds: 0.20)")
    assert found[2].message == "90% of instructions open with 'triage' (seeds: 10%)"
    assert find_warnings({**sections, "records": 19, "drift": None, "seed_metrics": None}, T) == [
        w
        for w in found
        if w.code
        in {"duplicates", "seed_skew", "length_bias", "chosen_longer", "judge_disagrees"}
        | {"value_judge_fails"}  # rests on the value's verdicts, not on the records read
    ]


def test_a_block_missing_a_key_a_rule_reads_fails_loudly() -> None:
    with pytest.raises(ValidationError, match="compression_ratio"):
        report_view({"records": 5, "metrics": {"mean_pairwise_rouge_l": 0.1}, "openers": []})

"""Preference pairs in `report`: the `preference` block (exact on a hand-made set), the ledger's
position-inconsistent pairs, the `chosen_longer` warning, and no block for other data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from support.helpers import run
from support.preference_records import (
    dropped_entry,
    inconsistent_entry,
    pair_record,
    tie_break,
    words,
)
from support.report_data import record, varied_examples, write_jsonl

from synthgen.stages.report.build import Built, ReportInputs, build_report
from synthgen.stages.report.card import CardFacts, card_text
from synthgen.stages.report.html import render_html
from synthgen.stages.report.render import render_report, report_summary
from synthgen.stages.report.rules import chosen_longer
from synthgen.stages.report.view import Diversity, Preference, ReportView
from synthgen.stages.report.warnings import CODES, Thresholds

T = Thresholds()


def built(data: Path, ledger: Path | None = None, thresholds: Thresholds = T) -> Built:
    return build_report(ReportInputs(data, ledger=ledger), thresholds)


def small_set(tmp_path: Path) -> Path:
    """Four pairs, worked out by hand:
    words chosen − rejected: +4, −2, 0, +9 → longer in 2 of 4, mean 2.75, median 2;
    margins 2, 1, 1.5, 3 → mean 1.875, median 1.75; two kept tie breaks, both consistent."""
    rows = [
        pair_record(0, [words(6), words(4), words(2)], [4.0, 3.0, 2.0]),
        pair_record(1, [words(3), words(5)], [4.0, 3.0]),
        pair_record(2, [words(4), words(7), words(4)], [4.0, 4.0, 2.5], tie=tie_break((0, 1))),
        pair_record(3, [words(1), words(10)], [2.0, 5.0], tie=tie_break((1, 0))),
    ]
    # a kept pair whose record sits between plain synthgen records reads the same
    plain = record(9, varied_examples(1)[0])
    return write_jsonl(tmp_path / "pairs.jsonl", [rows[0], plain, *rows[1:]])


def test_the_block_is_exact_on_a_hand_made_set(tmp_path: Path) -> None:
    block = built(small_set(tmp_path)).report.preference
    assert block == {
        "pairs": 4,
        "chosen_longer_share": 0.5,
        "length_diff_words": {"mean": 2.75, "median": 2.0},
        "margin": {"mean": 1.875, "median": 1.75},
        "tie_breaks": 2,
        "position_inconsistent": 0,
        "position_consistency": 1.0,
    }


def test_position_consistency_counts_the_ledgers_inconsistent_pairs(tmp_path: Path) -> None:
    data = small_set(tmp_path)
    ledger = write_jsonl(
        tmp_path / "pairs.ledger.jsonl",  # beside the data: found without --ledger
        [
            inconsistent_entry(0, [words(3), words(3)], [4.0, 4.0]),
            dropped_entry(1, "margin_too_small"),
            dropped_entry(2, "chosen_below_threshold"),
            dropped_entry(3, "too_few_responses"),
        ],
    )
    block = built(data).report.preference
    assert block is not None
    assert block["tie_breaks"] == 2 and block["position_inconsistent"] == 1
    assert block["position_consistency"] == 2 / 3  # 2 consistent of 3 asked
    # the same ledger given elsewhere with --ledger
    moved = ledger.rename(tmp_path / "elsewhere.jsonl")
    assert built(data).report.preference["position_consistency"] == 1.0  # type: ignore[index]
    again = built(data, ledger=moved).report
    assert again.preference == block
    assert again.ledger is not None and again.ledger["drops"]["preference"] == {
        "position_inconsistent": 1,
        "margin_too_small": 1,
        "chosen_below_threshold": 1,
        "too_few_responses": 1,
    }


def test_position_consistency_is_null_when_no_tie_was_broken(tmp_path: Path) -> None:
    rows = [pair_record(i, [words(5), words(3)], [4.0, 2.0]) for i in range(3)]
    block = built(write_jsonl(tmp_path / "d.jsonl", rows)).report.preference
    assert block is not None
    assert block["tie_breaks"] == 0 and block["position_consistency"] is None
    assert block["chosen_longer_share"] == 1.0
    assert block["length_diff_words"] == {"mean": 2.0, "median": 2.0}


def longer_in(tmp_path: Path, longer: int, n: int = 10) -> Path:
    """n pairs, the chosen response longer than the rejected one in the first `longer`."""
    rows = []
    for i in range(n):
        long_, short = words(12, f"long{i}"), words(4, f"short{i}")
        chosen, rejected = (long_, short) if i < longer else (short, long_)
        rows.append(pair_record(i, [chosen, rejected], [4.0, 2.0]))
    return write_jsonl(tmp_path / f"longer_{longer}_of_{n}.jsonl", rows)


def codes(b: Built) -> list[str]:
    return [w.code for w in b.report.warnings]


def test_chosen_longer_fires_in_8_of_10_pairs_and_not_in_7(tmp_path: Path) -> None:
    ten = Thresholds(min_records=10)
    b = built(longer_in(tmp_path, 8), thresholds=ten)
    (w,) = [w for w in b.report.warnings if w.code == "chosen_longer"]
    assert (w.value, w.threshold) == (0.8, 0.7)
    assert w.message == (
        "chosen is longer than rejected in 80% of 10 preference pairs: the judge may prefer length"
    )
    assert "chosen_longer" not in codes(built(longer_in(tmp_path, 7), thresholds=ten))
    # on fewer pairs than min_records (20 by default) a share says too little to warn
    assert "chosen_longer" not in codes(built(longer_in(tmp_path, 10)))
    assert "chosen_longer" in codes(built(longer_in(tmp_path, 15, n=20)))
    assert "chosen_longer" not in codes(built(longer_in(tmp_path, 14, n=20)))


def test_the_rule_on_its_own() -> None:
    def view(pairs: int, share: float) -> ReportView:
        return ReportView(
            records=pairs,
            metrics=Diversity(**dict.fromkeys(Diversity.model_fields)),
            preference=Preference(pairs=pairs, chosen_longer_share=share),
        )

    assert chosen_longer(view(20, 0.71), T)[0].code == "chosen_longer"
    assert chosen_longer(view(20, 0.7), T) == []  # more than 70% fires, not 70%
    assert chosen_longer(view(19, 1.0), T) == []
    assert chosen_longer(view(20, float("nan")), T) == []
    loose = Thresholds(chosen_longer_max=0.9)
    assert chosen_longer(view(20, 0.85), loose) == []
    assert "chosen_longer" in CODES and T.chosen_longer_max == 0.7


def test_the_cli_gates_on_chosen_longer_and_takes_its_threshold(tmp_path: Path) -> None:
    data = longer_in(tmp_path, 8)
    args = ["report", str(data), "--json", "-t", "min_records=10"]
    r = run([*args, "--fail-on", "chosen_longer"])
    assert r.code == 3 and "chosen_longer" in r.stderr
    body = r.json()
    assert body["preference"]["pairs"] == 10 and body["preference"]["chosen_longer_share"] == 0.8
    assert body["thresholds"]["chosen_longer_max"] == 0.7
    r = run([*args, "-t", "chosen_longer_max=0.8", "--fail-on", "chosen_longer"])
    assert r.code == 0, r.stderr
    r = run(["report", "--help"])
    assert "chosen_longer" in r.stdout


@pytest.mark.parametrize("kind", ["plain", "imported"])
def test_other_data_has_no_preference_key(tmp_path: Path, kind: str) -> None:
    if kind == "plain":
        rows: list[dict[str, Any]] = [record(i, e) for i, e in enumerate(varied_examples(25))]
    else:
        rows = [dict(e) for e in varied_examples(25)]  # alpaca, no provenance
    data = write_jsonl(tmp_path / "flat.jsonl", rows)
    r = built(data).report
    assert r.preference is None and "preference" not in r.model_dump()
    assert "preference" not in report_summary(r) and '"preference"' not in r.model_dump_json()
    assert "chosen_longer" not in [w.code for w in r.warnings]
    out = run(["report", str(data), "--json"])
    assert out.code == 0 and "preference" not in out.json()
    console = Console(record=True, width=200, color_system=None)
    render_report(r, console)
    assert "Preference" not in console.export_text()
    assert "Preference pairs" not in render_html(built(data))


def test_terminal_html_card_and_compare_show_the_block(tmp_path: Path) -> None:
    data = small_set(tmp_path)
    write_jsonl(
        tmp_path / "pairs.ledger.jsonl", [inconsistent_entry(0, [words(2), words(2)], [3.0, 3.0])]
    )
    b = built(data)
    console = Console(record=True, width=300, color_system=None)
    render_report(b.report, console)
    line = (
        "Preference pairs: 4 pairs · chosen longer in 50% · chosen − rejected +2.75 words "
        "(median +2) · margin mean 1.88 (median 1.75) · 2 kept by a tie break · position "
        "consistency 67% (1 inconsistent)"
    )
    assert line in console.export_text()
    page = render_html(b)
    assert "<h2>Preference pairs</h2>" in page
    assert "<td>chosen longer than rejected</td><td class=n>50%</td>" in page
    assert "<td>position consistency</td><td class=n>67%</td>" in page
    facts = CardFacts(
        synthgen_version="0",
        generator_models=["m"],
        strategy="self-instruct",
        seed_files=[],
        seeds=0,
        candidates=6,
        kept=5,
        report=b.report,
    )
    text = card_text(
        tmp_path,
        task="text-generation",
        description="",
        license="mit",
        language=["en"],
        data_files={"train": "pairs.jsonl"},
        facts=facts,
    )
    assert f"\n\n{line}.\n" in text
    other = longer_in(tmp_path, 8)
    res = run(["report", str(data), "--compare", str(other), "--json"])
    changes = {c["metric"]: c for c in res.json()["compare"]["changes"]}
    assert changes["chosen_longer_share"]["value"] == 0.5
    assert changes["chosen_longer_share"]["other"] == 0.8
    assert changes["chosen_longer_share"]["change"] == pytest.approx(-0.3)
    assert changes["margin_mean"]["value"] == 1.875 and changes["margin_mean"]["other"] == 2.0

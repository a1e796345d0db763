"""Axes, measured: the report's metrics by axis value (report and `seeds inspect --config`),
per-cell ROUGE-L in steering, and the value_judge_fails warning, with no endpoint."""

from __future__ import annotations

import json
from pathlib import Path

from support.helpers import run

from synthgen.pipeline.steering import Steering
from synthgen.records import Provenance, Record, Usage
from synthgen.settings.axes import CoverageConfig
from synthgen.stages.expand.axes import Axis
from synthgen.stages.report.axes import axes_block, value_metrics
from synthgen.stages.report.metrics import ROUGE_SAMPLE, mean_pairwise_rouge_l
from synthgen.stages.report.rules import value_judge_fails
from synthgen.stages.report.view import AxisValue, Diversity, ReportView
from synthgen.stages.report.warnings import check_gates, load_thresholds

SHARED = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]


def _alike(i: int) -> str:
    """A text whose words are all its own bigrams but whose order follows SHARED: distinct-2
    as high as a unique text's, ROUGE-L against its siblings about 0.5."""
    return " ".join(f"{w} f{i}x{j}" for j, w in enumerate(SHARED))


def _unique(i: int) -> str:
    return " ".join(f"u{i}w{j}" for j in range(16))


def _rec(i: int, d: str, text: str) -> Record:
    prov = Provenance(
        run_id="r", created_at="", synthgen_version="0", config_sha256="x", method="m",
        parents=[], usage=Usage(), axes={"d": d},
    )  # fmt: skip
    return Record(id=f"sg_{d}{i}", instruction=text, output="o", provenance=prov)


def test_steering_leans_toward_a_cell_whose_records_read_alike_by_rouge_l() -> None:
    s = Steering((Axis("d", ("easy", "hard")),), CoverageConfig(), 40)
    for i in range(6):
        for d, text in (("easy", _unique(i)), ("hard", _alike(i))):
            assert s.admit(_rec(i, d, text)) is None and s.take(_rec(i, d, text)) is None
    easy, hard = s.state[("easy",)], s.state[("hard",)]
    assert easy.distinct_2 == hard.distinct_2 == 1.0  # distinct-2 alone sees no difference
    assert easy.rouge_l == 0.0 and hard.rouge_l is not None and hard.rouge_l > 0.4
    # the report's own measure over the cell's bounded sample
    assert hard.rouge_l == round(mean_pairwise_rouge_l(hard.sample, 64, 0) or 0, 4)
    s.plan(calls=4, per_call=1, rate=1.0)
    by_cell = {d["cell"]: d for d in s.decisions}
    assert by_cell["d=hard"]["reason"] == "least_diverse"
    assert by_cell["d=hard"]["rouge_l"] == hard.rouge_l and by_cell["d=hard"]["distinct_2"] == 1.0
    assert by_cell["d=easy"]["reason"] == "under_quota" and "rouge_l" not in by_cell["d=easy"]
    assert by_cell["d=hard"]["calls"] > by_cell["d=easy"]["calls"]  # 1.25× the weight
    assert {c["cell"]: c["rouge_l"] for c in s.summary()["cells"]}["d=hard"] == hard.rouge_l


def _view(*values: AxisValue) -> ReportView:
    metrics = Diversity(
        mean_pairwise_rouge_l=None, compression_ratio=None, top_opener_share=None,
        exact_duplicate_share=None,
    )  # fmt: skip
    return ReportView(records=50, metrics=metrics, axis_values=values)


def test_a_value_the_judge_mostly_fails_is_a_warning_code_fail_on_accepts() -> None:
    t = load_thresholds(None, [])
    view = _view(
        AxisValue(axis="topic", value="Billing", judged=10, judge_failed=8),
        AxisValue(axis="topic", value="Access", judged=10, judge_failed=5),  # not over half
        AxisValue(axis="topic", value="Rare", judged=4, judge_failed=4),  # too few verdicts
    )
    warned = value_judge_fails(view, t)
    assert [(w.code, w.value, w.threshold) for w in warned] == [("value_judge_fails", 0.8, 0.5)]
    assert "topic = Billing" in warned[0].message and "80%" in warned[0].message
    assert check_gates(["value_judge_fails"]) == ["value_judge_fails"]
    assert value_judge_fails(view, load_thresholds(None, ["value_fail_share_max=0.9"])) == []


def _write(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_the_report_gives_every_value_the_whole_sets_metrics_and_its_verdicts(
    tmp_path: Path,
) -> None:
    def rec(i: int, d: str) -> dict[str, object]:
        text = _alike(i) if d == "hard" else _unique(i)
        return {"instruction": text, "output": f"answer {i}", "provenance": {"axes": {"d": d}}}

    data = _write(tmp_path / "data.jsonl", [rec(i, d) for i in range(6) for d in ("easy", "hard")])
    failed = {"dropped": {"stage": "judge"}, "provenance": {"axes": {"d": "hard"}}}
    block = axes_block(data, _write(tmp_path / "dropped.jsonl", [failed] * 3))
    assert block is not None
    rows = {r["value"]: r for r in block["values"]}
    assert rows["hard"]["judged"] == 3 and rows["hard"]["judge_failed"] == 3
    hard = rows["hard"]["metrics"]
    assert {"distinct_1", "distinct_2", "distinct_3", "compression_ratio"} <= set(hard)
    assert {"mean_pairwise_rouge_l", "opener_entropy", "median_words"} <= set(hard)
    texts = [f"{_alike(i)}\nanswer {i}" for i in range(6)]
    assert hard["mean_pairwise_rouge_l"] == round(
        mean_pairwise_rouge_l(texts, ROUGE_SAMPLE, 0) or 0, 4
    )
    assert hard["mean_pairwise_rouge_l"] > rows["easy"]["metrics"]["mean_pairwise_rouge_l"]
    assert hard["opener_entropy"] == 0.0 and rows["easy"]["metrics"]["opener_entropy"] > 2
    assert hard["median_words"] == 18.0
    # a value with candidates but nothing kept (only in the ledger) has no metrics to give
    empty = value_metrics([])
    assert empty["mean_pairwise_rouge_l"] is None and empty["median_words"] is None


def test_seeds_inspect_with_a_config_breaks_the_seeds_down_by_axis_value(tmp_path: Path) -> None:
    seeds = _write(
        tmp_path / "seeds.jsonl",
        [
            {"instruction": _alike(0), "output": "a", "difficulty": "hard"},
            {"instruction": _alike(1), "output": "b", "meta": {"difficulty": "hard"}},
            {"instruction": _unique(2), "output": "c", "difficulty": "easy"},
            {"instruction": _unique(3), "output": "d"},
        ],
    )
    cfg = tmp_path / "run.yaml"
    cfg.write_text("generation:\n  axes:\n    difficulty: [easy, medium, hard]\n")
    r = run(["seeds", "inspect", str(seeds), "--config", str(cfg), "--json"])
    assert r.code == 0, r.stderr
    rows = {row["value"]: row for row in r.json()["axes"]}
    assert [row["value"] for row in r.json()["axes"]] == ["easy", "medium", "hard"]
    assert rows["hard"]["seeds"] == 2 and rows["easy"]["seeds"] == 1
    assert rows["medium"] == {"axis": "difficulty", "value": "medium", "seeds": 0, "metrics": None}
    assert rows["hard"]["metrics"]["mean_pairwise_rouge_l"] > 0.4
    shown = run(["seeds", "inspect", str(seeds), "--config", str(cfg)])
    assert "By axis value" in shown.stderr and "no seed carries it" in shown.stderr
    assert run(["seeds", "inspect", str(seeds), "--json"]).json()["axes"] is None

"""Seed inspection: counts, lengths, exact and near duplicates, problems and warnings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from rich.console import Console

from synthgen.errors import UsageError
from synthgen.seeds.inspect import (
    LengthStats,
    SeedReport,
    inspect_seeds,
    normalise,
    render_report,
)

REPO = Path(__file__).resolve().parents[2]

VARIED = [
    "Explain how a bicycle gear works to a ten-year-old.",
    "Write a limerick about a forgetful robot.",
    "List three risks of storing passwords in plain text.",
    "Convert 72 degrees Fahrenheit to Celsius and show the steps.",
    "Suggest a name for a bakery that only sells sourdough.",
    "Summarise the plot of Romeo and Juliet in two sentences.",
    "Give a regular expression that matches a UK postcode.",
    "Draft a polite reminder to a colleague about an overdue report.",
    "Compare TCP and UDP in a short table.",
    "Describe the smell of rain for someone who has never experienced it.",
    "Recommend a board game for four players who like trading.",
    "Translate 'where is the train station' into Italian.",
]


def jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def alpaca(texts: list[str], prefix: str = "s") -> list[dict[str, Any]]:
    return [
        {"id": f"{prefix}{i}", "instruction": t, "output": f"Answer number {i} with some words."}
        for i, t in enumerate(texts, start=1)
    ]


def test_clean_set_report(tmp_path: Path) -> None:
    path = jsonl(tmp_path / "clean.jsonl", alpaca(VARIED))
    report = inspect_seeds([path])
    assert isinstance(report, SeedReport)
    assert (report.seeds, report.examples, report.empty_input) == (12, 12, 12)
    assert report.format == {str(path): "alpaca"}
    assert report.duplicates == [] and report.problems == [] and report.warnings == []
    assert report.output_words == LengthStats(count=12, min=6, p50=6.0, mean=6.0, max=6)
    assert report.input_words.count == 0
    dumped = report.model_dump()
    for key in ("format", "seeds", "examples", "duplicates", "problems"):
        assert key in dumped
    orjson.dumps(dumped)  # --json must serialise as is


def test_length_stats() -> None:
    st = LengthStats.of(["one", "one two", "one two three four"])
    assert (st.count, st.min, st.p50, st.mean, st.max) == (3, 1, 2.0, 2.3, 4)
    assert LengthStats.of([]) == LengthStats()


def test_normalise() -> None:
    assert normalise("  Write a HAIKU,\tabout autumn! ") == "write a haiku about autumn"
    assert normalise("ｆｕｌｌ－width") == normalise("full width")  # NFKC folds full-width forms


def test_exact_and_near_duplicates(tmp_path: Path) -> None:
    texts = [
        *VARIED,
        "explain how a BICYCLE gear works, to a ten year old",  # exact after normalising
        "Write a short poem about the sea at night.",
        "Write a short poem about the ocean at night.",  # near
    ]
    report = inspect_seeds([jsonl(tmp_path / "d.jsonl", alpaca(texts))])
    exact = [d for d in report.duplicates if d.kind == "exact"]
    near = [d for d in report.duplicates if d.kind == "near"]
    assert [(d.a, d.b, d.similarity) for d in exact] == [("s1", "s13", 1.0)]
    assert [(d.a, d.b) for d in near] == [("s14", "s15")]
    assert 0.7 <= near[0].similarity < 1.0
    assert near[0].a_at.endswith("d.jsonl:14") and near[0].b_at.endswith("d.jsonl:15")
    assert any("1 exact duplicate pair" in w for w in report.warnings)
    assert any("1 near-duplicate seed pair" in w and "varied" in w for w in report.warnings)
    assert inspect_seeds([tmp_path / "d.jsonl"], near_threshold=0.95).duplicates == exact


def test_same_instruction_with_different_inputs_is_not_a_duplicate(tmp_path: Path) -> None:
    task = {
        "id": "sent",
        "instruction": "Classify the sentiment of the review.",
        "instances": [
            {
                "input": "The battery died after two days and support never answered.",
                "output": "negative",
            },
            {
                "input": "Arrived early, fits perfectly, and the colour is exactly as pictured.",
                "output": "positive",
            },
            {"input": "It is a phone case.", "output": "neutral"},
        ],
    }
    others = [
        {"id": f"t{i}", "instruction": t, "instances": [{"input": "", "output": "ok"}]}
        for i, t in enumerate(VARIED[:6])
    ]
    report = inspect_seeds([jsonl(tmp_path / "si.jsonl", [task, *others])])
    assert (report.seeds, report.examples) == (7, 9)
    assert report.duplicates == []
    assert any(w.startswith("only 9 examples") for w in report.warnings)
    assert any("gives 3 of 9 examples" in w for w in report.warnings)


def test_small_set_warning(tmp_path: Path) -> None:
    report = inspect_seeds([jsonl(tmp_path / "tiny.jsonl", alpaca(VARIED[:3]))])
    assert any(w.startswith("only 3 examples") for w in report.warnings)


def test_problems_and_missing_fields(tmp_path: Path) -> None:
    records: list[Any] = alpaca(VARIED)
    records.insert(2, {"id": "bad1", "instruction": "No answer here"})
    records.insert(4, {"id": "bad2", "output": "No question here"})
    path = tmp_path / "p.jsonl"
    path.write_text(
        "".join(json.dumps(r) + "\n" for r in records) + "{not json\n", encoding="utf-8"
    )
    report = inspect_seeds([path])
    assert report.examples == 12
    assert [(p.line, p.field) for p in report.problems] == [
        (3, "output"),
        (5, "instruction"),
        (15, None),
    ]
    assert report.fields_missing == {"output": 1, "instruction": 1}
    assert any("3 problems" in w for w in report.warnings)


def test_duplicate_ids_across_files_are_problems(tmp_path: Path) -> None:
    a = jsonl(tmp_path / "a.jsonl", alpaca(VARIED[:6]))
    b = jsonl(tmp_path / "b.jsonl", alpaca(VARIED[6:]))  # ids s1..s6 again
    report = inspect_seeds([a, b])
    assert report.examples == 6  # the first file keeps its ids; b's repeats are dropped
    assert {p.code for p in report.problems} == {"duplicate_id"}
    assert all(p.path == str(b) and p.field == "id" for p in report.problems)


def test_render_report(tmp_path: Path) -> None:
    texts = [
        *VARIED[:4],
        "Write a short poem about the sea at night.",
        "Write a short poem about the ocean at night.",
    ]
    records = alpaca(texts, prefix="[bold]x")  # markup-like ids must print literally
    records.append({"id": "broken", "instruction": "Q"})
    report = inspect_seeds([jsonl(tmp_path / "r.jsonl", records)])
    console = Console(record=True, width=200, color_system=None)
    render_report(report, console)
    out = console.export_text()
    assert "6 seeds → 6 examples" in out
    assert "[bold]x5" in out
    assert "near-duplicate seed pair" in out
    assert "only 6 examples" in out
    assert 'field "output"' in out and "how to fix" in out

    clean = Console(record=True, width=200, color_system=None)
    render_report(inspect_seeds([jsonl(tmp_path / "ok.jsonl", alpaca(VARIED))]), clean)
    assert "Seeds look ready" in clean.export_text()


def test_near_search_is_skipped_for_huge_sets(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setattr("synthgen.seeds.inspect.NEAR_LIMIT", 5)
    texts = [
        *VARIED[:6],
        "Write a short poem about the sea at night.",
        "Write a short poem about the ocean at night.",
    ]
    report = inspect_seeds([jsonl(tmp_path / "big.jsonl", alpaca(texts))])
    assert report.duplicates == []
    assert any("not searched" in w for w in report.warnings)


def test_bad_arguments(tmp_path: Path) -> None:
    path = jsonl(tmp_path / "a.jsonl", alpaca(VARIED))
    with pytest.raises(UsageError):
        inspect_seeds([path], near_threshold=0)
    with pytest.raises(UsageError):
        inspect_seeds([])


def test_bundled_seed_sets_have_no_duplicates() -> None:
    paths = [REPO / "seeds" / "support_triage.jsonl", REPO / "seeds" / "text_to_sql.jsonl"]
    report = inspect_seeds(paths)
    assert (report.seeds, report.examples) == (50, 50)
    assert report.duplicates == [] and report.problems == [] and report.warnings == []


def test_self_instruct_seed_tasks(shared_data: Path) -> None:
    path = shared_data / "self-instruct" / "seed_tasks.jsonl"
    report = inspect_seeds([path])
    assert report.format == {str(path): "self-instruct"}
    assert report.seeds == 175
    assert report.problems == []
    assert report.empty_input == sum(
        not i["input"].strip()
        for line in path.read_text(encoding="utf-8").splitlines()
        for i in json.loads(line)["instances"]
    )

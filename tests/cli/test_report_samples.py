"""Sampled examples in the HTML report: seeded, escaped, with verdicts and drop details."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from support.report_data import record, varied_examples, write_jsonl

from synthgen.stages.report.build import ReportInputs, build_report
from synthgen.stages.report.html import write_html
from synthgen.stages.report.samples import Samples, draw_samples, truncate
from synthgen.stages.report.warnings import Thresholds

HEADING = "Read these examples before you trust the numbers"
# stage, reason, how many: more than per_reason for some, fewer for others
DROPS = [
    ("rules", "too_short", 7),
    ("dedup", "exact_duplicate", 2),
    ("judge", "below_threshold", 5),
]


def dropped(i: int, stage: str, reason: str, **kw: Any) -> dict[str, Any]:
    """A ledger entry: a record with provenance plus `dropped`."""
    ex = varied_examples(1, seed=100 + i)[0]
    row = record(i, ex, rid=f"drop_{stage}_{reason}_{i:03d}", **kw)
    return {**row, "dropped": {"stage": stage, "reason": reason, "detail": f"detail {i}"}}


def run_dir(d: Path, n: int = 60) -> tuple[Path, Path]:
    rows = [record(i, e, parents=["seed:s01"], score=4) for i, e in enumerate(varied_examples(n))]
    ledger = [
        dropped(100 * k + i, stage, reason, score=2 if stage == "judge" else None)
        for k, (stage, reason, count) in enumerate(DROPS)
        for i in range(count)
    ]
    # A candidate that never parsed: no texts, only the raw answer, and markup in its detail.
    raw = record(999, {"instruction": "x", "output": "x"}, rid="drop_raw")
    del raw["instruction"], raw["output"]
    raw |= {"raw": "{not json", "dropped": {"stage": "expand", "reason": "parse_error"}}
    raw["dropped"]["detail"] = "expected <object> & got text"
    ledger.append(raw)
    return write_jsonl(d / "data.jsonl", rows), write_jsonl(d / "dropped.jsonl", ledger)


def html_with(d: Path, samples: Samples | None) -> str:
    built = build_report(ReportInputs(d / "data.jsonl"), Thresholds())
    path = d / "report.html"
    write_html(built, path, samples=samples) if samples else write_html(built, path)
    return path.read_text(encoding="utf-8")


def test_sample_is_seeded_and_covers_every_stage_and_reason(tmp_path: Path) -> None:
    data, ledger = run_dir(tmp_path)
    s = draw_samples(data, ledger, seed=7)
    assert s == draw_samples(data, ledger, seed=7)
    assert s.kept != draw_samples(data, ledger, seed=8).kept
    assert s.kept_total == 60 and len(s.kept) == 10
    ids = [e.id for e in s.kept]
    assert ids == sorted(ids) and len(set(ids)) == 10  # file order, no repeats
    assert max(int(i[-6:]) for i in ids) >= 10  # not simply the first ten
    groups = [(g.stage, g.reason, g.total, len(g.examples)) for g in s.dropped]
    assert groups == [
        ("expand", "parse_error", 1, 1),
        ("rules", "too_short", 7, 3),
        ("dedup", "exact_duplicate", 2, 2),
        ("judge", "below_threshold", 5, 3),
    ]
    assert all(e.verdict and e.verdict.score == 4 and e.verdict.passed for e in s.kept)
    raw = s.dropped[0].examples[0]
    assert raw.raw == "{not json" and raw.instruction == raw.output == ""
    small = draw_samples(data, None, seed=7, kept_n=3, per_reason=1)
    assert len(small.kept) == 3 and small.dropped == ()


def test_html_shows_ids_verdicts_and_details_escaped(tmp_path: Path) -> None:
    data, ledger = run_dir(tmp_path, n=25)
    rows = [record(i, e, score=3) for i, e in enumerate(varied_examples(25))]
    rows[4]["output"] = "Use <script>alert('x')</script> & be careful"
    rows[4]["provenance"]["judge"]["rationale"] = "mentions <img src=x>"
    write_jsonl(data, rows)
    s = draw_samples(data, ledger, seed=1, kept_n=30)
    text = html_with(tmp_path, s)
    assert HEADING in text
    for e in [*s.kept, *(e for g in s.dropped for e in g.examples)]:
        assert f"<code>{e.id}</code>" in text
    assert "rationale 0" in text and "score <b>3</b>" in text and "failed" in text
    assert "detail 100" in text and "<b>judge</b>: <b>below_threshold</b>" in text
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; be careful" in text
    assert "expected &lt;object&gt; &amp; got text" in text and "&lt;img src=x&gt;" in text
    assert "raw answer (did not parse)</div><pre>{not json</pre>" in text
    assert not re.search(r"<(?:script|img|object)\b", text, re.I)
    assert text.index("<h2>Warnings</h2>") < text.index(HEADING) < text.index("<h2>Metrics</h2>")


def test_html_without_samples_is_unchanged(tmp_path: Path) -> None:
    run_dir(tmp_path, n=25)
    text = html_with(tmp_path, None)
    assert HEADING not in text and "class=ex" not in text and ".ex{" not in text


def test_long_texts_are_cut_at_a_word(tmp_path: Path) -> None:
    long = "word " * 1000
    cut = truncate(long, 100)
    assert cut.startswith("word word") and cut.endswith("more characters]") and len(cut) < 140
    assert truncate("short", 100) == "short"
    rows = [record(0, {"instruction": "Say it", "input": "", "output": long}, score=5)]
    s = draw_samples(write_jsonl(tmp_path / "d.jsonl", rows), None, seed=0)
    assert len(s.kept[0].output) < 1300 and "more characters]" in s.kept[0].output

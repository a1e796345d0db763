"""The HTML report is self-contained and its plots render in headless Chromium offline.

Run as a script to make a screenshot of a demo report (the `make report-screenshot` target):
    python tests/test_report_html.py out/report.png
"""

from __future__ import annotations

import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from support.helpers import run
from support.report_data import record, seed_file, varied_examples, wrapped, write_jsonl

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
DATA_RGB, SEED_RGB = (0x3B, 0x6E, 0xA8), (0xD9, 0x82, 0x2B)  # report_html's plot colours


def chromium() -> str | None:
    return next((p for p in map(shutil.which, BROWSERS) if p), None)


def screenshot(html: Path, png: Path, width: int = 1100, height: int = 3200) -> None:
    """Render html in headless Chromium with every host unresolvable: nothing can be fetched."""
    browser = chromium()
    if browser is None:
        raise RuntimeError("no chromium binary found (apt-get install chromium)")
    subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            f"--window-size={width},{height}",
            f"--screenshot={png}",
            html.resolve().as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )


def demo_data(d: Path) -> tuple[Path, Path]:
    """A dataset that shows every plot: lineage, judge scores, traits, seeds."""
    seeds, ids = seed_file(d / "seeds.jsonl", 25)
    rng = random.Random(2)
    exs = varied_examples(150)[:100] + wrapped(varied_examples(50, seed=4))
    rows = [
        record(
            i,
            {**e, "output": e["output"] + ("\n- and a list" if i % 3 == 0 else "")},
            parents=[f"seed:{rng.choice(ids[:6] if i % 2 else ids)}"],
            score=min(5, 1 + len(e["output"].split()) // 12 + rng.choice([0, 0.5, 1])),
        )
        for i, e in enumerate(exs)
    ]
    return write_jsonl(d / "data.jsonl", rows), seeds


def pixels_near(png: Path, rgb: tuple[int, int, int]) -> int:
    import numpy as np
    from matplotlib.image import imread

    img = imread(str(png))[:, :, :3] * 255
    return int((np.abs(img - np.array(rgb)).max(axis=2) < 40).sum())


def make_report(d: Path) -> Path:
    data, seeds = demo_data(d)
    html = d / "report.html"
    res = run(["report", str(data), "--seeds", str(seeds), "--html", str(html)])
    assert res.code == 0, res.stderr
    return html


def test_html_is_self_contained(tmp_path: Path) -> None:
    text = make_report(tmp_path).read_text(encoding="utf-8")
    assert not re.search(r"https?://", text)
    assert not re.search(r"<(?:script|link|img|iframe)\b|\bsrc=|url\((?!#)", text, re.I)
    assert text.count("<svg") == 4  # lengths, judge (histogram + scatter), seeds, traits
    for heading in ("Lengths, seeds vs data", "Judge", "Records per seed", "Teacher traits"):
        assert f"<h2>{heading}</h2>" in text
    assert "<b>seed_skew</b>" in text and "mean_pairwise_rouge_l" in text
    assert re.search(r"the top 3 hold 3\d% \(fair share 12%, \d+% by chance alone\)", text)


def test_html_without_judge_or_lineage_and_escaping(tmp_path: Path) -> None:
    rows = [{"instruction": e["instruction"], "output": e["output"]} for e in varied_examples(30)]
    data = write_jsonl(tmp_path / "<b>x.jsonl", rows)
    html = tmp_path / "r.html"
    assert run(["report", str(data), "--html", str(html)]).code == 0
    text = html.read_text(encoding="utf-8")
    assert text.count("<svg") == 2 and "&lt;b&gt;x.jsonl" in text and "<b>x.jsonl" not in text
    assert "no provenance: lineage, methods and judge sections need synthgen records" in text


def test_long_outliers_do_not_squeeze_the_length_plot(tmp_path: Path) -> None:
    rows = [{"instruction": e["instruction"], "output": e["output"]} for e in varied_examples(150)]
    rows[0]["output"] = "word " * 3000  # one very long answer
    data = write_jsonl(tmp_path / "d.jsonl", rows)
    html = tmp_path / "r.html"
    assert run(["report", str(data), "--html", str(html)]).code == 0
    text = html.read_text(encoding="utf-8")
    top = sorted(len(r["output"].split()) for r in rows)[int(len(rows) * 0.99)]
    assert top < 3000 and f"words (last bin: also 1 longer than {top})" in text


# CI installs Debian's chromium (.ci/run), so there a missing browser fails instead of skipping.
@pytest.mark.skipif(
    chromium() is None and not os.environ.get("CI"),
    reason="no chromium binary (apt-get install chromium)",
)
def test_html_renders_in_headless_chromium(tmp_path: Path) -> None:
    assert chromium() is not None, "CI must have chromium: .ci/run installs it"
    html = make_report(tmp_path)
    png = tmp_path / "report.png"
    screenshot(html, png)
    assert png.stat().st_size > 50_000
    # The plots drew: thousands of pixels in the data colour (bars, histograms, scatter) and
    # in the seed colour (seed length outlines, seed trait bars).
    assert pixels_near(png, DATA_RGB) > 5000
    assert pixels_near(png, SEED_RGB) > 1000


if __name__ == "__main__":
    if chromium() is None:
        sys.exit("no chromium binary: apt-get install chromium (or google-chrome)")
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "report.png")
    with tempfile.TemporaryDirectory() as tmp:
        html = make_report(Path(tmp))
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(html, out.with_suffix(".html"))
        screenshot(html, out)
    print(f"{out} (and {out.with_suffix('.html')})")

"""The dataset card: Hugging Face front matter that `datasets` reads, a body a person can use."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.report_data import record, seed_file, varied_examples, write_jsonl

from synthgen.errors import UsageError
from synthgen.stages.report.build import Report, ReportInputs, build_report
from synthgen.stages.report.card import CardFacts, size_category, write_card
from synthgen.stages.report.warnings import ReportWarning, Thresholds

DROPS = {"rules": {"too_short": 12, "refusal": 3}, "dedup": {"near_duplicate": 40}}
FILES = {"train": "export/train.jsonl", "validation": "export/validation.jsonl"}


def a_report(d: Path) -> Report:
    rows = [record(i, e, parents=["seed:s01"], score=4) for i, e in enumerate(varied_examples(30))]
    seeds, _ = seed_file(d / "seeds.jsonl", 25)
    inputs = ReportInputs(write_jsonl(d / "data.jsonl", rows), seed_files=(seeds,))
    r = build_report(inputs, Thresholds()).report
    warning = ReportWarning(
        code="length_bias", message="judge score rises with <length>", value=0.61, threshold=0.3
    )
    return r.model_copy(update={"warnings": [warning]})


def facts(d: Path, kept: int = 30, **kw: Any) -> CardFacts:
    base: dict[str, Any] = {
        "synthgen_version": "0.9.1",
        "generator_models": ["gpt-4o-mini"],
        "judge_models": ["judge|x"],
        "strategy": "self-instruct",
        "seed_files": ["seeds/support.jsonl"],
        "seeds": 25,
        "candidates": kept + 55,
        "kept": kept,
        "drops": DROPS,
        "cost_usd": 0.1234,
        "prompt_tokens": 1200,
        "completion_tokens": 3400,
        "report": a_report(d),
    }
    return CardFacts(**(base | kw))


def card(d: Path, f: CardFacts, **kw: Any) -> tuple[dict[str, Any], str]:
    args: dict[str, Any] = {
        "task": "text-generation",
        "description": "Support tickets <b>triaged</b>.",
        "license": "cc-by-4.0",
        "language": ["en", "no"],  # "no" unquoted is a YAML 1.1 boolean
        "data_files": FILES,
    }
    path = write_card(d, facts=f, **(args | kw))
    assert path == d / "README.md"
    _, head, body = path.read_text(encoding="utf-8").split("---\n", 2)
    return yaml.safe_load(head), body


@pytest.mark.parametrize(
    ("n", "bucket"),
    [(0, "n<1K"), (999, "n<1K"), (1000, "1K<n<10K"), (12_345, "10K<n<100K"), (10**6, "1M<n<10M")],
)
def test_size_category(n: int, bucket: str) -> None:
    assert size_category(n) == bucket


def test_front_matter_has_every_key(tmp_path: Path) -> None:
    meta, _ = card(tmp_path, facts(tmp_path, kept=2500))
    assert meta == {
        "license": "cc-by-4.0",
        "language": ["en", "no"],
        "task_categories": ["text-generation"],
        "tags": ["synthetic"],
        "size_categories": ["1K<n<10K"],
        "annotations_creators": ["machine-generated"],
        "configs": [
            {
                "config_name": "default",
                "data_files": [
                    {"split": "train", "path": "export/train.jsonl"},
                    {"split": "validation", "path": "export/validation.jsonl"},
                ],
            }
        ],
    }


def test_body_tells_how_the_data_was_made(tmp_path: Path) -> None:
    _, body = card(tmp_path, facts(tmp_path))
    for line in (
        "| rules | too_short | 12 |",
        "| rules | refusal | 3 |",
        "| dedup | near_duplicate | 40 |",
        "| **dropped** | | **55** |",
        "| **kept** | | **30** |",
        "| **candidates** | | **85** |",
        "- Candidates → kept: 85 → 30 (35%)",
        "- Generator model(s): gpt-4o-mini",
        "- Judge model(s): judge\\|x",
        "- Strategy: self-instruct",
        "- Seeds: 25 human-written examples from `seeds/support.jsonl`",
        "- Cost: $0.1234 USD; tokens: 4,600 (1,200 prompt, 3,400 completion)",
        "- Made with synthgen 0.9.1",
        "- **length_bias**: judge score rises with &lt;length&gt; (value 0.61, threshold 0.3)",
        "| train | `export/train.jsonl` |",
    ):
        assert line in body, line
    assert body.index("| rules | too_short") < body.index("| dedup |")  # data-flow order
    assert "| metric | data | seeds | meaning |" in body and "| distinct_1 | 0." in body
    assert "| output_length_ratio |" in body and "Teacher habits, share of outputs" in body
    assert "machine-generated" in body and "synthgen audit" in body
    assert "Support tickets &lt;b&gt;triaged&lt;/b&gt;." in body and "<b>" not in body


def test_card_without_report_or_warnings(tmp_path: Path) -> None:
    _, body = card(tmp_path, facts(tmp_path, report=None, price_known=False, judge_models=[]))
    assert "No quality report was attached" in body and "(at least: a price was unknown)" in body
    assert "- Judge model(s): none" in body


@pytest.mark.parametrize(
    "files", [{}, {"train split": "a.jsonl"}, {"train": "/abs/a.jsonl"}, {"train": "../a.jsonl"}]
)
def test_bad_data_files_are_refused(tmp_path: Path, files: dict[str, str]) -> None:
    with pytest.raises(UsageError):
        card(tmp_path, facts(tmp_path), data_files=files)
    assert not (tmp_path / "README.md").exists()


LOAD = textwrap.dedent(
    """
    import json, sys, datasets
    ds = datasets.load_dataset(sys.argv[1])
    print(json.dumps({k: [v.num_rows, sorted(v.column_names)] for k, v in ds.items()}))
    """
)


@pytest.mark.skipif(importlib.util.find_spec("datasets") is None, reason="datasets not installed")
def test_datasets_loads_the_run_dir(tmp_path: Path) -> None:
    run = tmp_path / "run"
    alpaca = [{k: e[k] for k in ("instruction", "input", "output")} for e in varied_examples(7)]
    (run / "export").mkdir(parents=True)
    write_jsonl(run / "export/train.jsonl", alpaca[:5])
    write_jsonl(run / "export/validation.jsonl", alpaca[5:])
    # Files the card does not name (canonical records, the ledger) must not be read as data.
    f = facts(run, kept=7)
    write_jsonl(run / "dropped.jsonl", [{"id": "x", "dropped": {"stage": "rules"}}])
    (run / "manifest.json").write_text("{}")
    card(run, f)
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE"))}
    # Nothing may reach the network or the user's home: offline, with caches under tmp.
    env |= {
        "HF_DATASETS_OFFLINE": "1",
        "HF_HUB_OFFLINE": "1",
        "HF_HOME": str(home / "hf"),
        "HF_DATASETS_CACHE": str(home / "hf/datasets"),
        "HOME": str(home),
        "XDG_CACHE_HOME": str(home / "cache"),
    }
    out = subprocess.run(
        [sys.executable, "-c", LOAD, str(run)],
        env=env,
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    columns = ["input", "instruction", "output"]
    assert json.loads(out.stdout.splitlines()[-1]) == {
        "train": [5, columns],
        "validation": [2, columns],
    }

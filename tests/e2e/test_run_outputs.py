"""What a `run` against the stand-in tells a person, over real HTTP: the stage warnings (the
judge is the generator) on screen, in the manifest, the report and the dataset card; that the
stand-in answered (not useful data); Hugging Face task categories; tidy paths; both run ids."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.helpers import read_jsonl
from support.runs import (
    GENERATOR,
    PRICE,
    SEEDS,
    manifest,
    run_cmd,
    standin,
    synthgen,
    write_config,
)

from synthgen.standin import StandinHandle

SAME_MODEL = f"judge {GENERATOR} and generator {GENERATOR} are the same model"
RELATED = "the judge may favour its own kind"  # any independence warning
# a judge of another family than the generator's (standin-judge is of the same: "standin")
OTHER_JUDGE = {"filter.judge.models": ["grader-9"], "prices.grader-9": PRICE}
STANDIN = "stand-in: not useful data"


@pytest.fixture(scope="module")
def endpoint() -> Iterator[StandinHandle]:
    with standin() as handle:
        yield handle


def _run(d: Path, url: str, changes: dict[str, Any]) -> tuple[Path, str]:
    """`synthgen run --count 8` of a config in d/configs/ whose seeds are `../seeds/…`."""
    (d / "seeds").mkdir()
    shutil.copy(SEEDS, d / "seeds" / SEEDS.name)
    (d / "configs").mkdir()
    seeds = f"../seeds/{SEEDS.name}"
    cfg = write_config(d / "configs" / "run.yaml", d / "run", d / ".synthgen", changes)
    tree = yaml.safe_load(cfg.read_text())
    tree["seeds"] = [seeds]
    tree["filter"]["judge"]["seeds"] = [seeds]
    cfg.write_text(yaml.safe_dump(tree, sort_keys=False))
    r = synthgen(*run_cmd(cfg, url, "--count", "8", "--json"))
    assert r.code == 0, r.stderr
    return d / "run", r.stderr


def _card(run_dir: Path) -> tuple[dict[str, Any], str]:
    _, head, body = (run_dir / "README.md").read_text(encoding="utf-8").split("---\n", 2)
    return yaml.safe_load(head), body


def test_a_judge_that_is_the_generator_is_warned_on_screen_manifest_report_and_card(
    endpoint: StandinHandle, tmp_path: Path
) -> None:
    run_dir, screen = _run(tmp_path, endpoint.base_url, {"filter.judge.models": [GENERATOR]})
    assert SAME_MODEL in screen
    assert any(SAME_MODEL in w for w in manifest(run_dir)["warnings"])
    assert SAME_MODEL in (run_dir / "report.html").read_text(encoding="utf-8")
    _, body = _card(run_dir)
    warnings = body[body.index("## Warnings") :]
    assert f"- **run**: {SAME_MODEL}" in warnings


def test_a_judge_of_another_family_is_not_warned_about(
    endpoint: StandinHandle, tmp_path: Path
) -> None:
    run_dir, screen = _run(tmp_path, endpoint.base_url, OTHER_JUDGE)
    assert RELATED not in screen
    assert not any(RELATED in w for w in manifest(run_dir)["warnings"])
    assert RELATED not in (run_dir / "README.md").read_text(encoding="utf-8")
    assert RELATED not in (run_dir / "report.html").read_text(encoding="utf-8")


def test_a_standin_run_says_so_with_hf_categories_tidy_paths_and_both_run_ids(
    endpoint: StandinHandle, tmp_path: Path
) -> None:
    run_dir, screen = _run(tmp_path, endpoint.base_url, {})
    m = manifest(run_dir)
    meta, body = _card(run_dir)
    assert m["standin"] is True and "stand-in" in screen
    assert STANDIN in body and STANDIN in (run_dir / "report.html").read_text(encoding="utf-8")
    # no model was asked and nothing was paid: the card says whose names these are
    assert f"- Generator model(s): {GENERATOR} (names sent to the stand-in" in body
    assert "- Cost: none paid (the stand-in is free" in body
    # the task's name (support-triage) is not one of Hugging Face's categories
    assert meta["task_categories"] == ["text-generation"] and "stand-in" in meta["tags"]
    seeds = str((tmp_path / "seeds" / SEEDS.name).resolve())
    assert [i["path"] for i in m["inputs"]] == [seeds]
    assert f"from `{seeds}`" in body and "/../" not in body
    # the records' run id is a function of the config; the manifest's is this session's
    records = {r["provenance"]["run_id"] for r in read_jsonl(run_dir / "data.jsonl")}
    assert records == {m["records_run_id"]} and m["run_id"] != m["records_run_id"]
    assert m["records_run_id"] in body and m["run_id"] in body


def test_task_categories_outside_hugging_faces_vocabulary_are_a_config_error(
    tmp_path: Path,
) -> None:
    changes = {"outputs.task_categories": ["support-triage"]}
    cfg = write_config(tmp_path / "run.yaml", tmp_path / "run", tmp_path / ".synthgen", changes)
    r = synthgen("run", cfg, "--base-url", "http://127.0.0.1:9/v1", "--dry-run")
    assert r.code == 2
    assert "support-triage is not a Hugging Face task category" in r.stderr
    assert "Traceback" not in r.stderr


def test_a_dry_run_warns_of_a_judge_that_is_the_generator_before_anything_is_sent(
    tmp_path: Path,
) -> None:
    changes = {"filter.judge.models": [GENERATOR]}
    cfg = write_config(tmp_path / "run.yaml", tmp_path / "run", tmp_path / ".synthgen", changes)
    args = ("run", cfg, "--base-url", "http://127.0.0.1:9/v1", "--dry-run")
    r = synthgen(*args, "--json")
    assert r.code == 0, r.stderr
    assert [w for w in r.json()["warnings"] if SAME_MODEL in w]
    assert f"warning: {SAME_MODEL}" in synthgen(*args).stderr
    other = write_config(
        tmp_path / "other.yaml", tmp_path / "run", tmp_path / ".synthgen", OTHER_JUDGE
    )
    r = synthgen("run", other, "--base-url", "http://127.0.0.1:9/v1", "--dry-run", "--json")
    assert r.json()["warnings"] == []

"""The bundled configs load, and a dry run over each works without a key or a network."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.helpers import run
from support.paths import REPO

from synthgen.config import load_config

CONFIGS = sorted((REPO / "configs").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_config_loads_and_dry_runs(path: Path, tmp_path: Path) -> None:
    cfg = load_config(path, {}, {})
    assert cfg.seeds and all(p.is_file() for p in cfg.seeds)
    r = run(
        ["expand", "--config", str(path), "-o", str(tmp_path / "o.jsonl"), "--dry-run", "--json"]
    )
    assert r.code == 0, r.stderr
    plan = r.json()
    assert plan["requests"] > 0 and plan["price_known"] and plan["cost_usd"] > 0


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_config_filter_section_fits_its_own_seeds(path: Path, tmp_path: Path) -> None:
    """Each task's rubric loads, and its human seeds pass its own rules: a rule that drops
    the seeds would drop good data. With the config's judge settings, --no-judge still runs
    the rules alone."""
    from synthgen.stages.filter.judge import load_rubric

    cfg = load_config(path, {}, {})
    judge = cfg.filter.judge
    assert judge.rubric is not None and judge.seeds == cfg.seeds
    rubric = load_rubric(judge.rubric)
    assert rubric.scale.min <= judge.threshold <= rubric.scale.max
    out = tmp_path / "kept.jsonl"
    base = ["filter", str(cfg.seeds[0]), "-o", str(out), "--config", str(path), "--json"]
    r = run([*base, "--no-judge"])
    assert r.code == 0, r.stderr
    counts = r.json()["counts"]
    seeds = len(cfg.seeds[0].read_text().splitlines())  # 25 tasks, or 12 conversations
    assert counts["input"] == seeds and counts["kept"] == seeds, counts
    r = run([*base, "--dry-run"])
    assert r.code == 0, r.stderr


def test_unknown_operator_is_a_config_error(tmp_path: Path) -> None:
    f = tmp_path / "c.yaml"
    f.write_text("generation: {strategy: evol, operators: [deepen, teleport]}\n")
    r = run(
        [
            "expand",
            str(REPO / "seeds" / "text_to_sql.jsonl"),
            "--config",
            str(f),
            "-o",
            str(tmp_path / "o.jsonl"),
            "--dry-run",
        ]
    )
    assert r.code == 2 and "teleport" in r.stderr


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_config_is_complete_for_run(path: Path) -> None:
    """Each bundled config names what `synthgen run` needs, and `config check` passes it."""
    cfg = load_config(path, {}, {})
    assert cfg.target.count >= 40 and cfg.dedup.method == "minhash"
    assert cfg.gates.min_keep_rate is not None and cfg.gates.min_keep_rate <= 0.05
    assert cfg.outputs.dir == path.parent / ".." / "out" / cfg.task
    assert cfg.outputs.formats and cfg.outputs.split and cfg.outputs.language == ["en"]
    r = run(["config", "check", str(path)])
    assert r.code == 0 and f"{path}: ok (task {cfg.task}" in r.stderr, r.stderr

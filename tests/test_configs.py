"""The bundled configs load, and a dry run over each works without a key or a network."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import REPO
from helpers import run

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

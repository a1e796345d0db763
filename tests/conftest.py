"""Shared fixtures: the stand-in endpoint, bundled seeds, and the real public seed data."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from synthgen.standin import StandinHandle

from support.paths import REPO, shared_data_dir

__all__ = ["REPO"]


@pytest.fixture
def shared_data() -> Path:
    """../shared/data with the Self-Instruct seed sets; tests using it skip on a bare clone."""
    found = shared_data_dir()
    if found is None:
        pytest.skip("../shared/data (Self-Instruct seed sets) is not beside this checkout")
    return found


@pytest.fixture
def standin() -> Iterator[StandinHandle]:
    """A fresh stand-in endpoint on 127.0.0.1 (real HTTP), stopped after the test."""
    from synthgen.standin import run_in_thread

    handle = run_in_thread()
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
def triage_seeds() -> Path:
    return REPO / "seeds" / "support_triage.jsonl"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never see the developer's real endpoint settings or keys."""
    for var in list(os.environ):
        if var.startswith(("OPENAI_", "SYNTHGEN_")):
            monkeypatch.delenv(var, raising=False)

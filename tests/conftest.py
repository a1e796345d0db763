"""Shared fixtures: paths to the real public seed data beside the repository."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _shared_data() -> Path | None:
    env = os.environ.get("SYNTHGEN_SHARED_DATA")
    candidates = [Path(env)] if env else []
    candidates.append(REPO.parent / "shared" / "data")
    for c in candidates:
        if (c / "self-instruct" / "seed_tasks.jsonl").is_file():
            return c
    return None


@pytest.fixture
def shared_data() -> Path:
    """../shared/data with the Self-Instruct seed sets; tests using it skip on a bare clone."""
    found = _shared_data()
    if found is None:
        pytest.skip("../shared/data (Self-Instruct seed sets) is not beside this checkout")
    return found

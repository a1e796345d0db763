"""Where the tests find the repository and the public seed data beside it."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def shared_data_dir() -> Path | None:
    """../shared/data (or $SYNTHGEN_SHARED_DATA) when it holds the Self-Instruct seed sets."""
    env = os.environ.get("SYNTHGEN_SHARED_DATA")
    candidates = [Path(env)] if env else []
    candidates.append(REPO.parent / "shared" / "data")
    for c in candidates:
        if (c / "self-instruct" / "seed_tasks.jsonl").is_file():
            return c
    return None

"""synthgen through LiteLLM's proxy: the pool's rate is used, not one replica's; records name
the upstream model that answered; a model the proxy does not know is a usage error at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support.litellm import MASTER_KEY, REPLICA_BURST, REPLICA_RPM, UPSTREAMS, Pool
from support.paths import REPO

pytestmark = [pytest.mark.proxy, pytest.mark.timeout(240)]

SEEDS = REPO / "seeds" / "support_triage.jsonl"
RECORDS = 70  # one request each: about 35 s at the pool's 120 a minute


def expand(pool: Pool, out: Path, model: str, n: int) -> tuple[int, dict[str, Any], str]:
    """`synthgen expand` through the proxy, as a user runs it; (exit code, summary, stderr)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "SYNTHGEN_"))}
    env["OPENAI_API_KEY"] = MASTER_KEY
    args = [
        sys.executable,
        "-m",
        "synthgen",
        "expand",
        str(SEEDS),
        "-n",
        str(n),
        "--per-call",
        "1",
        "-o",
        str(out),
        "--base-url",
        pool.base_url,
        "--model",
        model,
        "--state-dir",
        str(out.parent / "state"),
        "--json",
    ]
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=200)
    return done.returncode, json.loads(done.stdout) if done.stdout.strip() else {}, done.stderr


@pytest.fixture(scope="module")
def run(
    pool: Pool, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, Any], list[float]]:
    """One expand through the proxy; its records, summary, and the replicas' 200s' times."""
    pool.reset()
    out = tmp_path_factory.mktemp("through_proxy") / "raw.jsonl"
    code, summary, err = expand(pool, out, "pool", RECORDS)
    assert code == 0, err[-2000:]
    return out, summary, pool.accepted_times()


def test_the_pool_is_used_not_one_replica(run: tuple[Path, dict[str, Any], list[float]]) -> None:
    _, summary, times = run
    assert len(times) == RECORDS and summary["counts"]["written"] == RECORDS
    # What the pool allowed over the span of the run, as the replicas saw it: their burst
    # plus their rate. One replica's announced 60/min would allow about half.
    span = times[-1] - times[0]
    allowed = len(UPSTREAMS) * (REPLICA_BURST + REPLICA_RPM / 60 * span)
    print(f"pool use {len(times) / allowed:.3f}: {len(times)} answered in {span:.1f}s")
    assert len(times) / allowed >= 0.8, f"{len(times)} answered in {span:.1f}s"
    assert summary["capabilities"]["proxy"] == "litellm"


def test_records_name_the_upstream_model(run: tuple[Path, dict[str, Any], list[float]]) -> None:
    out, _, _ = run
    records = [json.loads(line) for line in out.read_text().splitlines()]
    gens = [r["provenance"]["generator"] for r in records]
    assert {g["model"] for g in gens} == {"pool"}  # what was asked for
    assert {g["resolved_model"] for g in gens} == {"pool"}  # LiteLLM puts its alias here
    assert {g["upstream_model"] for g in gens} == {f"openai/{u}" for u in UPSTREAMS}


def test_an_unknown_model_is_a_usage_error_within_a_few_requests(
    pool: Pool, tmp_path: Path
) -> None:
    code, summary, err = expand(pool, tmp_path / "raw.jsonl", "nosuch", 40)
    assert code == 2, err[-2000:]
    assert "does not serve model 'nosuch'" in err and "/models" in err
    assert summary["requests"]["sent"] <= 5 and summary["counts"]["ledgered"] == {}

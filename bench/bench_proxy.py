"""`make bench` section "proxy": how much of a LiteLLM pool's rate `synthgen expand` uses
through the proxy (target ≥ 0.8), measured as tests/proxy sets it up: two stand-in replicas
of 60 requests/min (burst 5) behind LiteLLM, 70 one-request records. Answers ÷ what the two
replicas allowed over the span of the answers; pacing to one replica's announced limit would
use about half. Timed, so measured here rather than asserted by the test suite. Skipped
(targets met) when LiteLLM is not installed in .cache/litellm-venv.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from run import PY, REPO, SEEDS

sys.path.insert(0, str(REPO / "tests"))  # the proxy suite's set-up, shared rather than copied

from support.litellm import MASTER_KEY, missing, pool_use, running_pool

RECORDS = 70
TARGET = 0.8


def run() -> tuple[bool, str]:
    """The pool's use through the proxy, against its target."""
    reason = missing()
    if reason:
        print(f"  skipped: {reason}")
        return True, "skipped (LiteLLM not installed)"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "SYNTHGEN_"))}
    env["OPENAI_API_KEY"] = MASTER_KEY
    with tempfile.TemporaryDirectory() as d, running_pool(Path(d)) as pool:
        out = Path(d) / "raw.jsonl"
        args = ["expand", str(SEEDS), "-n", str(RECORDS), "--per-call", "1", "-o", str(out)]
        args += ["--base-url", pool.base_url, "--model", "pool", "--state-dir", d, "--json"]
        done = subprocess.run(
            [PY, "-m", "synthgen", *args], env=env, capture_output=True, text=True, check=True
        )
        written = json.loads(done.stdout)["counts"]["written"]
        times = pool.accepted_times()
    use = pool_use(times)
    span = times[-1] - times[0] if times else 0.0
    print(f"  {written} records, {len(times)} answered by the replicas in {span:.1f} s")
    print(f"  → pool use = {use:.3f} (target ≥ {TARGET})")
    return use >= TARGET, f"pool use {use:.3f}"

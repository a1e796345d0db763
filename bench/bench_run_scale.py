"""Parts of `make bench` section "run" that need their own workloads: surplus generated at N,
and `run`'s peak memory and speed as the target grows.

- Surplus at N: a run with a judge (the "run" section's workload, a small target) counts the
  candidates it generated and never kept or dropped for a reason of their own: the ledger's
  `surplus` entries. Bound: what one window keeps in flight, concurrency × per_call.
- Scale: `synthgen run` to 5k and to 20k kept records, one subprocess per size, against a
  zero-latency stand-in (no judge, exact dedup, 20 records a call), so the figures measure
  synthgen. Peak RSS is the child's own ru_maxrss (os.wait4 on its pid); seconds per 1k are
  its wall time over the records kept, start-up included.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from run import PY, SEEDS, standin

SIZES = (5_000, 20_000)
TARGET_RSS_GROWTH = 1.5  # peak RSS at 20k ÷ at 5k
SCALE_CONFIG = """\
task: bench-scale
seeds: [{seeds}]
endpoint: {{model: standin-fake, concurrency: {concurrency}}}
generation: {{strategy: self-instruct, per_call: {per_call}, temperature: 1.0, seed: 7}}
filter: {{judge: {{enabled: false}}}}
dedup: {{method: exact}}
target: {{count: {count}}}
outputs: {{formats: []}}
"""


def measured_run(cfg: Path, url: str, d: Path) -> dict[str, Any]:
    """One `synthgen run` in its own process: its --json summary, wall seconds and peak RSS."""
    out = d / "summary.json"
    args = [PY, "-m", "synthgen", "run", str(cfg), "--base-url", url, "--json",
            "--state-dir", str(d / "state"), "--out", str(d / "run")]  # fmt: skip
    t0 = time.perf_counter()
    with out.open("w") as fh:
        proc = subprocess.Popen(args, stdout=fh, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 3):
        raise SystemExit(f"synthgen run failed ({proc.returncode})")
    summary: dict[str, Any] = json.loads(out.read_text())
    # ru_maxrss is in KiB on Linux, bytes on macOS
    scale = 1 if sys.platform == "darwin" else 1024
    summary["rss_mb"] = usage.ru_maxrss * scale / 2**20
    summary["wall_s"] = wall
    return summary


def scale() -> tuple[bool, str]:
    """Peak RSS and seconds per 1k records at each size, side by side."""
    rows = []
    for n in SIZES:
        with tempfile.TemporaryDirectory() as tmp, standin({}) as url:
            d = Path(tmp)
            cfg = d / "scale.yaml"
            cfg.write_text(SCALE_CONFIG.format(seeds=SEEDS, count=n, concurrency=16, per_call=20))
            s = measured_run(cfg, url, d)
        kept = s["counts"]["kept"]
        if kept != n:
            raise SystemExit(f"run kept {kept} of {n}")
        rows.append((n, s["rss_mb"], s["wall_s"] / n * 1000))
        print(f"  run to {n:>6,} kept: peak RSS {s['rss_mb']:6.0f} MB · "
              f"{s['wall_s']:6.1f} s ({rows[-1][2]:.2f} s per 1k records)")  # fmt: skip
    (n1, rss1, per1), (n2, rss2, per2) = rows
    growth, speed = rss2 / rss1, per2 / per1
    ok = growth <= TARGET_RSS_GROWTH and speed <= 1.25
    print(
        f"  → peak RSS {n2 // 1000}k ÷ {n1 // 1000}k = {growth:.2f} (target ≤ "
        f"{TARGET_RSS_GROWTH}); seconds per 1k {n2 // 1000}k ÷ {n1 // 1000}k = {speed:.2f} "
        f"(target: not growing, ≤ 1.25)" + ("" if ok else " — TARGET MISSED")
    )
    return ok, f"RSS {n2 // 1000}k÷{n1 // 1000}k {growth:.2f} · s/1k {speed:.2f}"


def surplus(summary: dict[str, Any], concurrency: int, per_call: int) -> tuple[bool, str]:
    """Candidates generated at N that were neither kept nor dropped for a reason of their own."""
    n = sum(summary["counts"].get("dropped", {}).get("surplus", {}).values())
    bound = concurrency * per_call
    ok = n <= bound
    print(
        f"  → surplus generated at N: {n} candidates (target ≤ concurrency × per_call = "
        f"{concurrency} × {per_call} = {bound})" + ("" if ok else " — TARGET MISSED")
    )
    return ok, f"surplus {n} (≤ {bound})"

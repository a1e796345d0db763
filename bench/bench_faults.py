"""`make bench` section "faults": wall time of `synthgen expand` against a stand-in that
answers in 25–75 ms and refuses at random (5% HTTP 429 with `retry-after-ms: 200`, 10% HTTP
500/502/503), ÷ the same run without faults (target ≤ 1.3): an isolated refusal must delay
only the request that met it. Beside it, the unannounced-limit row of section "expand" (a
limit learned from 429s alone must still be used ≥ 0.95, ≤ 10% of requests refused), since
telling random refusals from a limit must not blunt either.

400 requests (one record each), 16 in flight, each run its own stand-in process and state
dir; the faults are drawn per request in arrival order from a fixed seed. Median of 3.

The target row's prompts are independent of each other (`--machine-examples 0`), as a
Curator or distilabel job's are. A second row, not a target, keeps the default machine
examples: a job's prompt then shows records of the jobs 64 before it (so that prompts do
not depend on timing), and a request waiting out its retry-after holds back the planning of
the job 64 places later.
"""

from __future__ import annotations

import statistics
from typing import Any

from run import expand, rate_limit, standin, stats

REQUESTS = 400
TARGET_RATIO = 1.3
LATENCY = {"latency_s": 0.025, "latency_jitter_s": 0.05}
FAULTS = {"p_429": 0.05, "retry_after_s": 0.2, "p_500": 0.10}


def _wall(faults: dict[str, Any], seed: int, *extra: str) -> tuple[float, dict[str, Any]]:
    with standin({**LATENCY, **faults, "fault_seed": seed}) as url:
        s = expand(url, REQUESTS, "--per-call", "1", "--concurrency", "16", *extra)
        st = stats(url)
    if s["counts"]["written"] != REQUESTS:
        raise SystemExit(f"faults bench: {s['counts']['written']} of {REQUESTS} written")
    return float(s["wall_s"]), st


def _ratio(label: str, *extra: str) -> tuple[float, float, float]:
    """Median wall time with faults ÷ without, printed."""
    clean, faulty, by_status = [], [], {}
    for seed in (1, 2, 3):
        clean.append(_wall({}, seed, *extra)[0])
        wall, st = _wall(FAULTS, seed, *extra)
        faulty.append(wall)
        by_status = st["by_status"]
    c, f = statistics.median(clean), statistics.median(faulty)
    print(f"  {label}")
    runs = ", ".join(f"{x:.2f}" for x in clean)
    print(f"    without faults                       {c:.2f} s ({runs})")
    print(
        f"    5% 429 (retry-after 200 ms) + 10% 5xx {f:.2f} s "
        f"({', '.join(f'{x:.2f}' for x in faulty)}; last run's statuses {by_status})"
    )
    print(f"    → with faults ÷ without = {f / c:.3f}")
    return f / c, f, c


def run() -> tuple[bool, str]:
    """Wall time with random faults ÷ without, and the unannounced-limit row beside it."""
    print(f"random faults ({REQUESTS} requests, 16 in flight, 25–75 ms; median of 3)")
    ratio, f, c = _ratio(
        f"independent prompts (--machine-examples 0; target ≤ {TARGET_RATIO})",
        "--machine-examples",
        "0",
    )
    fed, _, _ = _ratio("with machine examples (the default 2; not a target)")
    util, refused = rate_limit(1200, 15, "no limit known (429 + retry-after)", {})
    ok = ratio <= TARGET_RATIO and util >= 0.95 and refused <= 0.10
    return ok, (
        f"faults ÷ clean {ratio:.3f} ({f:.2f} s ÷ {c:.2f} s; with machine examples {fed:.3f}) · "
        f"unannounced {util:.3f} ({refused:.1%} refused)"
    )

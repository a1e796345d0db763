"""`synthgen report` on 100k generated records, through the real CLI (target < 30 s).

The records are synthgen records with provenance (seed and machine parents, methods and
operators, judge verdicts), written to a temp dir; their texts mix a vocabulary so that the
diversity metrics do real work. With --html the plots are rendered too.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SEEDS = REPO / "seeds" / "support_triage.jsonl"
RECORDS = 100_000
TARGET_S = 30.0

_WORDS = [
    "account",
    "billing",
    "refund",
    "charge",
    "invoice",
    "login",
    "password",
    "reset",
    "error",
    "crash",
    "page",
    "app",
    "mobile",
    "desktop",
    "sync",
    "upload",
    "download",
    "slow",
    "timeout",
    "export",
    "import",
    "report",
    "dashboard",
    "team",
    "member",
    "admin",
    "permission",
    "plan",
    "upgrade",
    "downgrade",
    "cancel",
    "trial",
    "email",
    "notification",
    "settings",
    "api",
    "key",
    "webhook",
    "integration",
    "calendar",
    "file",
    "folder",
    "share",
    "link",
    "delete",
    "restore",
    "backup",
    "storage",
    "quota",
]
_OPENERS = ["Triage", "Classify", "Summarise", "Route", "Label", "Explain", "Write", "Draft"]


def make_records(n: int, seed_ids: list[str], rng: random.Random) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i in range(n):
        words = rng.choices(_WORDS, k=rng.randint(20, 120))
        output = " ".join(words).capitalize() + "."
        if rng.random() < 0.3:
            output = "- " + output.replace(" team ", "\n- team ")
        parents = [f"seed:{s}" for s in rng.sample(seed_ids, 3)]
        if out and rng.random() < 0.4:
            parents.append(out[rng.randrange(len(out))]["id"])
        score = rng.choice([2, 3, 3.5, 4, 4, 4.5, 5])
        out.append(
            {
                "id": f"sg_bench{i:08d}",
                "instruction": f"{rng.choice(_OPENERS)} this ticket about "
                + " ".join(rng.choices(_WORDS, k=rng.randint(4, 20))),
                "input": " ".join(rng.choices(_WORDS, k=rng.randint(0, 40))),
                "output": output,
                "meta": {"task": "support-triage"},
                "provenance": {
                    "run_id": "bench",
                    "created_at": "2026-01-01T00:00:00Z",
                    "synthgen_version": "0",
                    "config_sha256": "",
                    "method": "evol" if i % 3 == 0 else "self-instruct",
                    "operator": "deepen" if i % 3 == 0 else None,
                    "parents": parents,
                    "usage": {"prompt_tokens": 0, "completion_tokens": 0, "cost_usd": 0.0},
                    "judge": {
                        "models": ["bench"],
                        "score": score,
                        "scores": {},
                        "rationale": "bench",
                        "flags": [],
                        "rubric_sha256": "",
                        "threshold": 3.5,
                        "passed": score >= 3.5,
                    },
                },
            }
        )
    return out


def _timed(args: list[str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "synthgen", *args], capture_output=True, text=True, check=False
    )
    return time.perf_counter() - t0, done


def run() -> tuple[bool, str]:
    seed_ids = [json.loads(line)["id"] for line in SEEDS.read_text().splitlines() if line.strip()]
    with tempfile.TemporaryDirectory() as d:
        data = Path(d) / "data.jsonl"
        records = make_records(RECORDS, seed_ids, random.Random(7))
        data.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
        size_mb = data.stat().st_size / 1e6
        base = ["report", str(data), "--seeds", str(SEEDS)]
        t_json, j = _timed([*base, "--json"])
        t_html, h = _timed([*base, "--html", f"{d}/report.html"])
        if j.returncode != 0 or h.returncode != 0:
            raise SystemExit(f"report failed: {j.stderr[-1500:]}{h.stderr[-1500:]}")
        summary = json.loads(j.stdout)
        html_kb = (Path(d) / "report.html").stat().st_size / 1e3
    print(f"  {RECORDS} records ({size_mb:.0f} MB), seeds {SEEDS.name}")
    print(f"  report --json            {t_json:.1f} s (target < {TARGET_S:.0f} s)")
    print(f"  report --html            {t_html:.1f} s ({html_kb:.0f} KB self-contained)")
    print(f"  warnings: {[w['code'] for w in summary['warnings']]}")
    worst = max(t_json, t_html)
    return worst < TARGET_S, f"100k records: {t_json:.1f} s (--json), {t_html:.1f} s (--html)"


if __name__ == "__main__":
    ok, line = run()
    print(line, "· targets met" if ok else "· TARGET MISSED")

"""A run directory for `synthgen review` tests: judged records (some with planted HTML and
script), a ledger, a manifest with rounds, a seed file, and a grounded record."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from support.report_data import record, seed_file, varied_examples, write_jsonl

# Model output that would run if any page put it into the DOM as HTML.
PLANTED = (
    "<script>window.__pwned = 'script'</script>",
    '<img src="x" onerror="window.__pwned = \'img\'">',
    "<a href=\"javascript:window.__pwned = 'link'\">click me</a>",
)
SOURCE = "Refunds are issued within 14 days. Shipping to Norway takes five working days."


def planted(i: int) -> str:
    """A planted payload for record i (every record carries one)."""
    return PLANTED[i % len(PLANTED)]


def review_run(d: Path, n: int = 24, rounds: int = 3) -> Path:
    """A run dir `d/run` (data.jsonl, dropped.jsonl, manifest.json) and seeds `d/seeds.jsonl`.

    The judge passes even records (score 5) and fails odd ones (score 1); record 0 is
    grounded (its source chunk and an evidence quote); every record holds planted HTML.
    """
    run = d / "run"
    run.mkdir(parents=True)
    seeds, _ = seed_file(d / "seeds.jsonl", 12)
    rows = []
    for i, e in enumerate(varied_examples(n, seed=5)):
        ex = {**e, "output": f"{e['output']} {planted(i)}"}
        rows.append(record(i, ex, score=1 if i % 2 else 5))
    quote = "within 14 days"
    start = SOURCE.index(quote)
    rows[0]["provenance"]["source"] = {
        "document": "policy.md",
        "chunk": {"id": "policy.md#0", "span": [100, 100 + len(SOURCE)], "text": SOURCE},
    }
    rows[0]["provenance"]["evidence"] = [
        {"quote": quote, "span": [100 + start, 100 + start + len(quote)], "match": "exact"}
    ]
    write_jsonl(run / "data.jsonl", rows)
    drops = []
    for i, e in enumerate(varied_examples(8, seed=6), n):
        stage, reason = ("rules", "refusal") if i % 2 else ("dedup", "near_duplicate")
        drop = record(i, {**e, "instruction": e["instruction"] + " " + planted(i)})
        drop["dropped"] = {"stage": stage, "reason": reason, "detail": planted(i + 1)}
        drops.append(drop)
    write_jsonl(run / "dropped.jsonl", drops)
    manifest: dict[str, Any] = {
        "headline": f"{n}/{n} kept in {rounds} rounds",
        "config": {"seeds": [str(seeds)]},
        "warnings": [f"seed_skew: planted {planted(2)}"],
        "rounds": [
            {
                "index": k,
                "asked": 10 + k,
                "candidates": 10 + k,
                "kept": 8 - k,
                "dropped": {"rules": {"refusal": 2 + k}},
                "keep_rate": round((8 - k) / (10 + k), 4),
                "distinct_2": 0.6 - 0.05 * k,
            }
            for k in range(rounds)
        ],
    }
    (run / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return run

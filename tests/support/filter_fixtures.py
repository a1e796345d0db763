"""Inputs for the filter tests: synthgen records and plain alpaca files, written to tmp."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from synthgen.records import record_id


def synthgen_record(
    instruction: str,
    output: str,
    input: str = "",
    *,
    model: str = "gpt-4o-mini",
    finish_reason: str = "stop",
    task: str = "default",
) -> dict[str, Any]:
    return {
        "id": record_id(instruction, input, output),
        "instruction": instruction,
        "input": input,
        "output": output,
        "meta": {"task": task},
        "provenance": {
            "run_id": "run_test",
            "created_at": "2026-01-01T00:00:00Z",
            "synthgen_version": "0.1.0",
            "config_sha256": "",
            "method": "self-instruct",
            "parents": [],
            "generator": {
                "model": model,
                "resolved_model": model,
                "endpoint": "127.0.0.1:1",
                "params": {"temperature": 1.0},
                "finish_reason": finish_reason,
            },
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "cost_usd": 0.0},
        },
    }


def alpaca_rows(n: int, marker_every: int = 0, marker: str = "LOWQ") -> list[dict[str, str]]:
    """n distinct, rule-clean alpaca records; every `marker_every`-th output carries `marker`."""
    rows = []
    for i in range(n):
        out = f"The answer for case {i} is {i * 7 % 13}, because the steps add up that way."
        if marker_every and i % marker_every == 0:
            out += f" {marker}"
        rows.append(
            {
                "instruction": f"Explain how to solve practice problem number {i} step by step.",
                "input": "",
                "output": out,
            }
        )
    return rows


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def filter_args(inp: Path, out: Path, base_url: str, *extra: str) -> list[str]:
    return [
        "filter",
        str(inp),
        "-o",
        str(out),
        "--base-url",
        base_url,
        "--model",
        "standin-judge",
        "--state-dir",
        str(out.parent / ".synthgen"),
        *extra,
    ]


def counts_add_up(summary: dict[str, Any], ledger: list[dict[str, Any]], kept: int) -> None:
    """kept + every ledgered drop = input, in the summary and in the files."""
    c = summary["counts"]
    by_stage: dict[str, dict[str, int]] = {}
    for e in ledger:
        d = e["dropped"]
        stage = by_stage.setdefault(d["stage"], {})
        stage[d["reason"]] = stage.get(d["reason"], 0) + 1
    assert by_stage == c["dropped"], (by_stage, c["dropped"])
    assert c["kept"] == kept
    assert c["kept"] + c["dropped_total"] == c["input"]
    assert c["dropped_total"] == len(ledger)

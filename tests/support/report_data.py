"""Builders of constructed datasets for the report and audit tests (and a check that they are
real synthgen records)."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

VOCAB = [
    "river",
    "lamp",
    "orbit",
    "cedar",
    "violin",
    "harbor",
    "pepper",
    "glacier",
    "ticket",
    "marble",
    "lantern",
    "falcon",
    "copper",
    "meadow",
    "puzzle",
    "canyon",
    "velvet",
    "thunder",
    "bakery",
    "compass",
    "saddle",
    "pebble",
    "quartz",
    "willow",
    "tunnel",
    "garden",
    "rocket",
    "mirror",
    "walnut",
    "ember",
    "jacket",
    "island",
    "ladder",
    "mango",
    "needle",
    "ocean",
    "parrot",
    "quiver",
    "rabbit",
    "salmon",
    "tiger",
    "umbrella",
    "vessel",
    "wagon",
    "yogurt",
    "zebra",
    "anchor",
    "bridge",
    "candle",
    "desert",
    "engine",
    "forest",
    "guitar",
    "helmet",
    "igloo",
    "jungle",
    "kettle",
    "lemon",
    "magnet",
    "nectar",
    "oyster",
    "pillow",
]
# Pseudo-words widen the vocabulary so that varied text compresses like real prose (~2.5×).
SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "be", "da", "fu", "go", "pi", "ze"]
VOCAB += [a + b + c for a in SYLLABLES for b in SYLLABLES for c in SYLLABLES[:4]]
VERBS = [
    "Write",
    "Explain",
    "List",
    "Describe",
    "Compare",
    "Summarise",
    "Translate",
    "Suggest",
    "Classify",
    "Draft",
    "Outline",
    "Rank",
    "Plan",
    "Name",
    "Convert",
    "Identify",
    "Estimate",
    "Critique",
    "Rewrite",
    "Design",
    "Find",
    "Recommend",
    "Sketch",
]
BOILER_IN = "You are a helpful assistant. Complete the following task carefully and fully. Task: "
BOILER_OUT_HEAD = "Sure! Here is a detailed answer to your question. "
BOILER_OUT_TAIL = (
    " I hope this helps! Let me know if you have any other questions, and I will be happy to help."
)


def varied_examples(n: int, seed: int = 1) -> list[dict[str, str]]:
    """Texts drawn from a vocabulary with varied openers: diverse by construction."""
    rng = random.Random(seed)
    return [
        {
            "instruction": f"{rng.choice(VERBS)} "
            + " ".join(rng.sample(VOCAB, rng.randint(5, 12))),
            "input": "",
            "output": " ".join(rng.choices(VOCAB, k=rng.randint(12, 40))).capitalize() + ".",
        }
        for _ in range(n)
    ]


def wrapped(examples: list[dict[str, str]]) -> list[dict[str, str]]:
    """The same texts wrapped in fixed boilerplate: what a collapsing teacher produces."""
    return [
        {
            "instruction": BOILER_IN + e["instruction"],
            "input": e["input"],
            "output": BOILER_OUT_HEAD + e["output"] + BOILER_OUT_TAIL,
        }
        for e in examples
    ]


def record(
    i: int,
    ex: dict[str, str],
    *,
    parents: list[str] | None = None,
    method: str = "self-instruct",
    operator: str | None = None,
    score: float | None = None,
    threshold: float = 3.5,
    rid: str | None = None,
) -> dict[str, Any]:
    """A synthgen record with provenance (and a judge verdict when score is given)."""
    prov: dict[str, Any] = {
        "run_id": "test",
        "created_at": "2026-01-01T00:00:00Z",
        "synthgen_version": "0.1.0",
        "config_sha256": "",
        "method": method,
        "operator": operator,
        "parents": parents or [],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "cost_usd": 0.0},
    }
    if score is not None:
        prov["judge"] = {
            "models": ["judge-x"],
            "score": score,
            "scores": {"overall": score},
            "rationale": f"rationale {i}",
            "flags": [],
            "rubric_sha256": "0" * 64,
            "threshold": threshold,
            "passed": score >= threshold,
        }
    return {"id": rid or f"sg_test{i:06d}", **ex, "meta": {}, "provenance": prov}


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def seed_file(path: Path, n: int, seed: int = 9) -> tuple[Path, list[str]]:
    """n alpaca seeds with ids s01..; returns the path and the ids."""
    exs = varied_examples(n, seed)
    rows = [{"id": f"s{i:02d}", **e} for i, e in enumerate(exs, 1)]
    write_jsonl(path, rows)
    return path, [r["id"] for r in rows]

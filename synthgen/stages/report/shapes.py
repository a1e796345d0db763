"""The format of an output: is it JSON, SQL, code, a list, or prose? Measured against the seeds.

A task's seeds fix the shape of a good answer (support triage answers with a JSON object, a
text-to-SQL task with a query). A teacher that drifts off task often keeps the topic but drops
the shape, writing a friendly paragraph where the seeds answer with JSON; the length and
vocabulary measures barely move, but the data is no longer the task. `format_drift` warns.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping
from typing import Any

SHAPES = ("json_object", "json_array", "broken_json", "sql", "code", "list", "prose")

_FENCE = re.compile(r"\A```[\w+-]*[ \t]*\n(.*?)\n?```\s*\Z", re.S)
_SQL = re.compile(
    r"\A(?:select|with|insert|update|delete|create|alter|drop)\b.*\b"
    r"(?:from|into|set|table|view|index|as)\b",
    re.I | re.S,
)
_LIST_LINE = re.compile(r"^[ \t]*(?:[-*+•]|\d{1,2}[.)])[ \t]+\S")
SEED_SHAPE_MIN = 0.6  # a shape held by at least this share of the seeds is the task's format


def output_shape(text: str) -> str:
    """The shape of one output: one of SHAPES (a fenced block is judged by its contents)."""
    t = text.strip()
    fenced = _FENCE.match(t)
    if fenced:
        inner = fenced.group(1).strip()
        shape = output_shape(inner)
        return shape if shape in ("json_object", "json_array", "sql") else "code"
    if t.startswith(("{", "[")):
        try:
            value = json.loads(t)
        except ValueError:
            return "broken_json"
        return "json_object" if isinstance(value, dict) else "json_array"
    if _SQL.match(t) and not t.endswith("."):  # "Select the best answer from…." is prose
        return "sql"
    lines = [x for x in t.splitlines() if x.strip()]
    items = sum(bool(_LIST_LINE.match(x)) for x in lines)
    if items >= 2 and 2 * items > len(lines):  # most lines are items ("Steps:" may lead)
        return "list"
    return "prose"


def shape_shares(counts: Counter[str]) -> dict[str, float]:
    """Each shape's share of the outputs counted, in SHAPES order, shapes never seen left out."""
    n = sum(counts.values())
    return {s: counts[s] / n for s in SHAPES if counts[s]} if n else {}


def format_drift(data: Counter[str], seeds: Counter[str]) -> dict[str, Any] | None:
    """The seeds' dominant output shape and its share in the seeds and in the data.

    None when there is nothing to compare (no outputs on either side). `task_format` says
    whether that shape is the task's format (held by ≥ SEED_SHAPE_MIN of the seeds); a task
    whose seeds mix shapes has none, and format_drift stays silent for it.
    """
    s, d = shape_shares(seeds), shape_shares(data)
    if not s or not d:
        return None
    shape = max(s, key=lambda k: s[k])
    return {
        "shape": shape,
        "seeds": s[shape],
        "data": d.get(shape, 0.0),
        "task_format": s[shape] >= SEED_SHAPE_MIN,
        "data_shapes": d,
        "seed_shapes": s,
    }


def describe(shares: Mapping[str, float]) -> str:
    """'json_object 80% · prose 20%' (largest first)."""
    ranked = sorted(shares.items(), key=lambda kv: -kv[1])
    return " · ".join(f"{k.replace('_', ' ')} {v * 100:.0f}%" for k, v in ranked)

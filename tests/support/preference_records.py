"""Preference records and ledger entries built by hand to the contract in synthgen/records.py
(what `filter` writes from `expand --responses-per-instruction K`), checked against the models."""

from __future__ import annotations

from typing import Any

from synthgen.records import LedgerEntry, Record, record_id

USAGE = {"prompt_tokens": 0, "completion_tokens": 0, "cost_usd": 0.0}


def verdict(score: float, threshold: float = 3.0) -> dict[str, Any]:
    """A judge provenance block for one response."""
    return {
        "models": ["judge-x"],
        "score": score,
        "scores": {"overall": score},
        "rationale": f"scored {score:g}",
        "flags": [],
        "rubric_sha256": "0" * 64,
        "threshold": threshold,
        "passed": score >= threshold,
    }


def tie_break(between: tuple[int, int], consistent: bool = True) -> dict[str, Any]:
    """The pairwise check of a tied top score, asked in both orders."""
    a, b = between
    second = a if consistent else b
    return {
        "between": [a, b],
        "asked": [
            {"order": [a, b], "winner": a, "rationale": "first reads better"},
            {"order": [b, a], "winner": second, "rationale": "asked the other way round"},
        ],
        "consistent": consistent,
    }


def _provenance(i: int) -> dict[str, Any]:
    return {
        "run_id": "test",
        "created_at": "2026-01-01T00:00:00Z",
        "synthgen_version": "0.1.0",
        "config_sha256": "",
        "method": "self-instruct",
        "parents": [f"seed:s{i % 3}"],
        "usage": USAGE,
    }


def pair_record(
    i: int,
    responses: list[str],
    scores: list[float],
    *,
    instruction: str | None = None,
    input: str = "",
    chosen: int | None = None,
    rejected: int | None = None,
    tie: dict[str, Any] | None = None,
    min_margin: float = 1.0,
) -> dict[str, Any]:
    """A preference record: chosen defaults to the best score, rejected to the worst."""
    instruction = instruction or f"Explain topic {i} to a new colleague."
    c = max(range(len(scores)), key=lambda k: scores[k]) if chosen is None else chosen
    r = min(range(len(scores)), key=lambda k: scores[k]) if rejected is None else rejected
    verdicts = [verdict(s) for s in scores]
    prov = {
        **_provenance(i),
        "judge": verdicts[c],
        "preference": {
            "chosen": c,
            "rejected": r,
            "scores": scores,
            "margin": scores[c] - scores[r],
            "min_margin": min_margin,
            "tie_break": tie,
            "verdicts": verdicts,
        },
    }
    rec = {
        "id": record_id(instruction, input, responses[c]),
        "instruction": instruction,
        "input": input,
        "output": responses[c],
        "responses": [{"output": text, "generator": None, "usage": USAGE} for text in responses],
        "prompt": f"{instruction}\n\n{input}" if input else instruction,
        "chosen": responses[c],
        "rejected": responses[r],
        "meta": {},
        "provenance": prov,
    }
    Record.model_validate(rec)  # a real record, as synthgen reads it
    return rec


def inconsistent_entry(i: int, responses: list[str], scores: list[float]) -> dict[str, Any]:
    """A ledger entry of a pair whose tie break disagreed with itself when the order swapped."""
    instruction = f"Explain tied topic {i}."
    entry = {
        "id": f"drop_{i:032d}",
        "instruction": instruction,
        "input": "",
        "output": responses[0],
        "provenance": {
            **_provenance(i),
            "preference": {
                "chosen": None,
                "rejected": None,
                "scores": scores,
                "margin": None,
                "min_margin": 1.0,
                "tie_break": tie_break((0, 1), consistent=False),
                "verdicts": [verdict(s) for s in scores],
            },
        },
        "dropped": {"stage": "preference", "reason": "position_inconsistent", "detail": "0 vs 1"},
    }
    LedgerEntry.model_validate(entry)
    return entry


def dropped_entry(i: int, reason: str) -> dict[str, Any]:
    """A ledger entry of a pair dropped for another preference reason (margin, threshold)."""
    entry = {
        "id": f"drop_{i + 1000:032d}",
        "instruction": f"Explain dropped topic {i}.",
        "input": "",
        "output": "An answer.",
        "provenance": _provenance(i),
        "dropped": {"stage": "preference", "reason": reason, "detail": ""},
    }
    LedgerEntry.model_validate(entry)
    return entry


def words(n: int, word: str = "word") -> str:
    """A response of exactly n whitespace words."""
    return " ".join([word] * n)

"""The one counter `filter` and `run` keep: what became of every row or candidate, and what
the judge said, for summaries, round sizing and quality gates."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Tally:
    """What happened to every committed row (filter) or candidate (run):
    kept + sum(dropped) == input, always."""

    input: int = 0
    kept: int = 0
    dropped: dict[str, Counter[str]] = field(default_factory=dict)
    judged: int = 0
    passed: int = 0
    scores: list[float] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)
    spreads: list[float] = field(default_factory=list)
    flags: Counter[str] = field(default_factory=Counter)
    generators: Counter[str] = field(default_factory=Counter)
    structured: Counter[str] = field(default_factory=Counter)  # "model: path" of verdicts
    repaired: int = 0
    unprocessed: int = 0
    refused: int = 0  # rows whose judge request the endpoint refused
    pairs: int = 0  # rows with K responses, made into preference pairs (or ledgered)
    last_refusal: str | None = None  # what the endpoint answered, for the run's error

    def drop(self, stage: str, reason: str) -> None:
        """Count one dropped row under its stage and reason."""
        self.dropped.setdefault(stage, Counter())[reason] += 1

    def by_stage(self) -> dict[str, dict[str, int]]:
        """Drops by stage and reason, both sorted."""
        return {s: dict(sorted(c.items())) for s, c in sorted(self.dropped.items())}

    @property
    def keep_rate(self) -> float | None:
        """Kept ÷ what had its chance (run's surplus never did; filter has none)."""
        tried = self.input - sum(self.dropped.get("surplus", Counter()).values())
        return self.kept / tried if tried > 0 else None

    def counts(self) -> dict[str, Any]:
        """filter's summary counts: rows in, kept, dropped by stage and reason, keep rate."""
        dropped = self.by_stage()
        total = sum(sum(c.values()) for c in self.dropped.values())
        return {
            "input": self.input,
            "kept": self.kept,
            "dropped": dropped,
            "dropped_total": total,
            "unprocessed": self.unprocessed,
            "keep_rate": round(self.kept / self.input, 4) if self.input else None,
        }

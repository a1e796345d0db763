"""The duplicate rules, in one place: which stages a method has, what counts as a match, which
of several matches is ledgered, and how a drop is named and described. `synthgen dedup`
(decide.py, over a whole corpus) and `run`'s screen (incremental.py, one candidate at a
time) both apply these, so the same candidates get the same decisions and reasons."""

from __future__ import annotations

import math
from typing import Any

from synthgen.records import dedup_fields
from synthgen.seeds.dataset import Row

KEEP, EXACT, NEAR, SEMANTIC, AGAINST, CONTAM = 0, 1, 2, 3, 4, 5
REASONS = {
    EXACT: "exact_duplicate",
    NEAR: "near_duplicate",
    SEMANTIC: "semantic_duplicate",
    AGAINST: "against_match",
    CONTAM: "contaminated",
}
# When a record matches several things, the most serious reason is the one ledgered.
SEVERITY = {NEAR: 0, SEMANTIC: 0, EXACT: 0, AGAINST: 1, CONTAM: 2}
DEFAULT_THRESHOLD: dict[str, float] = {"minhash": 0.5, "rouge-l": 0.7, "semantic": 0.9}


# What each near measure is, as the ledger's detail says it.
_MEASURE = {"minhash": "word 2-gram Jaccard ≥", "rouge-l": "ROUGE-L F1 >", "semantic": "cosine ≥"}


def has_exact_stage(method: str) -> bool:
    """Whether exact copies are decided before the near stage. Not for rouge-l: Self-Instruct's
    filter has no exact stage, and rouge-l reproduces it as it is (a copy scores F1 1.0)."""
    return method != "rouge-l"


def near_reason(method: str) -> int:
    """The reason code of a near match found by `method` (before a reference's kind wins)."""
    return SEMANTIC if method == "semantic" else NEAR


def default_fields(method: str) -> tuple[str, ...]:
    """The fields compared when none are given: Self-Instruct's filter compares instructions."""
    return ("instruction",) if method == "rouge-l" else ("instruction", "input")


def threshold_of(method: str, threshold: float | None) -> float | None:
    """The threshold used: none for exact, else the one given or the method's default."""
    if method == "exact":
        return None
    return threshold if threshold is not None else DEFAULT_THRESHOLD.get(method)


def cutoff(method: str, threshold: float) -> float:
    """The least similarity that is a match: ROUGE-L must exceed its threshold (as
    Self-Instruct's `> 0.7` keeps a score of exactly 0.7), the others reach it. Every decider
    compares `similarity >= cutoff(...)`, so > and ≥ are decided here only."""
    return math.nextafter(threshold, math.inf) if method == "rouge-l" else threshold


def reason_of(ref_kind: int | None, fallback: int) -> int:
    """Why matching something drops a record: a reference's kind (against_match,
    contaminated; a seed is an `against` reference), else the stage's own reason."""
    return ref_kind if ref_kind is not None else fallback


def rank(reason: int, similarity: float) -> tuple[int, float]:
    """Of several matches the highest rank is ledgered: the most serious reason, then the
    most similar; ties go to the earliest (each decider scans in priority order)."""
    return SEVERITY[reason], similarity


def detail(
    reason: int, method: str, fields: tuple[str, ...], threshold: float | None, ngram: int = 13
) -> str:
    """The ledger's one-line detail of a dedup drop."""
    name = REASONS[reason]
    if name == "contaminated":
        return f"evaluation item: {ngram}-gram overlap, same text, or near-duplicate"
    if name == "exact_duplicate":
        return "same normalised " + "+".join(fields)
    return f"{_MEASURE.get(method, 'cosine ≥')} {threshold}"


def match_info(
    ref_id: str,
    similarity: float,
    source: str,
    line: int | None = None,
    source_id: str | None = None,
) -> dict[str, Any]:
    """The ledger's `match`: what was matched, how similar, where to find it (a reference's
    file line, and its own id when that differs from the id it is known by)."""
    out: dict[str, Any] = {"id": ref_id, "similarity": round(similarity, 4), "source": source}
    if line is not None:
        out["line"] = line
        if source_id is not None:
            out["source_id"] = source_id
    return out


def row_texts(row: Row) -> dict[str, str]:
    """The fields dedup compares. A conversation's are over all of it: every user turn as
    its instruction, its system prompt as its input, every assistant turn as its output."""
    if row.messages:
        users, system, answers = dedup_fields([(t["role"], t["content"]) for t in row.messages])
        return {"instruction": users, "input": system, "output": answers}
    return {"instruction": row.instruction, "input": row.input, "output": row.output}


def source_id(row: Row) -> str | None:
    """A reference row's own id, when it differs from the id dedup knows it by."""
    own = row.raw.get("id")
    return str(own) if own is not None and str(own) != row.id else None

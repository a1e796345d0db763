"""The judge seen from outside: its score distribution and its length bias (agreement with
the humans who audited the same records is the audit stage's)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from synthgen.stages.report.collect import Collected


def judge_block(c: Collected) -> dict[str, Any] | None:
    """Score histogram (scores rounded to halves), pass rate, Spearman(score, output words)."""
    from synthgen.text.stats import spearman

    if not c.scores and not c.judged_pass_known:
        return None
    scores = list(c.scores)
    hist = Counter(round(s * 2) / 2 for s in scores)
    return {
        "scored": len(scores),
        "mean_score": sum(scores) / len(scores) if scores else None,
        "pass_rate": c.passed / c.judged_pass_known if c.judged_pass_known else None,
        "histogram": [{"score": s, "count": hist[s]} for s in sorted(hist)],
        "length_spearman": spearman(scores, list(c.scored_output_words)),
    }

"""How often the judge agrees with the humans who audited the same records."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

DECIDED = ("accept", "reject")


def human_agreement(
    verdicts: Mapping[str, Mapping[str, Any]],
    judge_by_id: Mapping[str, tuple[float | None, bool | None]],
) -> dict[str, Any]:
    """Human reject rate (Wilson 95% interval), Cohen's kappa between judge pass/fail and
    human accept/reject, and the judge's pass rate on the records humans rejected.

    Skips count toward nothing; a record the judge never saw is left out of the kappa.
    """
    from synthgen.text.stats import cohen_kappa, wilson_interval

    decided = {i: v["verdict"] for i, v in verdicts.items() if v.get("verdict") in DECIDED}
    rejected = [i for i, v in decided.items() if v == "reject"]
    pairs = [
        (bool(judge_by_id[i][1]), v == "accept")
        for i, v in decided.items()
        if i in judge_by_id and judge_by_id[i][1] is not None
    ]
    judged_rejects = [judge_by_id[i][1] for i in rejected if i in judge_by_id]
    known = [p for p in judged_rejects if p is not None]
    low, high = wilson_interval(len(rejected), len(decided))
    return {
        "verdicts": len(verdicts),
        "decided": len(decided),
        "skipped": sum(1 for v in verdicts.values() if v.get("verdict") == "skip"),
        "rejected": len(rejected),
        "reject_rate": len(rejected) / len(decided) if decided else None,
        "reject_rate_ci95": [low, high],
        "paired_with_judge": len(pairs),
        "kappa": cohen_kappa([p[0] for p in pairs], [p[1] for p in pairs], labels=[True, False])
        if pairs
        else None,
        "judge_pass_rate_on_rejected": sum(known) / len(known) if known else None,
    }

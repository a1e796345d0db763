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


def between_reviewers(lines: Mapping[tuple[str, str], Mapping[str, Any]]) -> dict[str, Any]:
    """Inter-annotator agreement from each reviewer's latest verdict per record: for every
    pair of reviewers, Cohen's kappa and raw agreement over the records both decided."""
    from itertools import combinations

    from synthgen.text.stats import cohen_kappa

    by_auditor: dict[str, dict[str, str]] = {}
    for (auditor, rid), line in lines.items():
        if line.get("verdict") in DECIDED:
            by_auditor.setdefault(auditor, {})[rid] = line["verdict"]
    pairs = []
    for a, b in combinations(sorted(by_auditor), 2):
        shared = sorted(by_auditor[a].keys() & by_auditor[b].keys())
        x = [by_auditor[a][i] == "accept" for i in shared]
        y = [by_auditor[b][i] == "accept" for i in shared]
        pairs.append(
            {
                "a": a,
                "b": b,
                "shared": len(shared),
                "agreement": sum(p == q for p, q in zip(x, y, strict=True)) / len(shared)
                if shared
                else None,
                "kappa": cohen_kappa(x, y, labels=[True, False]) if shared else None,
            }
        )
    return {"reviewers": sorted(by_auditor), "pairs": pairs}

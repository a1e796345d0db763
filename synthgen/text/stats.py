"""Small statistics shared by the judge checks, the report and the audit (numpy only)."""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from typing import Literal

Weights = Literal["linear", "quadratic"] | None


def ranks(values: Sequence[float]) -> list[float]:
    """1-based ranks, ties sharing their average rank."""
    import numpy as np

    a = np.asarray(values, dtype=float)
    order = np.argsort(a, kind="mergesort")
    sorted_a = a[order]
    out = np.empty(len(a), dtype=float)
    n = len(a)
    # Walk runs of equal values: each run gets the mean of the ranks it spans.
    boundaries = np.flatnonzero(np.diff(sorted_a)) + 1
    starts = np.concatenate(([0], boundaries))
    ends = np.concatenate((boundaries, [n]))
    for i, j in zip(starts, ends, strict=True):
        out[order[i:j]] = (i + j + 1) / 2
    return [float(x) for x in out]


def spearman(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Spearman's rank correlation; None when undefined (fewer than 3 pairs, or a constant)."""
    import numpy as np

    if len(x) != len(y):
        raise ValueError("spearman: x and y differ in length")
    if len(x) < 3:
        return None
    rx, ry = np.asarray(ranks(x)), np.asarray(ranks(y))
    dx, dy = rx - rx.mean(), ry - ry.mean()
    denom = math.sqrt(float((dx * dx).sum()) * float((dy * dy).sum()))
    if denom == 0:
        return None
    return float((dx * dy).sum() / denom)


def cohen_kappa(
    a: Sequence[Hashable],
    b: Sequence[Hashable],
    *,
    weights: Weights = None,
    labels: Sequence[Hashable] | None = None,
) -> float | None:
    """Cohen's kappa between two raters; weighted kappa treats `labels` (or the sorted
    union of values) as ordered categories. None when undefined (no pairs, or chance
    agreement is total)."""
    import numpy as np

    if len(a) != len(b):
        raise ValueError("cohen_kappa: the two raters rated different numbers of items")
    if not a:
        return None
    cats = list(labels) if labels is not None else sorted({*a, *b}, key=_sort_key)
    index = {c: i for i, c in enumerate(cats)}
    k = len(cats)
    observed = np.zeros((k, k))
    for x, y in zip(a, b, strict=True):
        observed[index[x], index[y]] += 1
    observed /= observed.sum()
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0))
    i, j = np.indices((k, k))
    if weights is None:
        w = (i != j).astype(float)
    elif weights == "linear":
        w = np.abs(i - j) / max(1, k - 1)
    else:
        w = ((i - j) / max(1, k - 1)) ** 2
    disagree_expected = float((w * expected).sum())
    if disagree_expected == 0:
        return None
    return 1.0 - float((w * observed).sum()) / disagree_expected


def _sort_key(v: Hashable) -> tuple[int, float, str]:
    if isinstance(v, int | float) and not isinstance(v, bool):
        return (0, float(v), "")
    return (1, 0.0, str(v))


def wilson_interval(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for a proportion k/n (95% by default); (0, 1) when n is 0."""
    if n <= 0:
        return (0.0, 1.0)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))

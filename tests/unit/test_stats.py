"""The shared statistics against values worked out by hand or published."""

from __future__ import annotations

import random

import pytest

from synthgen.text.stats import cohen_kappa, ranks, spearman, wilson_interval


def test_ranks_average_ties() -> None:
    assert ranks([10, 20, 20, 5]) == [2.0, 3.5, 3.5, 1.0]


def test_spearman_monotone_reversed_and_undefined() -> None:
    xs = [1.0, 2.0, 3.0, 4.0, 5.0]
    assert spearman(xs, [x**3 for x in xs]) == pytest.approx(1.0)
    assert spearman(xs, [-x for x in xs]) == pytest.approx(-1.0)
    assert spearman(xs, [3.0] * 5) is None
    assert spearman([1.0, 2.0], [2.0, 1.0]) is None


def test_spearman_matches_pearson_of_ranks_with_ties() -> None:
    # Worked by hand: ranks x = 1,2.5,2.5,4 ; y = 1,2,3,4 → r = 0.9486833
    assert spearman([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(0.9486833, abs=1e-6)


def test_spearman_near_zero_on_independent_data() -> None:
    rng = random.Random(1)
    xs = [rng.random() for _ in range(2000)]
    ys = [rng.random() for _ in range(2000)]
    r = spearman(xs, ys)
    assert r is not None and abs(r) < 0.06


def test_cohen_kappa_unweighted_by_hand() -> None:
    # observed agreement 3/4, chance 1/2 → 0.5
    assert cohen_kappa([0, 1, 0, 1], [0, 1, 1, 1]) == pytest.approx(0.5)
    assert cohen_kappa(["a", "b"], ["a", "b"]) == pytest.approx(1.0)
    assert cohen_kappa([], []) is None
    assert cohen_kappa([1, 1], [1, 1]) is None


def test_quadratic_kappa_punishes_far_disagreement_more() -> None:
    assert cohen_kappa([1, 2, 3, 4, 5], [5, 4, 3, 2, 1], weights="quadratic") == pytest.approx(-1.0)
    near = cohen_kappa([1, 2, 3, 4, 5], [2, 2, 3, 4, 4], weights="quadratic")
    far = cohen_kappa([1, 2, 3, 4, 5], [5, 2, 3, 4, 1], weights="quadratic")
    assert near is not None and far is not None and near > 0.8 > far
    # labels fix the scale even when a category is never used
    lab = cohen_kappa([1, 5], [1, 5], weights="quadratic", labels=[1, 2, 3, 4, 5])
    assert lab == pytest.approx(1.0)


def test_wilson_interval_published_value() -> None:
    lo, hi = wilson_interval(5, 10)
    assert (lo, hi) == (pytest.approx(0.2366, abs=1e-4), pytest.approx(0.7634, abs=1e-4))
    assert wilson_interval(0, 0) == (0.0, 1.0)
    lo0, hi0 = wilson_interval(0, 50)
    assert lo0 == 0.0 and 0.05 < hi0 < 0.09

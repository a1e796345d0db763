"""What `run` decides between rounds: the next round's size, seed reweighting when lineage
skews, and which quality gate trips."""

from __future__ import annotations

from collections import Counter

import pytest

from synthgen.config import GatesConfig
from synthgen.pipeline.rounds import (
    MIN_RATE,
    OVERSHOOT,
    PRIOR_KEEP_RATE,
    RATE_FROM,
    check_gates,
    round_size,
    seed_weights,
)
from synthgen.records import Seed
from synthgen.stages.filter.tally import Tally


def totals(candidates: int, kept: int, **dropped: dict[str, int]) -> Tally:
    t = Tally(input=candidates, kept=kept)
    for stage, reasons in dropped.items():
        for reason, n in reasons.items():
            for _ in range(n):
                t.drop(stage, reason)
    return t


def test_round_size_uses_the_prior_until_enough_candidates_are_seen() -> None:
    early = totals(RATE_FROM - 1, 1)  # an observed 1/19 is not trusted yet
    assert PRIOR_KEEP_RATE == 0.5 and OVERSHOOT == 1.15
    assert round_size(10, early, 1) == 23  # ceil(10 / 0.5 * 1.15)
    seen = totals(100, 25)  # a quarter kept: four times the need, and a little more
    assert round_size(10, seen, 1) == 46  # ceil(10 / 0.25 * 1.15)


def test_surplus_does_not_count_against_the_keep_rate() -> None:
    t = totals(100, 20, surplus={"surplus": 60})  # 20 of the 40 that had their chance
    assert t.keep_rate == 0.5
    assert round_size(10, t, 1) == 23


def test_round_size_has_a_floor_on_the_rate_and_on_the_call() -> None:
    dire = totals(1000, 1)  # 0.1% kept: sized as if 2% were
    assert MIN_RATE == 0.02
    assert round_size(1, dire, 1) == 58  # ceil(1 / 0.02 * 1.15)
    assert round_size(1, totals(100, 100), 8) == 8  # never fewer than one call's worth


def seeds(n: int) -> list[Seed]:
    return [Seed(id=f"s{i}", instruction=f"instruction {i}", output=f"out {i}") for i in range(n)]


def test_seed_weights_lean_toward_under_used_seeds_once_lineage_skews() -> None:
    ss = seeds(10)
    skewed = Counter({"seed:s0": 20, "seed:s1": 10, "seed:s2": 5, "seed:s3": 1})
    found = seed_weights(ss, skewed)
    assert found is not None
    weights, share = found
    assert share == pytest.approx(35 / 36)
    assert weights[0] == pytest.approx(1 / 21) and weights[9] == 1.0
    assert weights == sorted(weights)  # the least used weigh the most


def test_seed_weights_leave_an_even_or_thin_lineage_alone() -> None:
    ss = seeds(10)
    assert seed_weights(ss, Counter({s.ref: 3 for s in ss})) is None  # even
    assert seed_weights(ss, Counter({"seed:s0": 29})) is None  # too few records to say
    few = seeds(3)
    assert seed_weights(few, Counter({"seed:s0": 100})) is None  # three seeds are all top 3


def test_no_gate_trips_before_min_candidates_except_at_the_end() -> None:
    g = GatesConfig(min_keep_rate=0.5, min_candidates=50)
    t = totals(40, 4)
    assert check_gates(g, t, final=False) is None
    trip = check_gates(g, t, final=True)
    assert trip is not None and (trip.gate, trip.threshold, trip.measured) == (
        "min_keep_rate",
        0.5,
        0.1,
    )


def test_each_gate_trips_on_its_own_measure() -> None:
    dups = totals(100, 60, dedup={"near_duplicate": 30})
    trip = check_gates(GatesConfig(max_duplicate_rate=0.2), dups, final=False)
    assert trip is not None and (trip.gate, trip.measured) == ("max_duplicate_rate", 0.3)

    scored = totals(100, 60)
    scored.scores.extend([2.0, 3.0, 4.0])
    trip = check_gates(GatesConfig(min_mean_score=3.5), scored, final=False)
    assert trip is not None and (trip.gate, trip.measured) == ("min_mean_score", 3.0)

    biased = totals(100, 60)
    biased.scores.extend(float(s) for s in range(1, 11))
    biased.lengths.extend(range(100, 1100, 100))  # longer, always better
    trip = check_gates(GatesConfig(max_length_bias=0.3), biased, final=False)
    assert trip is not None and (trip.gate, trip.measured) == ("max_length_bias", 1.0)
    few = totals(100, 60)
    few.scores.extend([1.0, 2.0])
    few.lengths.extend([1, 2])
    assert check_gates(GatesConfig(max_length_bias=0.3), few, final=True) is None  # < 10


def test_the_first_gate_past_its_threshold_is_the_one_named() -> None:
    t = totals(100, 10, dedup={"exact_duplicate": 50})
    g = GatesConfig(min_keep_rate=0.5, max_duplicate_rate=0.2)
    trip = check_gates(g, t, final=False)
    assert trip is not None and trip.gate == "min_keep_rate"
    assert check_gates(GatesConfig(min_keep_rate=0.05, max_duplicate_rate=0.6), t, False) is None

"""What `run` decides between rounds: the next round's size, seed reweighting when lineage
skews, and which quality gate trips."""

from __future__ import annotations

from collections import Counter

import pytest

from synthgen.config import GatesConfig
from synthgen.pipeline.rounds import (
    FLOOR_AFTER,
    PRIOR_KEEP_RATE,
    RATE_FROM,
    below_floor,
    check_gates,
    floor_error,
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
    assert PRIOR_KEEP_RATE == 0.5
    # calls of 4 while the expected keeps of those taken (× 0.5) fall short of 5: three
    assert round_size(5, early, 4, 8) == 12
    seen = totals(100, 25)  # a quarter kept: 5 calls of 4 are expected to keep 5
    assert round_size(5, seen, 4, 8) == 20


def test_the_first_round_asks_what_concurrency_keeps_busy_not_a_prior_sized_batch() -> None:
    # 1000 to keep at the prior 0.5 would be 2000 candidates; a round asks one window
    assert round_size(1000, Tally(), 4, 8) == 32


def test_surplus_does_not_count_against_the_keep_rate() -> None:
    t = totals(100, 20, surplus={"surplus": 60})  # 20 of the 40 that had their chance
    assert t.keep_rate == 0.5
    assert round_size(5, t, 1, 100) == 10


def test_round_size_is_one_call_at_least_and_one_window_at_most() -> None:
    assert round_size(1, totals(100, 100), 8, 4) == 8  # never fewer than one call's worth
    nothing = totals(1000, 0)  # nothing kept: the window, never a floor-sized round
    assert round_size(1, nothing, 5, 4) == 20


def test_the_floor_trips_only_without_a_keep_rate_gate_and_after_enough_candidates() -> None:
    t = totals(FLOOR_AFTER, 2, judge={"margin_too_small": 150, "position_inconsistent": 48})
    trip = below_floor(GatesConfig(), t)
    assert trip is not None and trip.gate == "keep_rate_floor" and trip.measured == 0.01
    assert below_floor(GatesConfig(), totals(FLOOR_AFTER - 1, 0)) is None
    assert below_floor(GatesConfig(min_keep_rate=0.0), t) is None  # the user's gate rules
    assert below_floor(GatesConfig(), totals(FLOOR_AFTER, 4)) is None  # 2%: at the floor
    error = floor_error(t)
    assert "judge/margin_too_small 150, judge/position_inconsistent 48" in error.message
    assert "filter.judge.threshold" in error.hint and "min_margin" in error.hint
    assert error.exit_code == 3


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

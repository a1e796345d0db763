"""Diversity, drift and trait metrics on plain texts, against hand-computed values."""

from __future__ import annotations

import json
import math
import zlib
from collections import Counter
from pathlib import Path

import pytest
from support.report_data import varied_examples, wrapped

from synthgen.stages.report.metrics import (
    budget_tokens,
    compression_ratio,
    distinct_n,
    entropy,
    js_divergence,
    mean_pairwise_rouge_l,
    opener,
    quantiles,
    tokens,
    vocabulary_overlap,
)
from synthgen.stages.report.traits import TRAIT_NAMES, TraitCounter, trait_hits, trait_ratio


def texts(exs: list[dict[str, str]]) -> list[str]:
    return [f"{e['instruction']}\n{e['input']}\n{e['output']}" for e in exs]


def test_tokens_and_opener() -> None:
    assert tokens("Hello, World! it's 42") == ["hello", "world", "it", "s", "42"]
    assert opener("  **Write** a poem") == "write"
    assert opener("¿Qué es?") == "qué"
    assert opener("...") == ""


def test_distinct_n_by_hand() -> None:
    seqs = [["a", "b", "a", "b"], ["a", "b"]]
    assert distinct_n(seqs, 1) == 2 / 6
    assert distinct_n(seqs, 2) == 2 / 4  # (a,b) (b,a) (a,b) | (a,b)
    assert distinct_n(seqs, 3) == 2 / 2  # n-grams never cross records
    assert distinct_n([["a"]], 2) is None


def test_budget_is_exact_seeded_and_size_fair() -> None:
    corpus = texts(varied_examples(400))
    cut = budget_tokens(corpus, 1000, seed=0)
    assert sum(map(len, cut)) == 1000
    assert cut == budget_tokens(corpus, 1000, seed=0)
    assert cut != budget_tokens(corpus, 1000, seed=1)
    # Same source, 4× the records: on a fixed budget distinct-1 barely moves, while on all
    # tokens it falls to a quarter; the budget is what makes sets of different sizes compare.
    small, big = corpus[:100], corpus
    fixed = [distinct_n(budget_tokens(c, 1500, 0), 1) for c in (small, big)]
    raw = [distinct_n([tokens(t) for t in c], 1) for c in (small, big)]
    assert fixed[0] is not None and fixed[1] is not None and raw[0] and raw[1]
    assert abs(fixed[0] - fixed[1]) < 0.02
    assert raw[1] < raw[0] / 3


def test_compression_ratio_definition() -> None:
    one = ["the same sentence again"] * 1
    raw = b"the same sentence again\n"
    assert compression_ratio(one, 10_000, 0) == pytest.approx(len(raw) / len(zlib.compress(raw, 9)))
    repetitive = ["the same sentence again"] * 200
    rep, var = (
        compression_ratio(repetitive, 10_000, 0),
        compression_ratio(texts(varied_examples(200)), 10_000, 0),
    )
    assert rep is not None and var is not None and rep > 3 * var
    assert compression_ratio([""], 100, 0) is None


def test_rouge_l_by_hand() -> None:
    # LCS("a b c d", "a c d e") = 3 → F1 = 2·3 / (4 + 4)
    assert mean_pairwise_rouge_l(["a b c d", "a c d e"], 10, 0) == pytest.approx(0.75)
    assert mean_pairwise_rouge_l(["x y", "x y", "x y"], 10, 0) == pytest.approx(1.0)
    assert mean_pairwise_rouge_l(["a b", "c d"], 10, 0) == 0.0
    assert mean_pairwise_rouge_l(["only one"], 10, 0) is None


def test_entropy_and_js_by_hand() -> None:
    assert entropy(Counter("abcd")) == pytest.approx(2.0)
    assert entropy(Counter("aaaa")) == 0.0
    assert entropy(Counter()) == 0.0
    assert js_divergence(Counter("aabb"), Counter("ab")) == pytest.approx(0.0)
    assert js_divergence(Counter("aa"), Counter("bb")) == pytest.approx(1.0)
    # p = (1, 0), q = (½, ½): JS = ½·KL(p‖m) + ½·KL(q‖m), m = (¾, ¼)
    expected = 0.5 * math.log2(1 / 0.75) + 0.5 * (
        0.5 * math.log2(0.5 / 0.75) + 0.5 * math.log2(0.5 / 0.25)
    )
    assert js_divergence(Counter("a"), Counter("ab")) == pytest.approx(expected)
    assert js_divergence(Counter(), Counter("a")) is None


def test_vocabulary_overlap_and_quantiles() -> None:
    a = texts(varied_examples(50))
    assert vocabulary_overlap(a, a, 1000, 0) == pytest.approx(1.0)
    assert vocabulary_overlap(a, ["zzz qqq"] * 5, 1000, 0) == 0.0
    q = quantiles([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    assert (q["min"], q["p50"], q["max"], q["mean"]) == (1.0, 5.5, 10.0, 5.5)
    assert q["p10"] == pytest.approx(1.9) and q["p90"] == pytest.approx(9.1)
    assert quantiles([]) == {}


@pytest.mark.parametrize(
    ("trait", "yes", "no"),
    [
        ("hedging", "It's important to note that prices may vary.", "Prices are fixed at $3."),
        ("refusal", "I'm sorry, but I can't help with that.", "I can help: here it is."),
        ("as_an_ai", "As an AI language model, I have no opinions.", "As a chef, I like salt."),
        ("apology", "Sorry for the confusion earlier.", "No confusion at all."),
        ("markdown_list", "Steps:\n1. Open\n2. Close", "It costs 1.5 dollars - or so."),
        ("markdown_heading", "## Summary\nText", "Item #3 is ready."),
        ("exclamation", "Great question!", "if x != y: return"),
    ],
)
def test_each_trait(trait: str, yes: str, no: str) -> None:
    i = TRAIT_NAMES.index(trait)
    assert trait_hits(yes)[i], yes
    assert not trait_hits(no)[i], no


def test_trait_rates_and_ratio() -> None:
    c = TraitCounter().add_all(["Great!", "Fine.", "Wow! Sorry.", "ok"])
    assert c.rates()["exclamation"] == 0.5 and c.rates()["apology"] == 0.25
    assert TraitCounter().rates()["hedging"] == 0.0
    assert trait_ratio(0.1, 0.0) == pytest.approx(0.12 / 0.02)
    assert trait_ratio(0.3, 0.3) == pytest.approx(1.0)


def _collapse_numbers(exs: list[dict[str, str]]) -> tuple[float, float, float]:
    t = texts(exs)
    rouge = mean_pairwise_rouge_l(t, 300, 0)
    comp = compression_ratio(t, 100_000, 0)
    assert rouge is not None and comp is not None
    return comp, rouge, entropy(Counter(opener(e["instruction"]) for e in exs))


def test_boilerplate_collapse_moves_every_measure() -> None:
    varied = varied_examples(120)
    comp_v, rouge_v, ent_v = _collapse_numbers(varied)
    comp_w, rouge_w, ent_w = _collapse_numbers(wrapped(varied))
    assert comp_w > comp_v * 1.3
    assert rouge_w > rouge_v + 0.2
    assert ent_w < ent_v and ent_w == 0.0


def test_boilerplate_collapse_on_self_instruct(shared_data: Path) -> None:
    lines = (shared_data / "self-instruct" / "seed_tasks.jsonl").read_text().splitlines()
    varied = [
        {
            "instruction": t["instruction"],
            "input": t["instances"][0]["input"],
            "output": t["instances"][0]["output"],
        }
        for t in map(json.loads, lines)
    ]
    comp_v, rouge_v, ent_v = _collapse_numbers(varied)
    comp_w, rouge_w, ent_w = _collapse_numbers(wrapped(varied))
    assert rouge_v < 0.15 and ent_v > 5  # real human instructions are varied
    assert comp_w > comp_v and rouge_w > 3 * rouge_v and ent_w < 1


def test_reservoir_sample_is_seeded_and_uniform(monkeypatch: pytest.MonkeyPatch) -> None:
    from synthgen.stages.report import collect as metrics_collect
    from synthgen.stages.report.collect import collect_texts

    monkeypatch.setattr(metrics_collect, "SAMPLE_SIZE", 10)
    items = [(f"r{i}", f"instruction {i}", "", "output") for i in range(500)]
    ids = [s.id for s in collect_texts(items, seed=3).sample]
    assert len(ids) == len(set(ids)) == 10 and ids == [s.id for s in collect_texts(items, 3).sample]
    # Over many seeds, early and late records are drawn alike (100 of each expected).
    first = last = 0
    for seed in range(100):
        picked = {int(s.id[1:]) for s in collect_texts(items, seed).sample}
        first += sum(1 for i in picked if i < 50)
        last += sum(1 for i in picked if i >= 450)
    assert 60 < first < 140 and 60 < last < 140


def test_chance_top_share_draws_distinct_roots() -> None:
    from synthgen.stages.report.drift import chance_top_share

    # Every record names all of a few seeds, or both of two: each seed gets exactly its share
    # (drawn with replacement, some seed would get more).
    assert chance_top_share([(5, 1.0)] * 10, 5, 1, 0) == pytest.approx(0.2)
    assert chance_top_share([(2, 3.0)] * 50, 2, 1, 0) == pytest.approx(0.5)
    # One root each over many seeds: chance puts more than the fair share on the top seeds,
    # less so as records per seed grow; the same seed gives the same number.
    few = chance_top_share([(1, 1.0)] * 100, 100, 10, 0)
    many = chance_top_share([(1, 1.0)] * 5000, 100, 10, 0)
    assert few is not None and many is not None and few > many > 0.1
    assert few == chance_top_share([(1, 1.0)] * 100, 100, 10, 0)
    assert chance_top_share([], 10, 1, 0) is None

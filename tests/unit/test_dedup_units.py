"""Dedup building blocks against brute force: normalisation, banding, the incremental
MinHash index, the prefix-filtered ROUGE-L index, n-gram contamination."""

from __future__ import annotations

import random

import pytest
from support.dedup_corpus import greedy_truth, planted_texts

from synthgen.stages.dedup.decontam import NgramIndex
from synthgen.stages.dedup.index import NearDupIndex, candidate_probability, choose_banding
from synthgen.stages.dedup.rouge import RougeIndex, min_overlap
from synthgen.text.normalise import (
    jaccard,
    normalise,
    rouge_l_f,
    rouge_tokens,
    word_shingles,
    words,
)


def test_normalise_folds_unicode_case_punctuation_and_space() -> None:
    assert normalise("  Ｈｅｌｌｏ,\tWORLD!!  ") == "hello world"
    assert normalise("Straße — ﬁne_tune") == "strasse fine tune"
    assert normalise("end.Next") == "end next"
    assert words("") == []


def test_rouge_tokens_follow_rouge_score_default_tokenizer() -> None:
    assert rouge_tokens("Don't stop-me, NOW! café 3.5") == [
        "don",
        "t",
        "stop",
        "me",
        "now",
        "caf",
        "3",
        "5",
    ]


def test_banding_reaches_the_recall_target_at_the_threshold() -> None:
    assert choose_banding(0.7) == (32, 4)  # the example: 32 bands × 4 rows
    for t in (0.3, 0.5, 0.7, 0.8, 0.9):
        b, r = choose_banding(t)
        assert b * r <= 128
        assert candidate_probability(t, b, r) >= 0.995
        # and it is the most selective such banding
        assert r == 128 or candidate_probability(t, 128 // (r + 1), r + 1) < 0.995


def _lcs(a: list[str], b: list[str]) -> int:
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def test_incremental_index_matches_exact_greedy_truth() -> None:
    texts = list(planted_texts(1500, seed=3))
    truth = greedy_truth(texts, 0.5)
    index = NearDupIndex(0.5)
    exact: dict[str, int] = {}
    dropped: dict[int, tuple[str, int]] = {}
    for i, text in enumerate(texts):
        norm = normalise(text)
        if norm in exact:
            dropped[i] = ("exact", exact[norm])
            continue
        sh = word_shingles(norm.split())
        hit = index.check_and_add(i, sh)
        if hit is None:
            exact[norm] = i
            continue
        j, sim = hit
        assert isinstance(j, int)
        # every drop is verified: the exact Jaccard really is above the threshold
        assert sim == pytest.approx(jaccard(sh, word_shingles(words(texts[j])))) and sim >= 0.5
        dropped[i] = ("near", j)
    tp = len(dropped.keys() & truth.keys())
    assert len(truth) > 300
    assert tp / len(truth) >= 0.97  # recall
    assert tp / len(dropped) >= 0.99  # precision


def test_rouge_index_finds_every_pair_above_threshold() -> None:
    rng = random.Random(5)
    vocab = [f"w{i}" for i in range(40)] + ["the", "a", "of"] * 10
    texts = []
    for _ in range(300):
        if texts and rng.random() < 0.4:
            base = list(rng.choice(texts))
            for _ in range(rng.randint(0, 4)):
                base[rng.randrange(len(base))] = rng.choice(vocab)
            texts.append(base)
        else:
            texts.append([rng.choice(vocab) for _ in range(rng.randint(1, 25))])
    for t in (0.5, 0.7):
        index = RougeIndex(t)
        for i, toks in enumerate(texts):
            found = dict(index.query(toks))
            brute = {}
            for j in range(len(index)):
                other = texts[j]
                f = rouge_l_f(_lcs(toks, other), len(toks), len(other))
                if f > t:
                    brute[j] = f
            assert found.keys() == brute.keys()
            for j, f in brute.items():
                assert found[j] == f
            index.add(i, toks)


def test_min_overlap_is_a_sound_bound() -> None:
    for t in (0.3, 0.5, 0.7, 0.9):
        for a in range(1, 40):
            for b in range(1, 40):
                for lcs in range(0, min(a, b) + 1):
                    if rouge_l_f(lcs, a, b) > t:
                        assert lcs >= min_overlap(a, t) and lcs >= min_overlap(b, t)


def test_ngram_index_reports_eval_item_and_share() -> None:
    eval_words = words(
        "Question: what is the capital city of France and when was it founded exactly"
    )
    idx = NgramIndex(13)
    idx.add("eval-1", eval_words)
    leak = words(
        "Please answer: what is the capital city of France and when was it founded exactly? Thanks"
    )
    hit = idx.match(leak)
    assert hit is not None and hit[0] == "eval-1" and 0 < hit[1] <= 1
    assert idx.match(words("what is the capital city of Spain and when was it founded")) is None
    assert idx.match(words("too short")) is None


def test_ascii_fast_path_follows_the_unicode_rule() -> None:
    import re
    import unicodedata

    punct = re.compile(r"[^\w\s]|_")
    rng = random.Random(1)
    for _ in range(5000):
        text = "".join(chr(rng.randrange(0, 128)) for _ in range(rng.randrange(0, 30)))
        expected = punct.sub(" ", unicodedata.normalize("NFKC", text).casefold()).split()
        assert words(text) == expected, repr(text)

"""Semantic dedup at scale: the IVF path against the exact all-pairs path, on planted
embeddings (no model needed)."""

from __future__ import annotations

import numpy as np
import pytest

import synthgen.stages.dedup.ivf as ivf
from synthgen.stages.dedup.corpus import KEEP, SEMANTIC, Corpus, Decisions
from synthgen.stages.dedup.decide import decide

T = 0.9


def planted(n: int, seed: int = 0, dim: int = 48) -> tuple[list[str], dict[str, np.ndarray]]:
    """n texts with unit vectors: a shared mean direction (as real embeddings have), and
    about a third of the records near copies of an earlier one (cosine ~0.8–0.99)."""
    rng = np.random.default_rng(seed)
    mean = rng.normal(size=dim)
    mean /= np.linalg.norm(mean)
    vecs: list[np.ndarray] = []
    for _ in range(n):
        if vecs and rng.random() < 0.35:
            src = vecs[int(rng.integers(len(vecs)))]
            v = src + rng.normal(size=dim) * rng.uniform(0.01, 0.09)
        else:
            v = 1.2 * mean + rng.normal(size=dim) / np.sqrt(dim)
        vecs.append(v / np.linalg.norm(v))
    texts = [f"text {i}" for i in range(n)]
    return texts, dict(zip(texts, vecs, strict=True))


def run(texts: list[str], table: dict[str, np.ndarray], index: str) -> Decisions:
    corpus = Corpus("semantic", T)
    for i, text in enumerate(texts):
        corpus.add(str(i), text)
    return decide(corpus, T, lambda ts: np.stack([table[t] for t in ts]), index)


def check_verified(texts: list[str], table: dict[str, np.ndarray], d: Decisions) -> None:
    """Every drop names a kept, earlier record whose cosine (of the stored float16 vectors)
    reaches the threshold: precision is exact by construction."""
    for i in np.nonzero(d.status == SEMANTIC)[0].tolist():
        m = int(d.match[i])
        assert m < i and d.status[m] == KEEP
        a, b = (table[texts[k]].astype(np.float16).astype(np.float32) for k in (i, m))
        assert float(a @ b) >= T - 1e-6
        assert float(a @ b) == pytest.approx(float(d.sim[i]), abs=1e-5)


def test_ivf_agrees_with_exact_on_a_planted_corpus() -> None:
    texts, table = planted(4000)
    exact = run(texts, table, "exact")
    approx = run(texts, table, "ivf")
    truth = set(np.nonzero(exact.status == SEMANTIC)[0].tolist())
    got = set(np.nonzero(approx.status == SEMANTIC)[0].tolist())
    assert len(truth) > 500
    assert len(truth & got) / len(truth) >= 0.97
    check_verified(texts, table, approx)
    # the kept records' nearest neighbour is a real one, with its exact cosine
    kept = np.nonzero(approx.status == KEEP)[0]
    near = approx.nearest[kept]
    assert (near >= 0).mean() > 0.9


def test_a_pair_just_under_the_threshold_is_never_dropped() -> None:
    texts, table = planted(1500, seed=1)
    rng = np.random.default_rng(5)
    a = table[texts[0]]
    for k, cos in enumerate((T - 0.004, T + 0.004)):
        # a unit vector at exactly `cos` from the first record, appended at the end
        r = rng.normal(size=len(a))
        r -= (r @ a) * a
        r /= np.linalg.norm(r)
        text = f"planted {k}"
        texts.append(text)
        table[text] = cos * a + np.sqrt(1 - cos**2) * r
    d = run(texts, table, "ivf")
    below, above = len(texts) - 2, len(texts) - 1
    assert d.status[0] == KEEP
    # just under: kept, though the index compares it (it is its nearest, seen and verified)
    assert d.status[below] == KEEP and d.nearest_sim[below] == pytest.approx(T - 0.004, abs=1e-3)
    assert d.status[above] == SEMANTIC and d.match[above] == 0
    check_verified(texts, table, d)


def test_ivf_is_deterministic_and_the_match_cap_changes_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    texts, table = planted(3000, seed=2)
    first, second = run(texts, table, "ivf"), run(texts, table, "ivf")
    for name in ("status", "match", "sim", "nearest", "nearest_sim"):
        np.testing.assert_array_equal(getattr(first, name), getattr(second, name))
    # With one listed match per query and cell, dropped matches force rescans of the cells;
    # the decisions stay the same.
    monkeypatch.setattr(ivf, "CAP", 1)
    capped = run(texts, table, "ivf")
    np.testing.assert_array_equal(first.status, capped.status)
    np.testing.assert_array_equal(first.match, capped.match)


def test_auto_uses_the_index_from_the_size_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    texts, table = planted(600, seed=3)
    built: list[int] = []
    real = ivf.IVFIndex.__init__

    def spy(self: ivf.IVFIndex, x: np.ndarray, *a: object, **k: object) -> None:
        built.append(len(x))
        real(self, x, *a, **k)  # type: ignore[arg-type]

    monkeypatch.setattr(ivf.IVFIndex, "__init__", spy)
    run(texts, table, "auto")
    assert built == []
    monkeypatch.setattr(ivf, "APPROX_FROM", 500)
    run(texts, table, "auto")
    assert built == [600]

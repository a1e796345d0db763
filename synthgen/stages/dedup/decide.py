"""Duplicate decisions over a whole dataset: exact, then near (MinHash-LSH, ROUGE-L or
semantic), over the items of a `Corpus` in priority order."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from synthgen.stages.dedup.corpus import EMPTY, EXACT, KEEP, Corpus, Decisions
from synthgen.stages.dedup.policy import has_exact_stage

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt


def processing_order(corpus: Corpus) -> npt.NDArray[np.int64]:
    """Items in priority order: references first, then inputs by the keep policy's key, ties
    in input order (the key is already negated for "best" and "longest")."""
    import numpy as np

    prio = np.frombuffer(corpus.priority, dtype=np.float64) if len(corpus) else np.zeros(0)
    return np.argsort(prio, kind="stable").astype(np.int64)


def decide_exact(corpus: Corpus, order: npt.NDArray[np.int64], d: Decisions) -> None:
    """Same normalised text as an earlier item in priority order: exact_duplicate (or the
    reference's reason)."""
    import numpy as np

    if not len(corpus):
        return
    keys = np.frombuffer(corpus.exact, dtype=np.int64)[order]
    # A text with no words (empty fields, punctuation only) has nothing to compare: it is kept
    live = (d.status[order] == KEEP) & (keys != EMPTY)
    pos = np.nonzero(live)[0]
    if not len(pos):
        return
    by_key = pos[np.argsort(keys[pos], kind="stable")]
    sk = keys[by_key]
    first = np.ones(len(by_key), bool)
    first[1:] = sk[1:] != sk[:-1]
    rep_pos = by_key[np.maximum.accumulate(np.where(first, np.arange(len(by_key)), 0))]
    for p, r in zip(by_key[~first].tolist(), rep_pos[~first].tolist(), strict=True):
        item, rep = int(order[p]), int(order[r])
        if item < corpus.refs:
            continue
        d.drop(item, corpus.reason_of_match(rep, EXACT), rep, 1.0)
        d.saw(item, rep, 1.0)


def inherit_fates(corpus: Corpus, d: Decisions) -> None:
    """An exact copy of a record that a later stage dropped shares that record's fate: the
    same reason, match and similarity (its text is the same), never "a copy of a dropped
    record". So a restyled copy of an evaluation leak is counted as contaminated too."""
    import numpy as np

    copies = np.nonzero(d.status == EXACT)[0]
    reps = d.match[copies]
    moved = (reps >= corpus.refs) & (d.status[reps] != KEEP)
    for item, rep in zip(copies[moved].tolist(), reps[moved].tolist(), strict=True):
        d.drop(item, int(d.status[rep]), int(d.match[rep]), float(d.sim[rep]))


def apply_pre(corpus: Corpus, d: Decisions) -> None:
    """Start from the drops decided before the near stage (contamination found while reading)."""
    for item, (reason, match, sim) in corpus.pre.items():
        d.drop(item, reason, match, sim)


def decide(
    corpus: Corpus, threshold: float | None, embed: Any = None, semantic_index: str = "auto"
) -> Decisions:
    """Every item's fate; references stay KEEP and are never written. `semantic_index`:
    auto | exact | ivf (see dedup_semantic.decide_semantic)."""
    d = Decisions.empty(len(corpus))
    apply_pre(corpus, d)
    order = processing_order(corpus)
    if has_exact_stage(corpus.method):
        decide_exact(corpus, order, d)
    if corpus.method == "minhash":
        from synthgen.stages.dedup.minhash import decide_minhash

        assert threshold is not None
        decide_minhash(corpus, order, d, threshold)
    elif corpus.method == "rouge-l":
        from synthgen.stages.dedup.rouge import decide_rouge

        assert threshold is not None
        decide_rouge(corpus, order, d, threshold)
    elif corpus.method == "semantic":
        from synthgen.stages.dedup.semantic import decide_semantic

        assert threshold is not None
        decide_semantic(corpus, order, d, threshold, embed, semantic_index)  # type: ignore[arg-type]
    inherit_fates(corpus, d)
    return d

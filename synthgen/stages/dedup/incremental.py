"""`synthgen dedup`'s decisions one candidate at a time, for `run`'s screen.

The same rules (policy.py), measures and indexes as decide() over a corpus in input order
with keep=first, in the same order: a 13-gram evaluation leak first, then an exact copy (not
for rouge-l), then the near stage. A candidate that passes is kept, and later candidates are
compared with it. References (evaluation sets, `against` sets, a run's seeds) are never
dropped; each is added once, before the candidates.
"""

from __future__ import annotations

import hashlib
from collections.abc import Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from synthgen.stages.dedup.corpus import CONTAM, EXACT, REASONS
from synthgen.stages.dedup.decontam import NGRAM, NgramIndex
from synthgen.stages.dedup.policy import (
    cutoff,
    default_fields,
    detail,
    has_exact_stage,
    match_info,
    near_reason,
    rank,
    reason_of,
    threshold_of,
)
from synthgen.text.normalise import TEXT_FIELDS, joined, normalise, rouge_tokens
from synthgen.text.normalise import words as words_of

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from synthgen.stages.dedup.semantic import Embedder


@dataclass(frozen=True)
class Ref:
    """Something a candidate may match: a reference (its kind, the file and line it was read
    from, its own id) or a kept candidate (kind None)."""

    id: str
    kind: int | None
    source: str
    line: int | None = None
    source_id: str | None = None


@dataclass(frozen=True)
class Decision:
    """Why dedup drops a candidate: its reason, the ledger's detail, and what it matched."""

    reason: str
    detail: str
    match: dict[str, Any]


class IncrementalDedup:
    """Keep-or-drop for one candidate at a time, as `synthgen dedup` decides it."""

    def __init__(
        self,
        method: str,
        threshold: float | None = None,
        fields: tuple[str, ...] | None = None,
        *,
        source: str = "this run",
        ngram: int = NGRAM,
        embed: Embedder | None = None,
    ) -> None:
        self.method = method
        self.fields = fields or default_fields(method)
        self.threshold = threshold_of(method, threshold)
        self.source = source  # where a kept candidate is said to be, in a match
        self.ngram = ngram
        self._exact = has_exact_stage(method)
        self._kept: list[Ref] = []  # near-index slot → what it is
        # keyed by a digest of the normalised text, not the text: memory per record stays small
        self._by_key: dict[bytes, Ref] = {}
        # A copy of a candidate the near stage dropped shares its fate (decide's inherit_fates)
        self._fates: dict[bytes, Decision] = {}
        self._leaks = NgramIndex(ngram)
        self._leak_refs: list[Ref] = []
        self._near: Any = None
        if method != "exact":
            assert self.threshold is not None
            self._near = _near_index(method, self.threshold, embed)

    def add_reference(self, ref: Ref, texts: dict[str, str]) -> None:
        """A reference: an evaluation item (kind CONTAM: its n-grams too) or an `against`
        record; `texts` holds instruction, input and output."""
        if ref.kind == CONTAM:
            self._leaks.add(len(self._leak_refs), words_of(joined(texts, TEXT_FIELDS)))
            self._leak_refs.append(ref)
        text = joined(texts, self.fields)
        feats = self._near.features(text) if self._near is not None else None
        key = normalise(text)
        if key:
            self._keep(ref, _digest(key), feats)

    def check(self, rec_id: str, texts: dict[str, str]) -> Decision | None:
        """Why this candidate is dropped, or None: it is kept, and later ones may match it."""
        text = joined(texts, self.fields)
        # computed for every candidate, as dedup reads every record (minhash's word ids)
        feats = self._near.features(text) if self._near is not None else None
        hit = self._leaks.match(words_of(joined(texts, TEXT_FIELDS)))
        if hit is not None:
            leak, share = hit
            return self._decision(CONTAM, self._leak_refs[leak], share)  # type: ignore[call-overload]
        norm = normalise(text)
        if not norm:
            return None  # a text with no words is nobody's duplicate
        key = _digest(norm)
        if self._exact:
            ref = self._by_key.get(key)
            if ref is not None:
                return self._decision(reason_of(ref.kind, EXACT), ref, 1.0)
            if key in self._fates:
                return self._fates[key]
        found: list[tuple[int, float]] = self._near.query(feats) if self._near is not None else []
        if not found:
            self._keep(Ref(rec_id, None, self.source), key, feats)
            return None
        fallback = near_reason(self.method)
        # found is most similar first, ties earliest first; max keeps the first of equal rank
        slot, sim = max(found, key=lambda c: rank(reason_of(self._kept[c[0]].kind, fallback), c[1]))
        ref = self._kept[slot]
        decision = self._decision(reason_of(ref.kind, fallback), ref, sim)
        if self._exact:
            self._fates[key] = decision
        self._near.add(None, feats)  # compared, not kept (minhash's bands count it)
        return decision

    def _decision(self, reason: int, ref: Ref, sim: float) -> Decision:
        why = detail(reason, self.method, self.fields, self.threshold, self.ngram)
        return Decision(
            REASONS[reason], why, match_info(ref.id, sim, ref.source, ref.line, ref.source_id)
        )

    def _keep(self, ref: Ref, key: bytes, feats: Any) -> None:
        held = self._by_key.get(key)
        # of references with the same text the most serious is matched (eval sets come first)
        if held is None or _severity(ref) > _severity(held):
            self._by_key[key] = ref
        if self._near is not None:
            self._near.add(len(self._kept), feats)
        self._kept.append(ref)


def _digest(norm: str) -> bytes:
    """The exact stage's key of a normalised text (128 bits: a collision is out of reach)."""
    return hashlib.blake2b(norm.encode(), digest_size=16).digest()


def _severity(ref: Ref) -> tuple[int, float]:
    return rank(reason_of(ref.kind, EXACT), 0.0)


def _near_index(method: str, threshold: float, embed: Embedder | None) -> Any:
    if method == "minhash":
        return _Bands(threshold)
    if method == "rouge-l":
        return _Rouge(threshold)
    return _Vectors(threshold, embed)


class _Bands:
    """dedup's MinHash bands (bands.py: the same word ids, hashes and bucket scan) over the
    texts compared so far; each candidate verified by the exact Jaccard of the shingles."""

    def __init__(self, threshold: float) -> None:
        from synthgen.stages.dedup.bands import band_params
        from synthgen.stages.dedup.index import choose_banding

        self.bands, self.rows = choose_banding(threshold)
        self.params = band_params(self.bands, self.rows)
        self.least = cutoff("minhash", threshold)
        self.vocab: dict[str, int] = {}
        # per band: bucket → the texts in it, in order (a kept one's slot, else -1), as the
        # batch path's sorted band columns hold every text that reached the near stage
        self.buckets: list[dict[int, list[int]]] = [{} for _ in range(self.bands)]
        self.sets: dict[int, set[int]] = {}

    def features(self, text: str) -> tuple[list[int], set[int]] | None:
        """The text's band hashes and shingle set; word ids are assigned on first sight."""
        import numpy as np

        from synthgen.stages.dedup.bands import band_chunk
        from synthgen.stages.dedup.corpus import word_ids
        from synthgen.stages.dedup.minhash import shingle_set

        ids = word_ids(self.vocab, words_of(text))
        if not ids:
            return None
        offsets = np.asarray([0, len(ids)], np.int64)
        words = np.asarray(ids, np.uint32)
        hashes = band_chunk(words, offsets, self.bands, self.rows, self.params)[0]
        return hashes.tolist(), shingle_set(ids)

    def add(self, slot: int | None, feats: tuple[list[int], set[int]] | None) -> None:
        """Put a compared text in its buckets; a kept one (with a slot) can be matched."""
        if feats is None:
            return
        for bucket, h in zip(self.buckets, feats[0], strict=True):
            bucket.setdefault(h, []).append(-1 if slot is None else slot)
        if slot is not None:
            self.sets[slot] = feats[1]

    def query(self, feats: tuple[list[int], set[int]] | None) -> list[tuple[int, float]]:
        """Kept slots whose shingle Jaccard reaches the threshold, most similar first."""
        from synthgen.stages.dedup.bands import MAX_BUCKET_SCAN

        if feats is None:
            return []
        seen: set[int] = set()
        for bucket, h in zip(self.buckets, feats[0], strict=True):
            seen.update(bucket.get(h, ())[-MAX_BUCKET_SCAN:])
        mine = feats[1]
        found = []
        for slot in sorted(seen - {-1}):
            other = self.sets[slot]
            inter = len(mine & other)
            sim = inter / (len(mine) + len(other) - inter)
            if sim >= self.least:
                found.append((slot, sim))
        return sorted(found, key=lambda c: -c[1])


class _Rouge:
    """rouge tokens behind dedup's RougeIndex (Self-Instruct's exact ROUGE-L F1)."""

    def __init__(self, threshold: float) -> None:
        from synthgen.stages.dedup.rouge import RougeIndex

        self.index = RougeIndex(threshold)

    def features(self, text: str) -> list[str]:
        """The text's rouge tokens."""
        return rouge_tokens(text)

    def add(self, slot: int | None, tokens: list[str]) -> None:
        """Keep a text under `slot`, so later queries can match it."""
        if slot is not None:
            self.index.add(slot, tokens)

    def query(self, tokens: list[str]) -> list[tuple[Hashable, float]]:
        """Kept slots whose ROUGE-L F1 exceeds the threshold, most similar first."""
        return self.index.query(tokens)


class _Vectors:
    """Kept texts' unit vectors (float16, as embed_all stores them); cosine with each one."""

    def __init__(self, threshold: float, embed: Embedder | None) -> None:
        from synthgen.stages.dedup.semantic import wordllama_embedder

        self.embed = embed or wordllama_embedder()
        self.least = cutoff("semantic", threshold)
        self.n = 0
        self.vecs: npt.NDArray[np.float32] | None = None
        self._last: tuple[str, npt.NDArray[np.float32]] | None = None

    def features(self, text: str) -> str:
        """The text itself: it is embedded only if it reaches the near stage (as in dedup)."""
        return text

    def _vector(self, text: str) -> npt.NDArray[np.float32]:
        import numpy as np

        from synthgen.stages.dedup.semantic import embed_all

        if self._last is None or self._last[0] != text:
            self._last = text, embed_all([text], self.embed)[0].astype(np.float32)
        return self._last[1]

    def add(self, slot: int | None, text: str) -> None:
        """Keep a text's vector under `slot` (slots are consecutive)."""
        import numpy as np

        if slot is None:
            return
        v = self._vector(text)
        if self.vecs is None:
            self.vecs = np.empty((64, len(v)), np.float32)
        elif self.n == len(self.vecs):
            self.vecs = np.concatenate([self.vecs, np.empty_like(self.vecs)])
        self.vecs[self.n] = v
        self.n += 1

    def query(self, text: str) -> list[tuple[int, float]]:
        """Kept slots whose cosine reaches the threshold, most similar first."""
        import numpy as np

        if self.vecs is None:
            return []
        sims = self.vecs[: self.n] @ self._vector(text)
        hits = np.nonzero(sims >= self.least)[0].tolist()
        return sorted(((s, float(sims[s])) for s in hits), key=lambda c: -c[1])

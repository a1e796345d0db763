"""Semantic duplicates: cosine similarity of sentence embeddings, greedy leader clustering.

Embeddings come from wordllama (its weights ship inside the wheel; loaded from the package
directory with downloads disabled, so no network is touched) or from the endpoint's
/v1/embeddings (answers cached in the state directory). Records are compared with the kept
ones in blocks (one matrix product per block), which is exact but quadratic: fine to ~100k
records; use minhash beyond that.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from synthgen.errors import EndpointError, UsageError
from synthgen.stages.dedup.corpus import EMPTY, KEEP, SEMANTIC, SEVERITY, Corpus, Decisions
from synthgen.stages.dedup.policy import cutoff, rank

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

Embedder = Callable[[list[str]], "npt.NDArray[np.float32]"]
SemanticIndex = Literal["auto", "exact", "ivf"]
BLOCK = 1024
EMBED_BATCH = 4096


def wordllama_embedder() -> Embedder:
    """The local embedder, from wordllama's bundled weights: nothing is downloaded."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # belt and braces: never reach the Hub
    try:
        import wordllama
        from wordllama import WordLlama
    except ImportError:
        raise UsageError(
            "--method semantic needs wordllama, which is not installed",
            hint="pip install 'synthgen[semantic]', or use --embeddings endpoint",
        ) from None
    try:
        model = WordLlama.load(cache_dir=Path(wordllama.__file__).parent, disable_download=True)
    except (FileNotFoundError, OSError) as e:
        raise UsageError(
            f"wordllama's bundled weights were not found ({e}); synthgen does not download them",
            hint="reinstall wordllama from a wheel that ships its weights, or use "
            "--embeddings endpoint",
        ) from None

    def embed(texts: list[str]) -> npt.NDArray[np.float32]:
        import numpy as np

        out = model.embed(texts, norm=True, batch_size=512)
        return np.asarray(out, dtype=np.float32)

    return embed


def endpoint_embedder(model: str | None, base_url: str | None, state_dir: Path) -> Embedder:
    """The endpoint's /v1/embeddings through the openai SDK; answers go to the response cache
    in the state directory, so a rerun sends nothing it has already been answered."""
    import openai

    from synthgen.core.store import open_state
    from synthgen.llm.cache import ResponseCache, request_key
    from synthgen.llm.types import endpoint_host
    from synthgen.records import canonical_json, sha256_hex

    if not model:
        raise UsageError(
            "--embeddings endpoint needs --model", hint="e.g. --model text-embedding-3-small"
        )
    url = base_url or os.environ.get("OPENAI_BASE_URL")
    host = endpoint_host(url)
    cache = ResponseCache(open_state(state_dir))
    client = openai.OpenAI(
        base_url=url, api_key=os.environ.get("OPENAI_API_KEY") or "not-needed", max_retries=3
    )

    def batch(texts: list[str]) -> list[list[float]]:
        req = {"endpoint": "embeddings", "model": model, "input": texts}
        key = request_key(host, sha256_hex(canonical_json(req)), 0)
        hit = cache.get(key)
        if hit is not None:
            vecs: list[list[float]] = hit["embeddings"]
            return vecs
        try:
            resp = client.embeddings.create(model=model, input=texts)
        except openai.APIError as e:
            raise EndpointError(f"embeddings request failed: {e}") from None
        vecs = [list(d.embedding) for d in sorted(resp.data, key=lambda d: d.index)]
        tokens = resp.usage.prompt_tokens if resp.usage else 0
        cache.put(
            key,
            endpoint=host,
            model=model,
            body={"embeddings": vecs},
            prompt_tokens=tokens,
            completion_tokens=0,
            cost_usd=0.0,
        )
        return vecs

    def embed(texts: list[str]) -> npt.NDArray[np.float32]:
        import numpy as np

        vecs: list[list[float]] = []
        for s in range(0, len(texts), 256):
            vecs.extend(batch(texts[s : s + 256]))
        m = np.asarray(vecs, dtype=np.float32).reshape(len(texts), -1)
        norms = np.linalg.norm(m, axis=1, keepdims=True)
        return (m / np.where(norms == 0, 1, norms)).astype(np.float32)

    return embed


def make_embedder(kind: str, model: str | None, base_url: str | None, state_dir: Path) -> Embedder:
    """The embedder `--embeddings` asks for: the endpoint's, else the local wordllama one."""
    if kind == "endpoint":
        return endpoint_embedder(model, base_url, state_dir)
    return wordllama_embedder()


def embed_all(texts: list[str], embed: Embedder) -> npt.NDArray[np.float16]:
    """Unit vectors of the texts, stored as float16: half the memory (1M × 256 dims = 512 MB),
    and cosines move by about 1e-4 (at most 1e-3). Both paths compare these same vectors."""
    import numpy as np

    out: npt.NDArray[np.float16] | None = None
    for s in range(0, len(texts), EMBED_BATCH):
        vecs = embed(texts[s : s + EMBED_BATCH])
        if out is None:
            out = np.empty((len(texts), vecs.shape[1]), np.float16)
        out[s : s + len(vecs)] = vecs
    assert out is not None
    return out


def decide_semantic(
    corpus: Corpus,
    order: npt.NDArray[np.int64],
    d: Decisions,
    threshold: float,
    embed: Embedder | None,
    index: SemanticIndex = "auto",
) -> None:
    """Greedy in priority order: dropped when cosine ≥ threshold with a kept record or a
    reference (ties to references win, as everywhere). `index`: "exact" compares each record
    with every kept one; "ivf" only with those in its nearest cells (dedup_ivf), each pair
    still decided by its exact cosine; "auto" is "ivf" from APPROX_FROM records."""
    import numpy as np

    from synthgen.stages.dedup.ivf import APPROX_FROM

    if embed is None:
        embed = wordllama_embedder()
    # A text with no words is nobody's duplicate, and is not sent to be embedded (an empty
    # string makes wordllama's vector NaN, and endpoints reject it).
    alive = [
        i
        for i in order.tolist()
        if (i < corpus.refs or d.status[i] == KEEP) and corpus.exact[i] != EMPTY
    ]
    if not alive:
        return
    x = embed_all([corpus.texts[i] for i in alive], embed)
    items = np.asarray(alive, np.int64)
    if index == "ivf" or (index == "auto" and len(alive) >= APPROX_FROM):
        _decide_ivf(corpus, items, x, d, threshold)
    else:
        _decide_exact(corpus, items, x, d, threshold)


def _decide_exact(
    corpus: Corpus,
    items: npt.NDArray[np.int64],
    x: npt.NDArray[np.float16],
    d: Decisions,
    threshold: float,
) -> None:
    """Each record against every kept one, a block of BLOCK records at a time (quadratic)."""
    import numpy as np

    alive = items.tolist()
    least = cutoff("semantic", threshold)
    kept_items: list[int] = []
    kept = np.zeros((len(alive), x.shape[1]), np.float32)
    for s in range(0, len(alive), BLOCK):
        block = alive[s : s + BLOCK]
        vecs = x[s : s + BLOCK].astype(np.float32)
        base = len(kept_items)
        prev = vecs @ kept[:base].T
        inner = vecs @ vecs.T
        in_block: list[int] = []  # positions in this block of the records kept so far
        for j, item in enumerate(block):
            sims = np.concatenate([prev[j], inner[j, in_block]])

            if len(sims) and item >= corpus.refs:
                ks = [int(np.argmax(sims)), *np.nonzero(sims >= least)[0].tolist()]
                found = [
                    (kept_items[k] if k < base else block[in_block[k - base]], float(sims[k]))
                    for k in ks
                ]
                _settle(corpus, d, item, found[0], found[1:])
            if item < corpus.refs or d.status[item] == KEEP:
                kept[len(kept_items)] = vecs[j]
                kept_items.append(item)
                in_block.append(j)


def _decide_ivf(
    corpus: Corpus,
    items: npt.NDArray[np.int64],
    x: npt.NDArray[np.float16],
    d: Decisions,
    threshold: float,
) -> None:
    """Greedy over the index's verified matches: a record is dropped when one of its matches
    (cosine ≥ threshold) was kept; the most serious such match is the one ledgered."""
    import numpy as np

    from synthgen.stages.dedup.ivf import IVFIndex

    n = len(items)
    refs = int((items < corpus.refs).sum())  # references lead the priority order
    index = IVFIndex(x)
    cand = index.candidates(threshold, first_query=refs)
    sev = np.zeros(n, np.int8)
    for p in range(refs):
        sev[p] = SEVERITY[corpus.kinds[int(items[p])]]
    kept = np.ones(n, bool)
    match = np.full(n, -1, np.int64)
    match_sim = np.zeros(n, np.float32)
    overflow = cand.overflow

    def settle(q: int, best: tuple[int, float, int] | None) -> None:
        if overflow[q]:  # some matches were not listed: compare with all kept ones again
            pool, sims = index.rescan(q, kept)
            for m, s in zip(pool.tolist(), sims.tolist(), strict=True):
                if s >= threshold and (best is None or (sev[m], s) > best[:2]):
                    best = (int(sev[m]), s, m)
        if best is not None:
            kept[q] = False
            match[q], match_sim[q] = best[2], best[1]

    cur, best = -1, None
    for q, m, s in zip(cand.q.tolist(), cand.m.tolist(), cand.sim.tolist(), strict=True):
        if q != cur:
            if cur >= 0:
                settle(cur, best)
            cur, best = q, None
        if kept[m] and (best is None or (sev[m], s) > best[:2]):
            best = (int(sev[m]), s, m)
    if cur >= 0:
        settle(cur, best)

    for p in np.nonzero(~kept)[0].tolist():
        m_item = int(items[match[p]])
        d.drop(int(items[p]), corpus.reason_of_match(m_item, SEMANTIC), m_item, float(match_sim[p]))
    # provenance.dedup: the closest kept record among those compared (the match if dropped)
    q = np.arange(refs, n)
    dropped = ~kept[q]
    near = match[q]
    near_sim = np.where(dropped, match_sim[q], -np.inf).astype(np.float32)
    seen, seen_sim = cand.best[q], cand.best_sim[q]
    closer = (seen >= 0) & (seen_sim > near_sim)
    closer[closer] = kept[seen[closer]]
    near[closer], near_sim[closer] = seen[closer], seen_sim[closer]
    show = dropped | closer
    saw_many(d, items[q[show]], items[near[show]], near_sim[show])


def saw_many(
    d: Decisions,
    a: npt.NDArray[np.int64],
    b: npt.NDArray[np.int64],
    sim: npt.NDArray[np.float32],
) -> None:
    """Decisions.saw for many pairs at once: each side keeps its most similar other side."""
    import numpy as np

    x = np.concatenate([a, b])
    y = np.concatenate([b, a])
    s = np.concatenate([sim, sim]).astype(np.float32)
    if not len(x):
        return
    o = np.lexsort((-s, x))  # per x, most similar first (ties: first given)
    x, y, s = x[o], y[o], s[o]
    first = np.ones(len(x), bool)
    first[1:] = x[1:] != x[:-1]
    x, y, s = x[first], y[first], s[first]
    cur = d.nearest_sim[x]
    better = np.isnan(cur) | (s > cur)
    d.nearest[x[better]] = y[better]
    d.nearest_sim[x[better]] = s[better]


def _settle(
    corpus: Corpus,
    d: Decisions,
    item: int,
    nearest: tuple[int, float],
    hits: list[tuple[int, float]],
) -> None:
    d.saw(item, *nearest)
    if hits:
        match, sim = max(hits, key=lambda c: rank(corpus.reason_of_match(c[0], SEMANTIC), c[1]))
        d.drop(item, corpus.reason_of_match(match, SEMANTIC), match, sim)

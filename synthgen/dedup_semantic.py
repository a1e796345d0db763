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
from typing import TYPE_CHECKING

from synthgen.dedup import EMPTY, KEEP, SEMANTIC, SEVERITY, Corpus, Decisions
from synthgen.errors import EndpointError, UsageError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

Embedder = Callable[[list[str]], "npt.NDArray[np.float32]"]
BLOCK = 1024


def wordllama_embedder() -> Embedder:
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

    from synthgen.llm.cache import ResponseCache, request_key
    from synthgen.llm.types import endpoint_host
    from synthgen.records import canonical_json, sha256_hex
    from synthgen.store import open_state

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
    if kind == "endpoint":
        return endpoint_embedder(model, base_url, state_dir)
    return wordllama_embedder()


def decide_semantic(
    corpus: Corpus,
    order: npt.NDArray[np.int64],
    d: Decisions,
    threshold: float,
    embed: Embedder | None,
) -> None:
    """Greedy in priority order: dropped when cosine ≥ threshold with a kept record or a
    reference (ties to references win, as everywhere)."""
    import numpy as np

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
    kept_items: list[int] = []
    kept = np.zeros((0, 0), np.float32)
    for s in range(0, len(alive), BLOCK):
        block = alive[s : s + BLOCK]
        vecs = embed([corpus.texts[i] for i in block])
        if not kept.size:
            kept = np.zeros((len(alive), vecs.shape[1]), np.float32)
        base = len(kept_items)
        prev = vecs @ kept[:base].T
        inner = vecs @ vecs.T
        in_block: list[int] = []  # positions in this block of the records kept so far
        for j, item in enumerate(block):
            sims = np.concatenate([prev[j], inner[j, in_block]])

            if len(sims) and item >= corpus.refs:
                ks = [int(np.argmax(sims)), *np.nonzero(sims >= threshold)[0].tolist()]
                found = [
                    (kept_items[k] if k < base else block[in_block[k - base]], float(sims[k]))
                    for k in ks
                ]
                _settle(corpus, d, item, found[0], found[1:])
            if item < corpus.refs or d.status[item] == KEEP:
                kept[len(kept_items)] = vecs[j]
                kept_items.append(item)
                in_block.append(j)


def _settle(
    corpus: Corpus,
    d: Decisions,
    item: int,
    nearest: tuple[int, float],
    hits: list[tuple[int, float]],
) -> None:
    d.saw(item, *nearest)
    if hits:
        match, sim = max(
            hits, key=lambda c: (SEVERITY[corpus.reason_of_match(c[0], SEMANTIC)], c[1])
        )
        d.drop(item, corpus.reason_of_match(match, SEMANTIC), match, sim)

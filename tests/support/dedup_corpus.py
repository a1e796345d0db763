"""Planted-duplicate corpora and their exact ground truth, for dedup tests and the benchmark.

Texts are ~22 words drawn from a made-up vocabulary; some records are copies that differ only
after normalisation (case, punctuation, spacing), others copies with 1–3 word edits. The
ground truth is the greedy decision made with every pair that shares a shingle (all other
pairs have Jaccard 0), i.e. exact all-pairs, without MinHash.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import orjson

from synthgen.text.normalise import normalise, word_shingles


def _vocab(rng: random.Random, size: int) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    out: set[str] = set()
    while len(out) < size:
        out.add("".join(rng.choice(letters) for _ in range(rng.randint(3, 9))))
    return sorted(out)


def _restyle(rng: random.Random, ws: list[str]) -> str:
    """The same words, written differently: case, punctuation, spacing."""
    out = []
    for w in ws:
        w = w.upper() if rng.random() < 0.2 else w.capitalize() if rng.random() < 0.2 else w
        out.append(w + rng.choice(["", "", "", ",", ".", "!", " -"]))
    return (" " * rng.randint(1, 3)).join(out)


def _edit(rng: random.Random, ws: list[str], vocab: list[str]) -> list[str]:
    ws = list(ws)
    for _ in range(rng.randint(1, 3)):
        op = rng.random()
        i = rng.randrange(len(ws))
        if op < 0.5:
            ws[i] = rng.choice(vocab)
        elif op < 0.75:
            ws.insert(i, rng.choice(vocab))
        elif len(ws) > 5:
            del ws[i]
    return ws


def planted_texts(
    n: int, seed: int = 0, dup_rate: float = 0.3, zipf: bool = False
) -> Iterator[str]:
    """n instruction texts; about dup_rate of them copy an earlier one (half exact after
    normalisation, half with 1–3 word edits). zipf=True draws words with Zipf frequencies,
    so that texts share common words as real instructions do."""
    rng = random.Random(seed)
    vocab = _vocab(rng, 5000)
    weights = [1 / (r + 1) for r in range(len(vocab))] if zipf else None
    originals: list[list[str]] = []
    for _ in range(n):
        if originals and rng.random() < dup_rate:
            src = originals[rng.randrange(len(originals))]
            if rng.random() < 0.5:
                yield _restyle(rng, src)
            else:
                ws = _edit(rng, src, vocab)
                originals.append(ws)
                yield " ".join(ws)
        else:
            k = rng.randint(18, 26)
            ws = rng.choices(vocab, weights, k=k) if weights else rng.choices(vocab, k=k)
            originals.append(ws)
            yield " ".join(ws)


def greedy_truth(texts: list[str], threshold: float) -> dict[int, tuple[str, int]]:
    """Exact greedy decisions in input order: index → ("exact" | "near", index matched).

    Compares each text with every kept text that shares at least one shingle with it."""
    kept_exact: dict[str, int] = {}
    postings: dict[str, list[int]] = {}
    sets: dict[int, frozenset[str]] = {}
    out: dict[int, tuple[str, int]] = {}
    for i, text in enumerate(texts):
        norm = normalise(text)
        if norm in kept_exact:
            out[i] = ("exact", kept_exact[norm])
            continue
        mine = frozenset(word_shingles(norm.split()))
        others = {j for s in mine for j in postings.get(s, ())}
        best = max(((len(mine & sets[j]) / len(mine | sets[j]), -j) for j in others), default=None)
        if best is not None and best[0] >= threshold:
            out[i] = ("near", -best[1])
            continue
        kept_exact[norm] = i
        sets[i] = mine
        for s in mine:
            postings.setdefault(s, []).append(i)
    return out


def write_corpus(path: Path, n: int, seed: int = 0, zipf: bool = False) -> list[str]:
    """A JSONL file of synthgen records (as `expand` writes them) with planted duplicates."""
    from synthgen.records import record_id

    prov = {
        "run_id": "planted",
        "created_at": "2026-01-01T00:00:00Z",
        "synthgen_version": "0",
        "config_sha256": "",
        "method": "self-instruct",
        "parents": [],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "cost_usd": 0.0},
    }
    texts = list(planted_texts(n, seed, zipf=zipf))
    with path.open("wb") as fh:
        for i, text in enumerate(texts):
            out = f"answer {i}"
            rec = {"id": record_id(text, "", out), "instruction": text, "input": "", "output": out}
            fh.write(orjson.dumps({**rec, "meta": {}, "provenance": prov}) + b"\n")
    return texts

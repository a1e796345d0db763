"""`make bench` section for `synthgen dedup`, measured through the real command.

1. Near-dup cost at 100k records ÷ a bare rensa loop (RMinHash + RMinHashLSH query/insert
   per record) over the same shingles, pre-computed (target ≤ 1.5). The near-dup cost is the
   larger of: the stage run in one process over the same normalised words (word ids, exact
   stage, MinHash bands, candidate pairs, exact verification), and the command's increment
   (`synthgen dedup --method minhash` minus `--method exact`, best of two each), which a
   worker hashing during the read can make small. The whole command ÷ bare is shown too.
   Recall and precision against exact all-pairs ground truth on the same corpus.
2. 1M records: wall time (target ≤ 40 s) and peak memory of the dedup process tree: the sum
   of the process's and its worker's PSS, sampled from /proc every 50 ms (target ≤ 1 GB).
3. `--method rouge-l` (Self-Instruct's filter) on 52k records with Zipf-distributed words
   (target ≤ 60 s; the reference loop with rouge_score takes about two days).

4. `--method semantic` at scale (`semantic()`): wordllama embeddings of the planted texts;
   at 100k, the IVF index path against the exact all-pairs path on the same vectors
   (recall of its semantic drops; every drop re-checked: a kept earlier match with
   cosine ≥ threshold), time of each; at 1M, embedding and IVF decision time and peak
   memory, in a child process. Sizes: SYNTHGEN_BENCH_SEMANTIC_N (default 100000,1000000).

Corpora are generated in a temp dir: ~22-word texts with planted copies (exact after
normalisation, and 1–3 word edits), written as synthgen records.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
PY = sys.executable
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))  # the planted corpus lives in tests/support


def tree_rss_kb(pid: int) -> int:
    """Physical memory of a process and its descendants (kB): the sum of their proportional
    set sizes, so pages a forked worker shares with its parent count once, not twice."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            rollup = Path(f"/proc/{p}/smaps_rollup").read_text()
            pss = next(ln for ln in rollup.splitlines() if ln.startswith("Pss:"))
            total += int(pss.split()[1])
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, StopIteration, ValueError):
            continue
    return total


def dedup(src: Path, out: Path, *extra: str) -> tuple[dict[str, Any], float, int]:
    """Run `synthgen dedup`; (summary, wall seconds, peak tree RSS in kB)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [PY, "-m", "synthgen", "dedup", str(src), "-o", str(out), "--json", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=out.parent,
    )
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_rss_kb(proc.pid))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, stderr = proc.communicate()
    wall = time.perf_counter() - t0
    done.set()
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"dedup failed ({proc.returncode}): {stderr.decode()[-2000:]}")
    return json.loads(stdout), wall, peak


def bare_rensa(texts: list[str], threshold: float) -> float:
    """The idiomatic rensa loop over the same word 2-gram shingles (computed beforehand)."""
    import rensa

    from synthgen.stages.dedup.index import choose_banding
    from synthgen.text.normalise import word_shingles, words

    bands, rows = choose_banding(threshold)
    shingles = [word_shingles(words(t)) for t in texts]
    t0 = time.perf_counter()
    lsh = rensa.RMinHashLSH(threshold, bands * rows, bands)
    for i, sh in enumerate(shingles):
        m = rensa.RMinHash(bands * rows, 42)
        m.update(sh)
        lsh.query(m)
        lsh.insert(i, m)
    return time.perf_counter() - t0


def near_stage(texts: list[str], threshold: float) -> float:
    """synthgen's near-dup stage in one process over the same normalised words: word ids,
    the exact stage, MinHash bands, candidate pairs and exact verification (no worker)."""
    import numpy as np

    from synthgen.stages.dedup.bands import band_chunk, candidate_pairs
    from synthgen.stages.dedup.corpus import KEEP, Corpus, Decisions, word_ids
    from synthgen.stages.dedup.decide import decide_exact, processing_order
    from synthgen.stages.dedup.index import choose_banding
    from synthgen.stages.dedup.minhash import verify_pairs
    from synthgen.text.normalise import words

    ws_all = [words(t) for t in texts]
    bands, rows = choose_banding(threshold)
    t0 = time.perf_counter()
    c, vocab = Corpus("exact", threshold), {}  # "exact": no background hasher
    for i, ws in enumerate(ws_all):
        c.ids.append(str(i))
        c.exact.append(hash(" ".join(ws)))
        c.priority.append(0.0)
        c.words.extend(word_ids(vocab, ws))
        c.offsets.append(len(c.words))
    d = Decisions.empty(len(c))
    order = processing_order(c)
    decide_exact(c, order, d)
    offsets = np.frombuffer(c.offsets, np.uint64).astype(np.int64)
    bh = band_chunk(np.frombuffer(c.words, np.uint32), offsets, bands, rows)
    pos = np.empty(len(order), np.int64)
    pos[order] = np.arange(len(order))
    verify_pairs(c, order, d, threshold, candidate_pairs(bh, pos, d.status == KEEP))
    return time.perf_counter() - t0


def quality(texts: list[str], ledger: Path, threshold: float) -> tuple[float, float]:
    from support.dedup_corpus import greedy_truth

    from synthgen.records import record_id

    truth = greedy_truth(texts, threshold)
    index = {record_id(t, "", f"answer {i}"): i for i, t in enumerate(texts)}
    with ledger.open("rb") as fh:
        dropped = {index[json.loads(line)["id"]] for line in fh}
    tp = len(dropped & truth.keys())
    return tp / max(1, len(truth)), tp / max(1, len(dropped))


def run() -> tuple[bool, str]:
    from support.dedup_corpus import write_corpus

    with tempfile.TemporaryDirectory(prefix="synthgen-bench-dedup-") as d:
        tmp = Path(d)
        print("1. near duplicates at 100k records (threshold 0.5, word 2-gram Jaccard)")
        src = tmp / "100k.jsonl"
        texts = write_corpus(src, 100_000, seed=1)
        # Best of three for each command on its own (the minimum of differences would favour
        # a run whose exact-only half happened to be slow); on 2 cores the command's hashing
        # worker shares the CPU with the reader, and single runs vary by ±20%.
        best_total, exact_s = 1e9, 1e9
        for _ in range(3):
            ex, _, _ = dedup(src, tmp / "exact.jsonl", "--method", "exact")
            mh, _, _ = dedup(src, tmp / "near.jsonl", "--method", "minhash")
            best_total = min(best_total, mh["timings"]["total"])
            exact_s = min(exact_s, ex["timings"]["total"])
        best_near = best_total - exact_s
        bare = min(bare_rensa(texts, 0.5) for _ in range(3))
        stage = min(near_stage(texts, 0.5) for _ in range(3))
        # The command hashes in a worker while it reads, so its increment over exact-only
        # can hide work; the one-process stage cannot: the target holds for the larger.
        ratio = max(best_near, stage) / bare
        recall, precision = quality(texts, tmp / "near.ledger.jsonl", 0.5)
        c = mh["counts"]
        print(f"  bare rensa loop (RMinHash + LSH query/insert)  {bare:.2f} s")
        print(f"  near-dup stage in one process, same words      {stage:.2f} s")
        print(
            f"  synthgen dedup --method minhash                {best_total:.2f} s "
            f"(exact only {exact_s:.2f} s → near-dup increment {best_near:.2f} s)"
        )
        print(
            f"  → near-dup ÷ bare = {ratio:.2f} (target ≤ 1.5; one process "
            f"{stage / bare:.2f}, command increment {best_near / bare:.2f}); "
            f"whole command ÷ bare = {best_total / bare:.2f}"
        )
        print(
            f"  kept {c['kept']}/{c['input']}, dropped {c['dropped']} · recall {recall:.4f} "
            f"(≥ 0.97) · precision {precision:.4f} (≥ 0.99) vs exact all-pairs greedy truth"
        )
        del texts
        print("2. one million records")
        src.unlink()
        big = tmp / "1m.jsonl"
        write_corpus(big, 1_000_000, seed=2)
        s, wall, peak = dedup(big, tmp / "1m.out.jsonl", "--method", "minhash")
        t = s["timings"]
        print(
            f"  {wall:.1f} s wall (target ≤ 40 s; read {t['read']:.1f} · decide {t['decide']:.1f}"
            f" · write {t['write']:.1f}) · peak memory {peak / 1024:.0f} MB (target ≤ 1024 MB,"
            f" process + worker) · kept {s['counts']['kept']}"
        )
        big.unlink()
        for p in tmp.glob("1m.out*"):
            p.unlink()
        print("3. --method rouge-l (Self-Instruct's filter, exact decisions) on 52k records")
        zsrc = tmp / "52k.jsonl"
        write_corpus(zsrc, 52_000, seed=3, zipf=True)
        rs, rwall, _ = dedup(zsrc, tmp / "52k.out.jsonl", "--method", "rouge-l")
        print(
            f"  {rwall:.1f} s wall (target ≤ 60 s; rouge_score reference ≈ 2 days) · "
            f"kept {rs['counts']['kept']} of {rs['counts']['input']}"
        )
    sem_ok, sem_line = semantic()
    ok = (
        sem_ok
        and ratio <= 1.5
        and recall >= 0.97
        and precision >= 0.99
        and wall <= 40
        and peak <= 1024 * 1024
        and rwall <= 60
    )
    summary = (
        f"near ÷ rensa {ratio:.2f} · recall {recall:.3f} · 1M {wall:.0f} s, "
        f"{peak / 1024:.0f} MB · rouge-l 52k {rwall:.0f} s · {sem_line}"
    )
    return ok, summary


SEMANTIC_CHILD = """
import resource, sys, time, numpy as np
sys.path.insert(0, "tests")
from synthgen.stages.dedup.corpus import Corpus
from synthgen.stages.dedup.decide import decide
from support.dedup_corpus import planted_texts
from synthgen.stages.dedup.semantic import wordllama_embedder
n, index = int(sys.argv[1]), sys.argv[2]
texts = list(planted_texts(n, seed=2))
embed, spent = wordllama_embedder(), [0.0]
def timed(ts):
    t0 = time.perf_counter(); out = embed(ts); spent[0] += time.perf_counter() - t0
    return out
corpus = Corpus("semantic", 0.9)
for i, t in enumerate(texts):
    corpus.add(str(i), t)
t0 = time.perf_counter()
d = decide(corpus, 0.9, timed, index)
wall = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(wall, spent[0], peak, int((d.status == 3).sum()))
"""


def semantic_at(n: int, index: str) -> tuple[float, float, int, int]:
    """(decide seconds, of which embedding, peak RSS kB, semantic drops) in a child process."""
    out = subprocess.run(
        [PY, "-c", SEMANTIC_CHILD, str(n), index],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    ).stdout.split()
    return float(out[0]), float(out[1]), int(out[2]), int(out[3])


def semantic() -> tuple[bool, str]:
    """IVF semantic path: recall vs the exact path at 100k, time and memory at 1M."""
    import numpy as np
    from support.dedup_corpus import planted_texts

    from synthgen.stages.dedup.corpus import KEEP, SEMANTIC, Corpus
    from synthgen.stages.dedup.decide import decide
    from synthgen.stages.dedup.semantic import embed_all, wordllama_embedder
    from synthgen.text.normalise import words

    sizes = [int(x) for x in os.environ.get("SYNTHGEN_BENCH_SEMANTIC_N", "100000").split(",")]
    small, big = sizes[0], sizes[-1]
    at = f"{small} and {big}" if big != small else f"{small}"
    print(f"4. --method semantic (wordllama, threshold 0.9) at {at} records")
    texts = list(planted_texts(small, seed=2))
    t0 = time.perf_counter()
    x = embed_all(texts, wordllama_embedder()).astype(np.float32)
    embed_s = time.perf_counter() - t0
    row = {t: i for i, t in enumerate(texts)}

    def lookup(ts: list[str]) -> Any:
        return x[[row[t] for t in ts]]

    res, secs = {}, {}
    for index in ("exact", "ivf"):
        corpus = Corpus("semantic", 0.9)
        for i, t in enumerate(texts):
            corpus.add(str(i), t)
        t0 = time.perf_counter()
        res[index] = decide(corpus, 0.9, lookup, index)
        secs[index] = time.perf_counter() - t0
    # Exact copies (after normalisation) share their original's fate: only the records the
    # semantic stage itself decided are compared.
    seen: set[str] = set()
    own = np.zeros(len(texts), bool)
    for i, t in enumerate(texts):
        key = " ".join(words(t))
        own[i] = key not in seen
        seen.add(key)
    truth = set(np.nonzero(own & (res["exact"].status == SEMANTIC))[0].tolist())
    ivf = res["ivf"]
    got = set(np.nonzero(own & (ivf.status == SEMANTIC))[0].tolist())
    recall = len(truth & got) / max(1, len(truth))
    x16 = x.astype(np.float16).astype(np.float32)
    verified = sum(
        1
        for i in got
        if ivf.status[ivf.match[i]] == KEEP and float(x16[i] @ x16[ivf.match[i]]) >= 0.9 - 1e-6
    )
    precision = verified / max(1, len(got))
    print(
        f"  embedding {small} texts {embed_s:.1f} s · exact path {secs['exact']:.1f} s · "
        f"IVF path {secs['ivf']:.1f} s (decisions after embedding)"
    )
    print(
        f"  IVF recall {recall:.4f} of the exact path's {len(truth)} semantic drops (≥ 0.97) · "
        f"precision {precision:.4f} (every drop a verified kept match ≥ 0.9) · "
        f"{len(got - truth)} drops the exact path does not make (its misses change who is kept)"
    )
    wall, emb, peak, drops = semantic_at(big, "auto")
    print(
        f"  {big} records: {wall:.0f} s ({emb:.0f} s embedding, {wall - emb:.0f} s IVF "
        f"decisions) · peak RSS {peak / 1024:.0f} MB · {drops} semantic drops"
    )
    ok = recall >= 0.97 and precision == 1.0
    return ok, (
        f"semantic IVF recall {recall:.3f} at {small // 1000}k · {big // 1000}k in {wall:.0f} s, "
        f"{peak / 1024:.0f} MB"
    )


if __name__ == "__main__":
    os.environ.pop("OPENAI_API_KEY", None)
    ok, line = run()
    print(line, "· targets met" if ok else "· TARGET MISSED")

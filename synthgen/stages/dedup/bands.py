"""MinHash band hashing for the batch near-duplicate path, in a background worker.

The signatures are computed in numpy (2-universal multiply-add-shift hashes over the exact
64-bit shingle ids) and only each band's 32-bit hash is kept per record; candidate pairs come
from sorting each band column. rensa's own index (used by the incremental NearDupIndex) was
measured at 27 s and 4.2 GB for 1M records, and exporting its signatures to numpy costs
~19 s per million, so the batch path bands in numpy instead; decisions are the same kind:
every candidate pair is verified with the exact Jaccard of the two shingle sets.
"""

from __future__ import annotations

import os
import sys
from array import array
from typing import TYPE_CHECKING

from synthgen.stages.dedup.index import choose_banding

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

CHUNK = 64  # records hashed together: the (shingles × permutations) scratch stays in L2
MAX_BUCKET_SCAN = 64  # within one band bucket, compare each record with this many before it
SEED = 0x5EED


def shingles(
    words: npt.NDArray[np.uint64], offsets: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.int64]]:
    """Word 2-gram shingle ids of consecutive records (and their offsets) from word ids."""
    import numpy as np

    pairs = (words[:-1] << np.uint64(32)) | words[1:]
    valid = np.ones(len(pairs), bool)
    ends = offsets[1:-1] - 1  # the last word of a record does not pair with the next one
    valid[ends[(ends >= 0) & (ends < len(pairs))]] = False
    counts = np.maximum(np.diff(offsets) - 1, 0)
    return pairs[valid], np.concatenate(([0], np.cumsum(counts))).astype(np.int64)


Params = tuple["npt.NDArray[np.uint32]", "npt.NDArray[np.uint32]", "npt.NDArray[np.uint32]"]


def band_params(bands: int, rows: int) -> Params:
    """The hash functions' (a, b, mix) coefficients: fixed by SEED, so every caller (the
    batch path, run's incremental screen) gives a text the same band hashes."""
    import numpy as np

    rng = np.random.default_rng(SEED)
    perm = bands * rows
    a = (rng.integers(0, 2**32, size=perm, dtype=np.uint64) | np.uint64(1)).astype(np.uint32)
    b = rng.integers(0, 2**32, size=perm, dtype=np.uint64).astype(np.uint32)
    mix = (rng.integers(0, 2**32, size=rows, dtype=np.uint64) | np.uint64(1)).astype(np.uint32)
    return a, b, mix


def band_chunk(
    words: npt.NDArray[np.uint32],
    offsets: npt.NDArray[np.int64],
    bands: int,
    rows: int,
    params: Params | None = None,
) -> npt.NDArray[np.uint32]:
    """(records × bands) 32-bit band hashes; a record without words gets 0 (never banded).

    MinHash with 32-bit linear hashes (a·x + b mod 2³²) of a well-mixed 32-bit shingle hash:
    cheap in numpy, and exactness does not depend on it (candidates are verified)."""
    import numpy as np

    a, b, mix = params or band_params(bands, rows)
    flat, soff = shingles(words.astype(np.uint64), offsets)
    x = ((flat * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(32)).astype(np.uint32)
    n = len(offsets) - 1
    out = np.zeros((n, bands), np.uint32)
    for s in range(0, n, CHUNK):
        e = min(n, s + CHUNK)
        lo, hi = int(soff[s]), int(soff[e])
        if hi == lo:
            continue
        starts = soff[s:e] - lo
        nonempty = starts < soff[s + 1 : e + 1] - lo
        h = x[lo:hi, None] * a + b
        sig = np.minimum.reduceat(h, starts[nonempty], axis=0).reshape(-1, bands, rows)
        out[s:e][nonempty] = (sig * mix).sum(axis=2, dtype=np.uint32) | np.uint32(1)
    return out


# Worker-process state: the band hashes of the bands the worker pairs up itself. Each
# BandHasher has its own one-process pool, so this starts empty for every run.
_WORKER_BANDS: list[npt.NDArray[np.uint32]] = []


def _hash_and_keep(
    words: npt.NDArray[np.uint32], offsets: npt.NDArray[np.int64], bands: int, rows: int
) -> npt.NDArray[np.uint32]:
    """(In the worker) hash a chunk; keep the first half of the bands, return the rest."""
    import numpy as np

    out = band_chunk(words, offsets, bands, rows)
    _WORKER_BANDS.append(np.ascontiguousarray(out[:, : bands // 2]))
    return np.ascontiguousarray(out[:, bands // 2 :])


def _pairs_of_kept(
    pos: npt.NDArray[np.int64], alive: npt.NDArray[np.bool_]
) -> npt.NDArray[np.uint64]:
    """(In the worker) candidate pairs over the bands it kept."""
    import numpy as np

    bh = np.concatenate(_WORKER_BANDS) if _WORKER_BANDS else np.zeros((0, 1), np.uint32)
    _WORKER_BANDS.clear()
    return candidate_pairs(bh, pos, alive)


def _worker_init(parent: int) -> None:
    """Ctrl-C is the main process's to handle (exit 130): the worker ignores it. If the main
    process is killed (kill -9), the worker must not outlive it: on Linux the kernel sends it
    SIGKILL (a forked worker never sees its task pipe close, as it holds both ends)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


class BandHasher:
    """Band hashes computed by a worker process while the main process reads, so signatures
    cost little wall time on two cores (a thread would fight the reader for the GIL). The
    worker keeps half of the bands and later finds their candidate pairs itself, while the
    main process does the other half: half the memory on each side, both cores busy."""

    def __init__(self, threshold: float) -> None:
        import multiprocessing
        from concurrent.futures import Future, ProcessPoolExecutor

        self.bands, self.rows = choose_banding(threshold)
        ctx = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
        self._pool = ProcessPoolExecutor(
            1, mp_context=ctx, initializer=_worker_init, initargs=(os.getpid(),)
        )
        # Start the worker now, while this process is small: forking later would make every
        # page the reader touches afterwards a copy-on-write fault.
        self._pool.submit(int).result()
        self._parts: list[Future[npt.NDArray[np.uint32]]] = []

    def feed(self, words: array[int], offsets: array[int], start: int, end: int) -> None:
        """Send records [start, end) to the worker to band-hash while the main process reads on."""
        import numpy as np

        w0, w1 = offsets[start], offsets[end]
        chunk_words = np.frombuffer(words, dtype=np.uint32, count=w1 - w0, offset=w0 * 4).copy()
        chunk_offsets = np.frombuffer(
            offsets, dtype=np.uint64, count=end - start + 1, offset=start * 8
        ).astype(np.int64) - np.int64(w0)
        self._parts.append(
            self._pool.submit(_hash_and_keep, chunk_words, chunk_offsets, self.bands, self.rows)
        )

    def finish(self) -> npt.NDArray[np.uint32]:
        """The band hashes this process pairs up (the second half), in record order."""
        import numpy as np

        parts, self._parts = self._parts, []
        n = sum(len(f.result()) for f in parts)
        out = np.empty((n, self.bands - self.bands // 2), np.uint32)
        at = 0
        for i, f in enumerate(parts):  # fill in place, freeing each part: no second copy
            chunk = f.result()
            out[at : at + len(chunk)] = chunk
            at += len(chunk)
            parts[i] = None  # type: ignore[call-overload]
            del chunk, f
        return out

    def pairs(
        self, bh: npt.NDArray[np.uint32], pos: npt.NDArray[np.int64], alive: npt.NDArray[np.bool_]
    ) -> npt.NDArray[np.uint64]:
        """Candidate pairs over all bands: the worker's half there, this half here, at once."""
        import numpy as np

        theirs = self._pool.submit(_pairs_of_kept, pos, alive)
        mine = candidate_pairs(bh, pos, alive)
        return np.union1d(mine, theirs.result())

    def close(self) -> None:
        """Shut the worker process down, so it never outlives the dedup run."""
        self._pool.shutdown()


def candidate_pairs(
    bh: npt.NDArray[np.uint32], pos: npt.NDArray[np.int64], alive: npt.NDArray[np.bool_]
) -> npt.NDArray[np.uint64]:
    """Sorted unique (later << 32 | earlier) priority-position pairs of alive records sharing
    a band bucket (records without shingles have band hash 0 and never pair)."""
    import numpy as np

    found = []
    mask = np.uint64(0xFFFFFFFF)
    live = alive & (bh[:, 0] != 0)
    for j in range(bh.shape[1]):
        key = (bh[live, j].astype(np.uint64) << np.uint64(32)) | pos[live].astype(np.uint64)
        key.sort()
        col, p = key >> np.uint64(32), key & mask
        for dist in range(1, min(MAX_BUCKET_SCAN, len(key)) + 1):
            same = col[:-dist] == col[dist:]
            if not same.any():
                break
            found.append((p[dist:][same] << np.uint64(32)) | p[:-dist][same])
    if not found:
        return np.zeros(0, np.uint64)
    return np.unique(np.concatenate(found))

"""Candidate neighbours for semantic dedup at scale: an inverted-file (IVF) partition in numpy.

The vectors are split into cells by k-means (on a sample, in a 64-dimensional PCA projection:
the partition only decides which pairs are compared, never whether a pair is a duplicate).
Each vector lives in its nearest cell and is compared with the earlier vectors (in priority
order) of its `nprobe` nearest cells, one matrix product per cell, with the full embeddings:
so every similarity reported is the exact cosine of the two stored vectors, and a pair is a
match only when that cosine reaches the threshold. What the partition can cost is recall (a
true match in a cell that was not probed), never precision.

Per query the matches of one cell are kept up to CAP, earliest first; a query that had more
is compared again with every kept vector of its cells (`rescan`), so the cap never changes a
decision.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

APPROX_FROM = 50_000  # alive records from which `auto` uses the index instead of all-pairs
NPROBE = 32  # cells each vector is compared in
CAP = 32  # matches listed per query and cell (the rest are recovered by `rescan`)
PCA_DIMS = 64
SEED = 0
_CELL_ELEMS = 1 << 22  # query rows × member columns per matrix product (16 MB of float32)


def n_cells(n: int) -> int:
    """About 4·√n cells: balances assigning vectors to cells against comparing within them."""
    return max(1, min(8192, round(4 * math.sqrt(n))))


@dataclass
class Candidates:
    """Matches found by the index, over vector positions (priority order)."""

    q: npt.NDArray[np.int64]  # later vector
    m: npt.NDArray[np.int64]  # earlier vector, cosine ≥ threshold
    sim: npt.NDArray[np.float32]
    overflow: npt.NDArray[np.bool_]  # per query: some cell had more than CAP matches
    best: npt.NDArray[np.int64]  # per query: the most similar other vector seen (-1: none)
    best_sim: npt.NDArray[np.float32]


class IVFIndex:
    """Cells of a fixed set of unit vectors (float16, in priority order)."""

    def __init__(
        self,
        x: npt.NDArray[np.float16],
        nlist: int | None = None,
        nprobe: int = NPROBE,
        seed: int = SEED,
    ) -> None:
        import numpy as np

        self.x = x
        n = len(x)
        self.nlist = min(n, nlist or n_cells(n))
        self.nprobe = min(nprobe, self.nlist)
        rng = np.random.default_rng(seed)
        sample = x[np.sort(rng.choice(n, min(n, 16 * self.nlist + 1024), replace=False))]
        sample32 = sample.astype(np.float32)
        self.mean = sample32.mean(axis=0)
        centred = sample32 - self.mean
        dims = min(PCA_DIMS, x.shape[1])
        _, vecs = np.linalg.eigh(centred.T @ centred)
        self.proj = np.ascontiguousarray(vecs[:, ::-1][:, :dims], dtype=np.float32)
        self.centroids = _kmeans(centred @ self.proj, self.nlist, rng)
        self.probes = self._probe()
        primary = self.probes[:, 0]
        # members of each cell, ascending: cell c holds members[starts[c]:starts[c + 1]]
        self.members = np.argsort(primary, kind="stable").astype(np.int64)
        self.starts = np.concatenate([[0], np.cumsum(np.bincount(primary, minlength=self.nlist))])

    def _probe(self) -> npt.NDArray[np.int32]:
        """Each vector's nprobe nearest cells, nearest first."""
        import numpy as np

        n, k = len(self.x), self.nprobe
        out = np.empty((n, k), np.int32)
        half_norms = 0.5 * (self.centroids**2).sum(axis=1)
        step = max(1, (1 << 24) // max(1, self.nlist))
        for s in range(0, n, step):
            y = (self.x[s : s + step].astype(np.float32) - self.mean) @ self.proj
            score = y @ self.centroids.T - half_norms
            top = np.argpartition(-score, k - 1, axis=1)[:, :k] if k < self.nlist else None
            if top is None:
                top = np.tile(np.arange(self.nlist), (len(y), 1))
            rank = np.argsort(-np.take_along_axis(score, top, axis=1), axis=1, kind="stable")
            out[s : s + step] = np.take_along_axis(top, rank, axis=1)
        return out

    def cell(self, c: int) -> npt.NDArray[np.int64]:
        """The vectors whose nearest cell is `c`, ascending: the members a probe compares with."""
        return self.members[self.starts[c] : self.starts[c + 1]]

    def candidates(
        self, threshold: float, first_query: int = 0, cap: int | None = None
    ) -> Candidates:
        """Every pair (q, m), m < q, q ≥ first_query, m in one of q's probed cells, whose
        cosine is ≥ threshold (up to `cap` per query and cell, earliest first)."""
        import numpy as np

        cap = CAP if cap is None else cap
        n = len(self.x)
        best = np.full(n, -1, np.int64)
        best_sim = np.full(n, -np.inf, np.float32)
        overflow = np.zeros(n, bool)
        flat = self.probes.ravel()
        by_cell = np.argsort(flat, kind="stable")
        q_of = (by_cell // self.nprobe).astype(np.int64)  # ascending within each cell
        q_starts = np.concatenate([[0], np.cumsum(np.bincount(flat, minlength=self.nlist))])
        qs: list[npt.NDArray[np.int64]] = []
        ms: list[npt.NDArray[np.int64]] = []
        sims: list[npt.NDArray[np.float32]] = []
        for c in range(self.nlist):
            mem = self.cell(c)
            queries = q_of[q_starts[c] : q_starts[c + 1]]
            queries = queries[queries >= max(first_query, int(mem[0]) + 1 if len(mem) else n)]
            if not len(queries):
                continue
            xm = self.x[mem].astype(np.float32)
            rows = max(1, _CELL_ELEMS // len(mem))
            for s in range(0, len(queries), rows):
                qc = queries[s : s + rows]
                lim = np.searchsorted(mem, qc)  # members before each query
                width = int(lim[-1])
                if not width:
                    continue
                sim = self.x[qc].astype(np.float32) @ xm[:width].T
                # Columns from lim on are later members (the query itself among them): only
                # its own column is masked; the nearest seen may be a later record.
                own = lim < width
                own[own] = mem[lim[own]] == qc[own]
                sim[np.nonzero(own)[0], lim[own]] = -np.inf
                arg = sim.argmax(axis=1)
                top = sim[np.arange(len(qc)), arg]
                better = top > best_sim[qc]
                best[qc[better]] = mem[arg[better]]
                best_sim[qc[better]] = top[better]
                r, col = np.nonzero(sim >= threshold)
                earlier = col < lim[r]
                r, col = r[earlier], col[earlier]
                if not len(r):
                    continue
                # rank of each match within its row (columns ascend, so earliest first)
                rank = np.arange(len(r)) - np.searchsorted(r, r, side="left")
                over = rank >= cap
                if over.any():
                    overflow[qc[np.unique(r[over])]] = True
                    r, col = r[~over], col[~over]
                qs.append(qc[r])
                ms.append(mem[col])
                sims.append(sim[r, col])
        if qs:
            q, m, cos = np.concatenate(qs), np.concatenate(ms), np.concatenate(sims)
            o = np.lexsort((m, q))
            q, m, cos = q[o], m[o], cos[o]
        else:
            q, m, cos = np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)
        return Candidates(q, m, cos, overflow, best, best_sim)

    def rescan(
        self, q: int, kept: npt.NDArray[np.bool_]
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """Cosines of vector q with every kept earlier vector of its probed cells."""
        import numpy as np

        pool = np.concatenate([self.cell(int(c)) for c in self.probes[q]])
        pool = pool[(pool < q) & kept[pool]]
        sims = self.x[pool].astype(np.float32) @ self.x[q].astype(np.float32)
        return pool, sims


def _kmeans(
    y: npt.NDArray[np.float32], k: int, rng: np.random.Generator, iters: int = 8
) -> npt.NDArray[np.float32]:
    """Lloyd's k-means (Euclidean), seeded; an emptied cell restarts at a random point."""
    import numpy as np

    c = y[rng.choice(len(y), k, replace=False)].copy()
    for _ in range(iters):
        label = _nearest(y, c)
        counts = np.bincount(label, minlength=k)
        order = np.argsort(label, kind="stable")
        full = counts > 0
        starts = (np.cumsum(counts) - counts)[full]
        c[full] = np.add.reduceat(y[order], starts, axis=0) / counts[full, None]
        if not full.all():
            c[~full] = y[rng.choice(len(y), int((~full).sum()), replace=False)]
    return c


def _nearest(y: npt.NDArray[np.float32], c: npt.NDArray[np.float32]) -> npt.NDArray[np.int64]:
    import numpy as np

    half_norms = 0.5 * (c**2).sum(axis=1)
    step = max(1, (1 << 24) // len(c))
    return np.concatenate(
        [(y[s : s + step] @ c.T - half_norms).argmax(axis=1) for s in range(0, len(y), step)]
    ).astype(np.int64)

"""The `dedup` command's one core function: a dataset in; kept records, ledger, manifest out.

Two streaming passes over the input: the first keeps only compact per-record data (ids,
hashes, shingles or tokens) and decides; the second re-reads the input and writes each
record to the output or the ledger, in input order. Files are written as partial files and
moved into place at the end, so a crash leaves an earlier output untouched.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from pydantic import field_validator, model_validator

from synthgen.core.manifest import now_iso
from synthgen.core.sink import Sink
from synthgen.core.stage import Outcome, Stage, StagePlan, StageRun, run_stage
from synthgen.errors import Interrupted, SynthgenError, UsageError
from synthgen.records import Frozen, StageSummary, canonical_json, ledger_line, sha256_hex
from synthgen.seeds.dataset import ANY, SYNTHGEN, Row, iter_rows, record_dict
from synthgen.stages.dedup.corpus import (
    AGAINST,
    CONTAM,
    KEEP,
    REASONS,
    Corpus,
    Decisions,
    Keep,
    Method,
)
from synthgen.stages.dedup.decide import decide
from synthgen.stages.dedup.decontam import NgramIndex
from synthgen.stages.dedup.documents import reference_rows
from synthgen.stages.dedup.policy import (
    default_fields,
    detail,
    match_info,
    row_texts,
    source_id,
    threshold_of,
)
from synthgen.text.normalise import TEXT_FIELDS, joined, words

BATCH = 2000


class DedupConfig(Frozen):
    """One dedup run's settings: input and outputs, method and threshold, fields compared."""

    input: str
    output: str
    rejected: str | None = None
    method: Method = "minhash"
    threshold: float | None = None
    # Not given: the instruction alone for rouge-l (Self-Instruct's filter compares
    # instructions), instruction + input for the others.
    fields: tuple[str, ...] = ("instruction", "input")
    against: tuple[str, ...] = ()
    decontaminate: tuple[str, ...] = ()
    keep: Keep = "first"
    fmt: str | None = None
    ngram: int = 13
    state_dir: str = ".synthgen"
    # semantic: compare with every kept record (exact), or only with those in the nearest
    # cells of an IVF index (each pair still decided by its exact cosine); auto: ivf from 50k
    semantic_index: Literal["auto", "exact", "ivf"] = "auto"

    @model_validator(mode="before")
    @classmethod
    def _default_fields(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("fields") is None:
            data = {k: v for k, v in data.items() if k != "fields"}
            data["fields"] = default_fields(str(data.get("method", "minhash")))
        return data

    @field_validator("fields")
    @classmethod
    def _known_fields(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if not v:
            raise ValueError("no field given; use some of " + ", ".join(TEXT_FIELDS))
        bad = [f for f in v if f not in TEXT_FIELDS]
        if bad:
            raise ValueError(
                f"unknown field {', '.join(map(repr, bad))}; use some of {', '.join(TEXT_FIELDS)}"
            )
        return v

    @property
    def effective_threshold(self) -> float | None:
        """The threshold to use: the one given (checked), else the method's default."""
        if self.threshold is not None and not 0.0 < self.threshold <= 1.0:
            raise UsageError(
                f"--threshold {self.threshold} is out of range",
                hint="give a similarity in (0, 1], e.g. 0.7",
            )
        return threshold_of(self.method, self.threshold)


def _priority(row: Row, keep: str) -> float:
    if keep == "first":
        return 0.0
    if keep == "best":
        prov = row.raw.get("provenance")
        judge = prov.get("judge") if isinstance(prov, dict) else None
        score = judge.get("score") if isinstance(judge, dict) else None
        return -float(score) if isinstance(score, int | float) else float("inf")
    size = len(row.text)
    return float(size if keep == "shortest" else -size)


@contextmanager
def _readable(path: str) -> Iterator[Path]:
    """The input as a file that can be read twice (stdin is spooled to a temp file)."""
    if path != "-":
        yield Path(path)
        return
    with tempfile.TemporaryDirectory(prefix="synthgen-dedup-") as d:
        spool = Path(d) / "stdin.jsonl"
        with spool.open("wb") as fh:
            shutil.copyfileobj(sys.stdin.buffer, fh)
        yield spool


def _load_refs(cfg: DedupConfig, corpus: Corpus, ngram: NgramIndex) -> dict[str, int]:
    counts = {"decontaminate": 0, "against": 0}
    for kind, files in ((CONTAM, cfg.decontaminate), (AGAINST, cfg.against)):
        for f in files:
            fmt = ANY if kind == CONTAM else None  # eval sets come in any shape
            for row in reference_rows(Path(f), fmt):  # a dataset, or a document's chunks
                t = row_texts(row)
                own_id = source_id(row)
                item = corpus.add_ref(row.id, joined(t, cfg.fields), kind, f, row.line, own_id)
                if kind == CONTAM:
                    ngram.add(item, words(joined(t, TEXT_FIELDS)))
                    counts["decontaminate"] += 1
                else:
                    counts["against"] += 1
    return counts


def _read(
    cfg: DedupConfig, path: Path, corpus: Corpus, ngram: NgramIndex
) -> tuple[int, str | None]:
    n = 0
    fmt = None
    check = len(ngram) > 0
    for row in iter_rows(path, cfg.fmt, empty_output=True):
        fmt = row.fmt
        t = row_texts(row)
        item = corpus.add(row.id, joined(t, cfg.fields), _priority(row, cfg.keep))
        if check:
            hit = ngram.match(words(joined(t, TEXT_FIELDS)))
            if hit is not None:
                corpus.pre[item] = (CONTAM, int(hit[0]), hit[1])  # type: ignore[call-overload]
        n += 1
    return n, fmt


def _is_jsonl(path: Path) -> bool:
    with path.open("rb") as fh:
        return not fh.read(64).removeprefix(b"\xef\xbb\xbf").lstrip().startswith(b"[")


def _rows(cfg: DedupConfig, path: Path, fmt: str | None) -> Iterator[dict[str, Any]]:
    """Pass 2's records as canonical dicts. Synthgen records are re-read as plain JSON lines:
    pass 1 already validated every line of the same file."""
    import orjson

    if fmt == SYNTHGEN and _is_jsonl(path):
        with path.open("rb") as fh:
            for n, raw in enumerate(fh):
                if n == 0:
                    raw = raw.removeprefix(b"\xef\xbb\xbf")
                if raw.strip():
                    yield orjson.loads(raw)
        return
    created = now_iso()
    for row in iter_rows(path, cfg.fmt, empty_output=True):
        rec = record_dict(row, cfg.input, created)
        yield {**rec, "provenance": dict(rec["provenance"])}


def _write(
    cfg: DedupConfig, path: Path, fmt: str | None, corpus: Corpus, d: Decisions, sink: Sink
) -> None:
    from array import array

    refs = corpus.refs
    ids = corpus.ids
    # array views: indexing them makes no per-record Python objects up front
    status, match = array("b", d.status.tobytes()), array("q", d.match.tobytes())
    sim, nearest = array("f", d.sim.tobytes()), array("q", d.nearest.tobytes())
    nearest_sim = array("f", d.nearest_sim.tobytes())
    kept: list[dict[str, Any]] = []
    dropped: list[dict[str, Any]] = []
    for item, rec in enumerate(_rows(cfg, path, fmt), refs):
        s = status[item]
        if s == KEEP:
            near = nearest[item]
            rec["provenance"]["dedup"] = {
                "nearest": ids[near] if near >= 0 else None,
                "similarity": round(nearest_sim[item], 4) if near >= 0 else 0.0,
            }
            kept.append(rec)
        else:
            m = match[item]
            if m < refs:  # where to find it: the line, and the record's own id if it had one
                ref = (corpus.sources[m], corpus.lines[m], corpus.source_ids[m])
                found = match_info(ids[m], sim[item], *ref)
            else:
                found = match_info(ids[m], sim[item], cfg.input)
            rec = ledger_line(rec, "dedup", REASONS[s], _detail(cfg, s), match=found)
            dropped.append(rec)
        if len(kept) + len(dropped) >= BATCH:
            sink.extend(kept, dropped)
            kept, dropped = [], []
    sink.extend(kept, dropped)


def _detail(cfg: DedupConfig, status: int) -> str:
    return detail(status, cfg.method, cfg.fields, cfg.effective_threshold, cfg.ngram)


class DedupStage(Stage):
    """Two streaming passes: decide over compact per-record data, then write in input order."""

    def __init__(self, cfg: DedupConfig, embed: Any = None) -> None:
        self.cfg, self.embed = cfg, embed
        self.threshold = cfg.effective_threshold
        reads: list[tuple[str, str | Path]] = [("the input", cfg.input)]
        reads += [("the --against", f) for f in cfg.against]
        reads += [("the --decontaminate", f) for f in cfg.decontaminate]
        self.plan = StagePlan(
            command="dedup",
            output=cfg.output,
            ledger=Path(cfg.rejected) if cfg.rejected else None,
            job_sha256=sha256_hex(canonical_json(cfg.model_dump(mode="json"))),
            reads=reads,
            inputs=[cfg.input, *cfg.against, *cfg.decontaminate],
            resumable=False,
            manifest_config=cfg.model_dump(mode="json"),
        )
        self.timings: dict[str, float] = {}
        self.n = 0
        self.dropped: dict[str, int] = {}
        self.ref_counts: dict[str, int] = {}

    async def execute(self, run: StageRun) -> Outcome:
        """Read, decide and write (CPU work: the event loop only hosts it)."""
        self._dedup(run.sink)
        return Outcome("complete")

    def _dedup(self, sink: Sink) -> None:
        cfg = self.cfg
        t0 = time.perf_counter()
        corpus = Corpus(cfg.method, self.threshold)
        ngram = NgramIndex(cfg.ngram)
        try:
            with _readable(cfg.input) as path:
                self.ref_counts = _load_refs(cfg, corpus, ngram)
                self.n, fmt = _read(cfg, path, corpus, ngram)
                t1 = time.perf_counter()
                self.timings["read"] = t1 - t0
                d = decide(corpus, self.threshold, self.embed, cfg.semantic_index)
                t2 = time.perf_counter()
                self.timings["decide"] = t2 - t1
                _write(cfg, path, fmt, corpus, d, sink)
        finally:
            corpus.close()
        self.timings["write"] = time.perf_counter() - t2
        self.timings["total"] = time.perf_counter() - t0
        for s in d.status[corpus.refs :].tolist():
            if s != KEEP:
                self.dropped[REASONS[s]] = self.dropped.get(REASONS[s], 0) + 1

    def stopped(self, run: StageRun, error: SynthgenError) -> Outcome:
        """An interrupted dedup leaves the earlier output as it was; a rerun redoes it."""
        if isinstance(error, Interrupted):
            error = Interrupted(
                "interrupted: the output was not replaced",
                hint="run the same command again (dedup redoes its work)",
            )
        return Outcome("interrupted" if isinstance(error, Interrupted) else "failed", error)

    def finish(self, run: StageRun, outcome: Outcome) -> Outcome:
        """Counts by reason, and what was compared how."""
        cfg = self.cfg
        kept = self.n - sum(self.dropped.values())
        outcome.counts = {
            "input": self.n,
            "kept": kept,
            "dropped": dict(sorted(self.dropped.items())),
        }
        outcome.details = {
            "method": cfg.method,
            "threshold": self.threshold,
            "fields": list(cfg.fields),
            "keep": cfg.keep,
            "references": self.ref_counts,
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
        }
        outcome.headline = f"{self.n} read, output not replaced"
        if outcome.status == "complete":
            run.say(
                f"dedup ({cfg.method}): {self.n} in → {kept} kept · "
                + (
                    ", ".join(f"{v} {k}" for k, v in sorted(self.dropped.items()))
                    or "nothing dropped"
                )
                + f" · {self.timings['total']:.1f}s"
            )
        return outcome


def run_dedup(cfg: DedupConfig, say: Callable[[str], None], embed: Any = None) -> StageSummary:
    """Deduplicate `cfg.input` into `cfg.output` (a path, or "-" for stdout)."""
    from synthgen.config import Config

    # The skeleton's run slot lives in the state dir; dedup sends nothing and has no budget.
    return run_stage(DedupStage(cfg, embed), Config(state_dir=Path(cfg.state_dir)), say)

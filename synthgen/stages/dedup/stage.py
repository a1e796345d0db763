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

from synthgen.core.jsonl import AppendLog, finalise
from synthgen.core.manifest import file_sha256, now_iso, write_manifest
from synthgen.core.sink import check_outputs, ledger_path_for, manifest_path_for, partial_of
from synthgen.errors import UsageError
from synthgen.records import Frozen
from synthgen.seeds.dataset import ANY, SYNTHGEN, Row, iter_rows, record_dict
from synthgen.stages.dedup.corpus import (
    AGAINST,
    CONTAM,
    DEFAULT_THRESHOLD,
    KEEP,
    REASONS,
    Corpus,
    Decisions,
    Keep,
    Method,
)
from synthgen.stages.dedup.decide import decide
from synthgen.stages.dedup.decontam import NgramIndex
from synthgen.text.normalise import TEXT_FIELDS, joined, words

BATCH = 2000


class DedupConfig(Frozen):
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
            by_method = ("instruction",) if data.get("method") == "rouge-l" else None
            data = {k: v for k, v in data.items() if k != "fields"}
            if by_method:
                data["fields"] = by_method
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
        if self.threshold is not None and not 0.0 < self.threshold <= 1.0:
            raise UsageError(
                f"--threshold {self.threshold} is out of range",
                hint="give a similarity in (0, 1], e.g. 0.7",
            )
        if self.method == "exact":
            return None
        if self.threshold is not None:
            return self.threshold
        return DEFAULT_THRESHOLD.get(self.method)


def _texts(row: Row) -> dict[str, str]:
    return {"instruction": row.instruction, "input": row.input, "output": row.output}


def _priority(row: Row, keep: str) -> float:
    if keep == "first":
        return 0.0
    if keep == "best":
        prov = row.raw.get("provenance")
        judge = prov.get("judge") if isinstance(prov, dict) else None
        score = judge.get("score") if isinstance(judge, dict) else None
        return -float(score) if isinstance(score, int | float) else float("inf")
    size = len(row.instruction) + len(row.input) + len(row.output)
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
            for row in iter_rows(Path(f), fmt, empty_output=True):
                t = _texts(row)
                own = row.raw.get("id")
                own_id = str(own) if own is not None and str(own) != row.id else None
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
        t = _texts(row)
        item = corpus.add(row.id, joined(t, cfg.fields), _priority(row, cfg.keep))
        if check:
            hit = ngram.match(words(joined(t, TEXT_FIELDS)))
            if hit is not None:
                corpus.pre[item] = (CONTAM, int(hit[0]), hit[1])  # type: ignore[call-overload]
        n += 1
    return n, fmt


class _Writer:
    """Kept records and ledger lines, batched; partial files until `finish`."""

    def __init__(self, out: Path | None, ledger: Path) -> None:
        self.out, self.ledger = out, ledger
        for final in (out, ledger):
            if final is not None:
                partial_of(final).unlink(missing_ok=True)  # a rerun redoes the work
        self._out = AppendLog(partial_of(out)) if out else None
        self._ledger = AppendLog(partial_of(ledger))
        self.kept: list[dict[str, Any]] = []
        self.dropped: list[dict[str, Any]] = []

    def flush(self) -> None:
        import orjson

        if self._out is not None:
            self._out.write(self.kept)
        elif self.kept:
            sys.stdout.buffer.write(b"".join(orjson.dumps(o) + b"\n" for o in self.kept))
        self._ledger.write(self.dropped)
        self.kept, self.dropped = [], []

    def abort(self) -> None:
        """An interrupted or failed run leaves no partial files (the old output stays)."""
        for log in (self._out, self._ledger):
            if log is not None:
                log.close()
                log.path.unlink(missing_ok=True)

    def finish(self) -> None:
        self.flush()
        sys.stdout.flush()
        self._ledger.close()
        finalise(self._ledger.path, self.ledger)
        if self._out is not None and self.out is not None:
            self._out.close()
            finalise(self._out.path, self.out)


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
    cfg: DedupConfig, path: Path, fmt: str | None, corpus: Corpus, d: Decisions, w: _Writer
) -> None:
    from array import array

    refs = corpus.refs
    ids = corpus.ids
    # array views: indexing them makes no per-record Python objects up front
    status, match = array("b", d.status.tobytes()), array("q", d.match.tobytes())
    sim, nearest = array("f", d.sim.tobytes()), array("q", d.nearest.tobytes())
    nearest_sim = array("f", d.nearest_sim.tobytes())
    for item, rec in enumerate(_rows(cfg, path, fmt), refs):
        s = status[item]
        if s == KEEP:
            near = nearest[item]
            rec["provenance"]["dedup"] = {
                "nearest": ids[near] if near >= 0 else None,
                "similarity": round(nearest_sim[item], 4) if near >= 0 else 0.0,
            }
            w.kept.append(rec)
        else:
            m = match[item]
            rec["dropped"] = {"stage": "dedup", "reason": REASONS[s], "detail": _detail(cfg, s)}
            rec["match"] = {
                "id": ids[m],
                "similarity": round(sim[item], 4),
                "source": corpus.sources[m] if m < refs else cfg.input,
            }
            if m < refs:  # where to find it: the line, and the record's own id if it had one
                rec["match"]["line"] = corpus.lines[m]
                if corpus.source_ids[m] is not None:
                    rec["match"]["source_id"] = corpus.source_ids[m]
            w.dropped.append(rec)
        if len(w.kept) + len(w.dropped) >= BATCH:
            w.flush()


def _detail(cfg: DedupConfig, status: int) -> str:
    reason = REASONS[status]
    if reason == "contaminated":
        return f"evaluation item: {cfg.ngram}-gram overlap, same text, or near-duplicate"
    if reason == "exact_duplicate":
        return "same normalised " + "+".join(cfg.fields)
    measure = {"minhash": "word 2-gram Jaccard ≥", "rouge-l": "ROUGE-L F1 >"}
    return f"{measure.get(cfg.method, 'cosine ≥')} {cfg.effective_threshold}"


def run_dedup(cfg: DedupConfig, say: Callable[[str], None], embed: Any = None) -> dict[str, Any]:
    threshold = cfg.effective_threshold
    to_stdout = cfg.output == "-"
    out_path = Path(cfg.state_dir) / "stdout" / "dedup.jsonl" if to_stdout else Path(cfg.output)
    ledger = Path(cfg.rejected) if cfg.rejected else ledger_path_for(out_path)
    manifest = manifest_path_for(out_path)
    reads: list[tuple[str, str | Path]] = [("the input", cfg.input)]
    reads += [("the --against", f) for f in cfg.against]
    reads += [("the --decontaminate", f) for f in cfg.decontaminate]
    writes = [("the output (-o)", out_path), ("--rejected", ledger), ("the manifest", manifest)]
    check_outputs("dedup", reads, writes)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    corpus = Corpus(cfg.method, threshold)
    ngram = NgramIndex(cfg.ngram)
    try:
        with _readable(cfg.input) as path:
            ref_counts = _load_refs(cfg, corpus, ngram)
            n, fmt = _read(cfg, path, corpus, ngram)
            t1 = time.perf_counter()
            timings["read"] = t1 - t0
            d = decide(corpus, threshold, embed, cfg.semantic_index)
            t2 = time.perf_counter()
            timings["decide"] = t2 - t1
            input_sha = file_sha256(path)
            writer = _Writer(None if to_stdout else out_path, ledger)
            try:
                _write(cfg, path, fmt, corpus, d, writer)
                writer.finish()
            except BaseException:
                writer.abort()
                raise
    finally:
        corpus.close()
    timings["write"] = time.perf_counter() - t2
    timings["total"] = time.perf_counter() - t0
    dropped: dict[str, int] = {}
    for s in d.status[corpus.refs :].tolist():
        if s != KEEP:
            dropped[REASONS[s]] = dropped.get(REASONS[s], 0) + 1
    kept = n - sum(dropped.values())
    summary: dict[str, Any] = {
        "status": "complete",
        "exit_code": 0,
        "method": cfg.method,
        "threshold": threshold,
        "fields": list(cfg.fields),
        "keep": cfg.keep,
        "counts": {"input": n, "kept": kept, "dropped": dict(sorted(dropped.items()))},
        "references": ref_counts,
        "timings": {k: round(v, 3) for k, v in timings.items()},
        "output": cfg.output if to_stdout else str(out_path),
        "ledger": str(ledger),
        "manifest": str(manifest),
    }
    write_manifest(
        manifest,
        {
            **summary,
            "command": "dedup",
            "config": cfg.model_dump(mode="json"),
            "inputs": [
                {"path": cfg.input, "sha256": input_sha},
                *({"path": f, "sha256": file_sha256(Path(f))} for f in cfg.against),
                *({"path": f, "sha256": file_sha256(Path(f))} for f in cfg.decontaminate),
            ],
            "output_sha256": None if to_stdout else file_sha256(out_path),
            "ledger_sha256": file_sha256(ledger),
        },
    )
    say(
        f"dedup ({cfg.method}): {n} in → {kept} kept · "
        + (", ".join(f"{v} {k}" for k, v in sorted(dropped.items())) or "nothing dropped")
        + f" · {timings['total']:.1f}s"
    )
    return summary

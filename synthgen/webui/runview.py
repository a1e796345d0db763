"""The drift and ledger pages' data: a run's rounds and warnings from its manifest, the
report's metrics, and its ledger browsed by stage and reason."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from synthgen.errors import SynthgenError
from synthgen.webui.charts import Chart, line_chart

PAGE = 20  # ledger entries per page


def _manifest(path: Path) -> dict[str, Any]:
    from synthgen.core.datasets import RUN_MANIFEST

    file = path / RUN_MANIFEST if path.is_dir() else None
    if file is None or not file.is_file():
        return {}
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def names(paths: tuple[Path, ...]) -> list[str]:
    """How the pages name each path: its own name, with its parent's when two share it."""
    short = [p.resolve().name for p in paths]
    if len(set(short)) == len(short):
        return short
    return [f"{p.resolve().parent.name}/{p.resolve().name}" for p in paths]


def seeds_of_run(path: Path) -> Path | None:
    """The first seed file a run dir's manifest names, if it is there to read."""
    config = _manifest(path).get("config")
    seeds = config.get("seeds") if isinstance(config, dict) else None
    first = seeds[0] if isinstance(seeds, list) and seeds else None
    return Path(first) if isinstance(first, str) and Path(first).is_file() else None


@dataclass(frozen=True)
class Drift:
    """One run (or dataset) on the drift page: charts per round, warnings, metrics."""

    name: str
    headline: str
    charts: tuple[Chart, ...]
    rounds: tuple[dict[str, Any], ...]
    warnings: tuple[str, ...]
    metrics: tuple[tuple[str, str, str], ...]


def drift(path: Path, name: str) -> Drift:
    """The drift view of a run dir (rounds from its manifest) or a dataset (metrics only)."""
    from synthgen.core.datasets import dataset_of, ledger_of
    from synthgen.stages.report.build import ReportInputs, build_report
    from synthgen.stages.report.metrics import METRIC_INFO
    from synthgen.stages.report.warnings import Thresholds

    man = _manifest(path)
    rounds = [r for r in man.get("rounds") or [] if isinstance(r, dict)]
    charts = []
    if rounds:
        charts.append(
            line_chart(
                "keep rate and distinct-2 per round",
                {
                    "keep rate": [r.get("keep_rate") for r in rounds],
                    "distinct-2": [r.get("distinct_2") for r in rounds],
                },
            )
        )
        charts.append(
            line_chart(
                "candidates and kept per round",
                {
                    "candidates": [r.get("candidates") for r in rounds],
                    "kept": [r.get("kept") for r in rounds],
                },
            )
        )
    seeds = seeds_of_run(path)
    data = dataset_of(path)
    notes = []
    try:
        report = build_report(
            ReportInputs(data, seed_files=(seeds,) if seeds else (), ledger=ledger_of(data)),
            Thresholds(),
        ).report
    except SynthgenError as e:  # seeds edited since the run: the data's own metrics still show
        if seeds is None:
            raise
        notes.append(f"seeds not compared ({e.message})")
        report = build_report(ReportInputs(data, ledger=ledger_of(data)), Thresholds()).report
    metrics = tuple(
        (name, "–" if value is None else f"{value:.4g}", METRIC_INFO.get(name, ("", ""))[0])
        for name, value in report.metrics.items()
    )
    warnings = [*notes, *(str(w) for w in man.get("warnings") or [])]
    warnings += [f"{w.code}: {w.message}" for w in report.warnings if w.message not in warnings]
    return Drift(
        name,
        str(man.get("headline") or f"{report.records} records in {data.name}"),
        tuple(charts),
        tuple(rounds),
        tuple(dict.fromkeys(warnings)),
        metrics,
    )


@dataclass(frozen=True)
class LedgerView:
    """One page of a ledger: counts by stage and reason, and the matching entries."""

    name: str
    counts: dict[str, dict[str, int]]
    entries: tuple[dict[str, Any], ...]
    matched: int
    page: int
    pages: int


def ledger(path: Path, name: str, stage: str, reason: str, query: str, page: int) -> LedgerView:
    """Entries of the ledger beside `path`, filtered by stage, reason and a text search."""
    from synthgen.core.datasets import ledger_of
    from synthgen.core.jsonl import iter_jsonl

    file = ledger_of(path)
    counts: dict[str, Counter[str]] = {}
    hits: list[dict[str, Any]] = []
    q = query.strip().lower()
    for line, obj in iter_jsonl(file) if file is not None else ():
        raw_drop = obj.get("dropped")
        dropped: dict[str, Any] = raw_drop if isinstance(raw_drop, dict) else {}
        s, r = str(dropped.get("stage", "?")), str(dropped.get("reason", "?"))
        counts.setdefault(s, Counter())[r] += 1
        if (stage and s != stage) or (reason and r != reason):
            continue
        text = {k: obj.get(k) for k in ("instruction", "input", "output", "raw")}
        if q and not any(isinstance(v, str) and q in v.lower() for v in text.values()):
            continue
        hits.append(
            {
                "line": line,
                "id": obj.get("id"),
                "stage": s,
                "reason": r,
                "detail": str(dropped.get("detail", "")),
                **text,
            }
        )
    pages = max(1, -(-len(hits) // PAGE))
    page = min(max(page, 1), pages)
    return LedgerView(
        name,
        {s: dict(c.most_common()) for s, c in sorted(counts.items())},
        tuple(hits[(page - 1) * PAGE : page * PAGE]),
        len(hits),
        page,
        pages,
    )

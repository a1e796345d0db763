"""`synthgen report`'s core: one pass over the data (and seeds), metrics, warnings, compare."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pydantic import Field, SerializerFunctionWrapHandler, model_serializer

from synthgen.errors import InputError
from synthgen.records import Frozen
from synthgen.stages.report.axes import axes_block
from synthgen.stages.report.checks import checks_block
from synthgen.stages.report.collect import Collected, collect_rows, collect_texts, read_ledger
from synthgen.stages.report.conversations import conversations_block
from synthgen.stages.report.metrics import METRIC_INFO, diversity, entropy, quantiles
from synthgen.stages.report.preference import preference_block, preference_compared
from synthgen.stages.report.rules import find_warnings
from synthgen.stages.report.warnings import ReportWarning, Thresholds

SHOWN_OPENERS = 15


class Report(Frozen):
    """Everything `report --json` prints; `metrics` is flat so that reports compare."""

    path: str
    format: str
    records: int
    seed_files: list[str] = Field(default_factory=list)
    seeds: int | None = None
    metrics: dict[str, float | None]
    seed_metrics: dict[str, float | None] | None = None
    sampled: dict[str, int]
    lengths: dict[str, dict[str, float]]
    openers: list[dict[str, Any]]
    traits: dict[str, float]
    conversations: dict[str, Any] | None = None  # only when data or seeds hold conversations
    preference: dict[str, Any] | None = None  # only when the data holds preference pairs
    coverage: dict[str, Any] | None = None
    grounding: dict[str, Any] | None = None  # grounded data: per document and chunk
    drift: dict[str, Any] | None = None
    judge: dict[str, Any] | None = None
    human: dict[str, Any] | None = None
    ledger: dict[str, Any] | None = None
    checks: dict[str, Any] | None = None  # only when checks that execute ran (report/checks.py)
    axes: dict[str, Any] | None = None  # only when records carry provenance.axes (report/axes.py)
    warnings: list[ReportWarning] = Field(default_factory=list)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    compare: dict[str, Any] | None = None

    @model_serializer(mode="wrap")
    def _absent_blocks(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """No `conversations` or `preference` key at all in a report on data without them:
        its JSON stays as it was."""
        out: dict[str, Any] = handler(self)
        for key in ("conversations", "preference", "checks", "grounding", "axes"):
            if out.get(key) is None:
                out.pop(key, None)
        return out


@dataclass(frozen=True)
class Built:
    """A report and the raw material of its plots (lengths, scores, seed credits)."""

    report: Report
    data: Collected
    seeds: Collected | None


@dataclass(frozen=True)
class ReportInputs:
    """What one report reads: the data, and the seeds, verdicts and ledger beside it."""

    data: Path
    seed_files: tuple[Path, ...] = ()
    verdicts: Path | None = None
    ledger: Path | None = None
    fmt: str | None = None
    seed: int = 0


def _text_metrics(c: Collected, seed: int) -> dict[str, float | None]:
    from collections import Counter

    texts = [s.text for s in c.sample]
    out = diversity(texts, c.openers, seed)
    out["opener_entropy"] = entropy(Counter(s.opener for s in c.sample))
    out["exact_duplicate_share"] = c.duplicates / c.n if c.n else None
    return out


def _ledger_block(path: Path, kept: int) -> dict[str, Any]:
    drops = read_ledger(path)
    candidates = kept + sum(sum(r.values()) for r in drops.values())
    dup = {
        stage: sum(c for reason, c in reasons.items() if "duplicate" in reason) / candidates
        for stage, reasons in drops.items()
    }
    return {"path": str(path), "candidates": candidates, "drops": drops, "duplicate_rate": dup}


def build_report(inp: ReportInputs, thresholds: Thresholds) -> Built:
    """Read the data (and seeds, verdicts, ledger) once and compute every section."""
    from synthgen.core.datasets import dataset_of, ledger_of
    from synthgen.seeds.reader import read_seeds
    from synthgen.stages.audit import human_agreement, read_verdicts, verdicts_path_for
    from synthgen.stages.report.coverage import seen_coverage
    from synthgen.stages.report.drift import coverage, drift
    from synthgen.stages.report.judge import judge_block

    inp = replace(inp, data=dataset_of(inp.data))  # a run directory reads its data.jsonl
    vpath = inp.verdicts or verdicts_path_for(inp.data)
    if inp.verdicts is not None and not inp.verdicts.exists():
        raise InputError(str(inp.verdicts), "file not found", hint="check the --verdicts path")
    with_verdicts = inp.verdicts is not None or (str(inp.data) != "-" and vpath.exists())
    data = collect_rows(inp.data, inp.seed, inp.fmt, keep_judge_ids=with_verdicts)
    if data.n == 0:
        raise InputError(str(inp.data), "holds no records", hint="pass a non-empty dataset")
    seed_list = read_seeds(list(inp.seed_files)) if inp.seed_files else None
    seeds = (
        collect_texts(
            (
                (
                    s.id,
                    s.instruction,
                    s.input,
                    s.output,
                    [(t.role, t.content) for t in s.messages] if s.messages else None,
                )
                for s in seed_list
            ),
            inp.seed,
        )
        if seed_list is not None
        else None
    )
    metrics: dict[str, float | None] = {k: None for k in METRIC_INFO}
    metrics["records"] = float(data.n)
    div = _text_metrics(data, inp.seed)
    metrics.update({k: v for k, v in div.items() if k in METRIC_INFO})
    cov = (
        coverage(data, [s.id for s in seed_list] if seed_list else None, inp.seed)
        if data.with_lineage or data.unresolved_lineage
        else None
    )
    if cov:
        metrics["seed_concentration"] = cov["seed_concentration"]
        metrics["seeds_used_share"] = cov["seeds_used_share"]
    dr = drift(data, seeds, inp.seed) if seeds is not None else None
    if dr:
        for k in METRIC_INFO.keys() & dr.keys():
            metrics[k] = dr[k]
    judge = judge_block(data)
    if judge:
        metrics["judge_pass_rate"] = judge["pass_rate"]
        metrics["judge_mean_score"] = judge["mean_score"]
        metrics["judge_length_spearman"] = judge["length_spearman"]
    lpath = inp.ledger or ledger_of(inp.data)
    human = None
    if with_verdicts:
        from synthgen.stages.audit import ledger_judge_by_id

        verdicts = read_verdicts(vpath)
        judged = dict(data.judge_by_id)
        if lpath is not None:
            # audited candidates the judge dropped (audit --include-dropped) are in the ledger
            judged.update(ledger_judge_by_id(lpath, verdicts.keys() - judged.keys()))
        human = {"path": str(vpath), **human_agreement(verdicts, judged)}
        metrics["human_judge_kappa"] = human["kappa"]
    ledger = None
    if lpath is not None:
        ledger = _ledger_block(lpath, data.n)
    n_open = sum(data.openers.values())
    sections: dict[str, Any] = {
        "path": str(inp.data),
        "format": data.fmt,
        "records": data.n,
        "seed_files": [str(p) for p in inp.seed_files],
        "seeds": len(seed_list) if seed_list is not None else None,
        "metrics": metrics,
        "seed_metrics": _text_metrics(seeds, inp.seed) if seeds else None,
        "sampled": {
            "records": len(data.sample),
            "tokens": int(div["token_budget_used"] or 0),
        },
        "lengths": {
            "instruction_words": quantiles(data.instruction_words),
            "output_words": quantiles(data.output_words),
            **(
                {
                    "seed_instruction_words": quantiles(seeds.instruction_words),
                    "seed_output_words": quantiles(seeds.output_words),
                }
                if seeds
                else {}
            ),
        },
        "openers": [
            {"word": w, "count": c, "share": c / n_open}
            for w, c in data.openers.most_common(SHOWN_OPENERS)
        ],
        "traits": data.traits.rates(),
        "conversations": conversations_block(data, seeds),
        "grounding": None if str(inp.data) == "-" else seen_coverage(inp.data, lpath),
        "preference": preference_block(data.pairs, ledger),
        "coverage": cov,
        "drift": dr,
        "judge": judge,
        "human": human,
        "ledger": ledger,
        "checks": checks_block(inp.data, lpath),
        "axes": axes_block(inp.data, lpath),
    }
    sections["warnings"] = find_warnings(sections, thresholds)
    sections["thresholds"] = thresholds
    return Built(Report.model_validate(sections), data, seeds)


def _compared(r: Report) -> dict[str, tuple[float | None, str]]:
    """Every number `--compare` shows: the flat metrics, length quantiles, trait rates and
    duplicate rates per ledger stage, each with its direction."""
    out: dict[str, tuple[float | None, str]] = {
        name: (r.metrics.get(name), direction) for name, (_, direction) in METRIC_INFO.items()
    }
    for field in ("instruction_words", "output_words"):
        for q in ("p10", "p50", "p90", "mean"):
            out[f"{field}_{q}"] = (r.lengths.get(field, {}).get(q), "context (words)")
    for name, rate in r.traits.items():
        out[f"trait_{name}"] = (rate, "higher = more of the habit")
    if r.conversations:  # only a conversation set has (and compares) exchange counts
        for q in ("median", "p90", "mean"):
            out[f"exchanges_{q}"] = (r.conversations["exchanges"][q], "context (exchanges)")
    out.update(preference_compared(r.preference))  # only a preference set has these
    for stage, rate in ((r.ledger or {}).get("duplicate_rate") or {}).items():
        out[f"duplicate_rate_{stage}"] = (rate, "higher = the teacher repeats itself")
    return out


def compare(report: Report, other: Report) -> dict[str, Any]:
    """The change of every metric: this report's value minus the other's."""
    changes = []
    mine, theirs = _compared(report), _compared(other)
    for name in [*mine, *(k for k in theirs if k not in mine)]:  # a stage only one has
        a, direction = mine.get(name) or (None, theirs[name][1])
        b = theirs.get(name, (None, ""))[0]
        changes.append(
            {
                "metric": name,
                "value": a,
                "other": b,
                "change": a - b if a is not None and b is not None else None,
                "direction": direction,
            }
        )
    return {
        "other": other.path,
        "changes": changes,
        "other_warnings": [w.code for w in other.warnings],
    }

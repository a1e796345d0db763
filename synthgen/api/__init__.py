"""The Python API: each stage as a function, with the CLI's option names as keywords.

Every CLI command is exactly one call into this module: the commands that show or convert
(config, seeds, verify, export, report, audit, the stand-in) live in `tools` and `views`
and are re-exported here. None of them writes to stdout or reads stdin unless given "-";
messages for people go to `say` (silent by default), progress to the callbacks given.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Unpack

from synthgen.api.axes import personas_sample as personas_sample
from synthgen.api.axes import topics_propose as topics_propose
from synthgen.api.documents import documents_inspect as documents_inspect
from synthgen.api.options import ENDPOINT_OPTIONS as ENDPOINT_OPTIONS
from synthgen.api.options import EXPAND_OPTIONS as EXPAND_OPTIONS
from synthgen.api.options import FILTER_OPTIONS as FILTER_OPTIONS
from synthgen.api.options import RUN_OPTIONS as RUN_OPTIONS
from synthgen.api.options import BatchFlags as BatchFlags
from synthgen.api.options import EndpointOptions as EndpointOptions
from synthgen.api.options import ExpandOptions as ExpandOptions
from synthgen.api.options import FilterOptions as FilterOptions
from synthgen.api.options import RunOptions as RunOptions
from synthgen.api.options import batch_mode as batch_mode
from synthgen.api.options import config_values as _values
from synthgen.api.options import expand_config as expand_config
from synthgen.api.options import filter_config as filter_config
from synthgen.api.options import load as load
from synthgen.api.options import run_config as run_config
from synthgen.api.options import spelled_out
from synthgen.api.tools import ConfigCheck as ConfigCheck
from synthgen.api.tools import check_configs as check_configs
from synthgen.api.tools import export as export
from synthgen.api.tools import inspect_seeds as inspect_seeds
from synthgen.api.tools import show_config as show_config
from synthgen.api.tools import standin_server as standin_server
from synthgen.api.tools import verify as verify
from synthgen.api.views import AuditOutcome as AuditOutcome
from synthgen.api.views import ReportShown as ReportShown
from synthgen.api.views import audit as audit
from synthgen.api.views import review as review
from synthgen.api.views import show_report as show_report
from synthgen.errors import UsageError

if TYPE_CHECKING:
    from synthgen.llm.stream import LiveRequests as LiveRequests
    from synthgen.pipeline.run_loop import RunProgress as RunProgress
    from synthgen.pipeline.stage import RunSummary
    from synthgen.records import StageSummary as StageSummary
    from synthgen.stages.expand.engine import Progress as Progress
    from synthgen.stages.filter.tally import Tally as Tally
    from synthgen.stages.report.build import Report
    from synthgen.webui.server import ReviewHandle as ReviewHandle

Say = Callable[[str], None]
PathLike = str | Path


def _quiet(message: str) -> None:
    """The default `say`: a library prints nothing unless asked."""


@dataclass(frozen=True)
class Plan:
    """A dry run: what a command would send and cost (its --json), and the same for people."""

    data: dict[str, Any]
    text: str


@spelled_out(ExpandOptions)
def expand(
    seeds: PathLike | Iterable[PathLike],
    *,
    output: PathLike,
    count: int | None = None,
    ledger: PathLike | None = None,
    config: PathLike | None = None,
    say: Say = _quiet,
    on_progress: Callable[[Progress], None] | None = None,
    live: LiveRequests | None = None,
    batch: bool = False,
    wait: bool = False,
    batch_repairs: bool = False,
    **options: Unpack[ExpandOptions],
) -> StageSummary:
    """Expand seed files into `output` through the endpoint; return the run's summary.

    Options are the CLI's (`model`, `base_url`, `strategy`, `per_call`, `max_cost_usd`,
    `state_dir`, ...). Rerunning the same call resumes from the cache. `batch=True` sends
    what the cache cannot answer through the Batch API: the summary's status is "pending"
    until the batches are in (call again, or pass `wait=True`). `live` gets the clients'
    counters, for a progress line.
    """
    from synthgen.stages.expand.stage import run_expand

    mode = batch_mode(batch, wait, batch_repairs)
    cfg = expand_config(seeds, count, config, **options)
    ledger_path = Path(ledger) if ledger else None
    return run_expand(cfg, str(output), ledger_path, say, on_progress, mode, live)


@spelled_out(ExpandOptions)
def expand_plan(
    seeds: PathLike | Iterable[PathLike],
    *,
    count: int | None = None,
    config: PathLike | None = None,
    **options: Unpack[ExpandOptions],
) -> Plan:
    """What `expand` would send and cost, from sample prompts; sends nothing."""
    from synthgen.seeds.reader import read_seeds
    from synthgen.stages.expand.dryrun import describe, plan

    cfg = expand_config(seeds, count, config, **options)
    if not cfg.seeds:
        raise UsageError("no seed files given", hint="synthgen expand SEEDS.jsonl --dry-run")
    result = plan(cfg, read_seeds(cfg.seeds, cfg.seed_format))  # type: ignore[arg-type]
    return Plan(result, describe(result))


@spelled_out(FilterOptions)
def filter(
    input: PathLike,
    *,
    output: PathLike,
    judge: bool = True,
    rules: bool = True,
    ledger: PathLike | None = None,
    config: PathLike | None = None,
    say: Say = _quiet,
    on_progress: Callable[[Tally], None] | None = None,
    on_calibration: Callable[[int, int], None] | None = None,
    live: LiveRequests | None = None,
    batch: bool = False,
    wait: bool = False,
    batch_repairs: bool = False,
    **options: Unpack[FilterOptions],
) -> StageSummary:
    """Drop bad records by rules, then by a judge checked on human `seeds` first
    (`batch=True`: the candidates' verdicts through the Batch API, as `expand`);
    `on_calibration(done, total)` follows the seeds' judging."""
    from synthgen.stages.filter.stage import run_filter

    mode = batch_mode(batch, wait, batch_repairs)
    cfg = filter_config(config, judge=judge, rules=rules, **options)
    ledger_path = Path(ledger) if ledger else None
    return run_filter(
        cfg, Path(input), str(output), ledger_path, say, on_progress, on_calibration, mode, live
    )


@spelled_out(FilterOptions)
def filter_plan(
    input: PathLike,
    *,
    judge: bool = True,
    rules: bool = True,
    config: PathLike | None = None,
    **options: Unpack[FilterOptions],
) -> Plan:
    """How many records `filter`'s rules would drop and what judging would cost; sends
    nothing."""
    from synthgen.stages.filter.dryrun import describe, plan_filter

    cfg = filter_config(config, judge=judge, rules=rules, **options)
    result = plan_filter(cfg, Path(input))
    return Plan(result, describe(result))


@spelled_out(RunOptions)
def run(
    config: PathLike,
    *,
    judge: bool = True,
    offline: bool = False,
    say: Say = _quiet,
    on_progress: Callable[[RunProgress], None] | None = None,
    live: LiveRequests | None = None,
    batch: bool = False,
    wait: bool = False,
    batch_repairs: bool = False,
    **overrides: Unpack[RunOptions],
) -> RunSummary:
    """Exactly `target.count` good records from one config (or fewer on a budget or gate
    stop), written to its run dir; rerunning the same call replays and continues.
    `batch=True`: generation and verdicts through the Batch API (status "pending" until a
    pass finds everything answered; call again, or pass `wait=True`). Once the keep rate
    projects the target over the budget, `say` is told."""
    from synthgen.pipeline.stage import run_config as run_cfg

    mode = batch_mode(batch, wait, batch_repairs)
    if mode is not None and offline:
        raise UsageError("--offline sends nothing, --batch sends batches", hint="pick one")
    cfg = run_config(config, judge=judge, **overrides)
    progress = _budget_warning(cfg.budget.max_cost_usd, say, on_progress)
    return run_cfg(cfg, say, offline=offline, on_progress=progress, batch=mode, live=live)


def _budget_warning(
    cap: float | None, say: Say, on_progress: Callable[[RunProgress], None] | None
) -> Callable[[RunProgress], None]:
    """`on_progress`, and once a warning when the projected cost passes the budget."""
    warned: list[bool] = []

    def progress(p: RunProgress) -> None:
        if on_progress is not None:
            on_progress(p)
        if cap and p.projected_cost_usd and p.projected_cost_usd > cap and not warned:
            warned.append(True)
            say(
                f"warning: at this keep rate the target needs ~${p.projected_cost_usd:.2f}, "
                f"over the ${cap:.2f} budget"
            )

    return progress


@spelled_out(RunOptions)
def run_plan(config: PathLike, *, judge: bool = True, **overrides: Unpack[RunOptions]) -> Plan:
    """Requests, tokens, cost and time `run` would need to reach its target; sends nothing."""
    from synthgen.pipeline.dryrun import describe, plan_run
    from synthgen.seeds.reader import read_seeds

    cfg = run_config(config, judge=judge, **overrides)
    result = plan_run(cfg, read_seeds(cfg.seeds, cfg.seed_format))  # type: ignore[arg-type]
    return Plan(result, describe(result))


def dedup(
    input: PathLike,
    *,
    output: PathLike,
    ledger: PathLike | None = None,
    method: str = "minhash",
    threshold: float | None = None,
    fields: str | Iterable[str] | None = None,
    against: Iterable[PathLike] = (),
    decontaminate: Iterable[PathLike] = (),
    keep: str = "first",
    format: str | None = None,
    embeddings: str = "wordllama",
    semantic_index: str = "auto",
    model: str | None = None,
    base_url: str | None = None,
    state_dir: PathLike = ".synthgen",
    say: Say = _quiet,
) -> StageSummary:
    """Drop exact, near and semantic duplicates, copies of `against` and eval leaks."""
    from pydantic import ValidationError

    from synthgen.stages.dedup.stage import DedupConfig, run_dedup

    if isinstance(fields, str):
        fields = [f.strip() for f in fields.split(",") if f.strip()]
    try:
        cfg = DedupConfig(
            input=str(input),
            output=str(output),
            rejected=str(ledger) if ledger else None,
            method=method,
            threshold=threshold,
            fields=None if fields is None else tuple(fields),
            against=tuple(str(p) for p in against),
            decontaminate=tuple(str(p) for p in decontaminate),
            keep=keep,
            fmt=format,
            state_dir=str(state_dir),
            semantic_index=semantic_index,
        )
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(x) for x in err["loc"])
        msg = str(err["msg"]).removeprefix("Value error, ")
        raise UsageError(f"--{where}: {msg}", hint="e.g. --fields instruction,input") from None
    embed = None
    if cfg.method == "semantic":
        from synthgen.stages.dedup.semantic import make_embedder

        embed = make_embedder(embeddings, model, base_url, Path(state_dir))
    return run_dedup(cfg, say, embed)


def report(
    input: PathLike,
    *,
    seeds: PathLike | Iterable[PathLike] | None = None,
    verdicts: PathLike | None = None,
    ledger: PathLike | None = None,
    format: str | None = None,
    seed: int = 0,
    thresholds: PathLike | None = None,
    threshold: Mapping[str, float] | None = None,
    compare: PathLike | None = None,
    html: PathLike | None = None,
) -> Report:
    """Measure a dataset (diversity, lineage, drift, judge bias); return the typed report
    (`show_report` also renders it and checks quality gates)."""
    return show_report(
        input,
        seeds=seeds,
        verdicts=verdicts,
        ledger=ledger,
        format=format,
        seed=seed,
        thresholds=thresholds,
        threshold=threshold,
        compare=compare,
        html=html,
    ).report


def batch_status(
    *,
    state_dir: PathLike | None = None,
    base_url: str | None = None,
    refresh: bool = True,
    config: PathLike | None = None,
) -> dict[str, Any]:
    """The batches of a state directory (counts, state, age, worst-case cost), each open one
    asked for its status first unless `refresh` is False."""
    from synthgen.stages.batch.commands import batch_status as status

    values = _values("batch", {"state_dir": state_dir, "base_url": base_url}, ENDPOINT_OPTIONS)
    return status(load(config, values), refresh)


def batch_cancel(
    *,
    state_dir: PathLike | None = None,
    base_url: str | None = None,
    wait: bool = True,
    config: PathLike | None = None,
    say: Say = _quiet,
) -> dict[str, Any]:
    """Cancel every open batch of a state directory; with `wait`, wait until they stop and
    keep what they completed, so rerunning the stage without batch mode finishes online."""
    from synthgen.stages.batch.commands import batch_cancel as cancel

    values = _values("batch", {"state_dir": state_dir, "base_url": base_url}, ENDPOINT_OPTIONS)
    return cancel(load(config, values), say, wait)

"""The Python API: each stage as a function, with the CLI's option names as keywords.

The CLI is a thin layer over these functions. None of them writes to stdout or reads stdin
unless given "-"; messages for people go to `say` (silent by default).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from synthgen.errors import UsageError

if TYPE_CHECKING:
    from synthgen.config import Config
    from synthgen.core.batchrun import BatchMode
    from synthgen.pipeline.stage import RunSummary
    from synthgen.records import StageSummary
    from synthgen.stages.report.build import Report

Say = Callable[[str], None]
PathLike = str | Path

# Keyword → dotted config key, for the options `expand` and `filter` share.
ENDPOINT_OPTIONS = {
    "model": "endpoint.model",
    "base_url": "endpoint.base_url",
    "concurrency": "endpoint.concurrency",
    "rpm": "endpoint.rpm",
    "tpm": "endpoint.tpm",
    "timeout": "endpoint.timeout_s",
    "max_attempts": "endpoint.max_attempts",
    "max_cost_usd": "budget.max_cost_usd",
    "max_tokens": "budget.max_tokens",
    "state_dir": "state_dir",
}
EXPAND_OPTIONS = {
    "format": "seed_format",
    "task": "task",
    "strategy": "generation.strategy",
    "per_call": "generation.per_call",
    "human_examples": "generation.human_examples",
    "machine_examples": "generation.machine_examples",
    "temperature": "generation.temperature",
    "top_p": "generation.top_p",
    "seed": "generation.seed",
    "responses": "generation.responses",
    "responses_per_instruction": "generation.responses_per_instruction",
    **ENDPOINT_OPTIONS,
}
FILTER_OPTIONS = {
    "judge_model": "filter.judge.models",
    "threshold": "filter.judge.threshold",
    "rubric": "filter.judge.rubric",
    "reference": "filter.judge.reference",
    "seeds": "filter.judge.seeds",
    "max_seed_fail": "filter.judge.max_seed_fail",
    "anchors": "filter.judge.anchors",
    "length_bias_max": "filter.judge.length_bias_threshold",
    "min_words": "filter.rules.min_words",
    "max_words": "filter.rules.max_words",
    "blacklist": "filter.rules.blacklist",
    "output_format": "filter.rules.output_format",
    "labels": "filter.rules.labels",
    "output_regex": "filter.rules.output_regex",
    "disable_rule": "filter.rules.disable",
    **ENDPOINT_OPTIONS,
}
LISTS = {"judge_model", "seeds", "blacklist", "labels", "disable_rule"}


def _quiet(message: str) -> None:
    """The default `say`: a library prints nothing unless asked."""


def _values(command: str, options: Mapping[str, Any], known: Mapping[str, str]) -> dict[str, Any]:
    """Dotted config keys from keyword options; an unknown keyword is a usage error."""
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise UsageError(
            f"synthgen.{command}() got unknown option(s): {', '.join(unknown)}",
            hint="use the CLI's option names with underscores: " + ", ".join(sorted(known)),
        )
    out: dict[str, Any] = {}
    for name, value in options.items():
        if value is None:
            continue
        if name in LISTS and isinstance(value, str | Path):
            value = [value]
        if isinstance(value, Path) or (name in LISTS and isinstance(value, Iterable)):
            value = [str(v) for v in value] if name in LISTS else str(value)  # type: ignore[union-attr]
        out[known[name]] = value
    return out


def load(config: PathLike | None, values: Mapping[str, Any]) -> Config:
    """The resolved config: `values` (CLI or keywords) > environment > file > defaults."""
    from synthgen.config import load_config

    return load_config(Path(config) if config is not None else None, values)


def batch_mode(
    batch: bool = False, wait: bool = False, batch_repairs: bool = False
) -> BatchMode | None:
    """The Batch API settings of `--batch`, `--wait` and `--batch-repairs` (None: online)."""
    from synthgen.core.batchrun import BatchMode

    if not batch:
        if wait or batch_repairs:
            raise UsageError("--wait and --batch-repairs go with --batch", hint="add --batch")
        return None
    return BatchMode(wait=wait, followups=batch_repairs)


def expand(
    seeds: PathLike | Iterable[PathLike],
    *,
    output: PathLike,
    count: int | None = None,
    ledger: PathLike | None = None,
    config: PathLike | None = None,
    say: Say = _quiet,
    on_progress: Callable[[Any], None] | None = None,
    batch: bool = False,
    wait: bool = False,
    batch_repairs: bool = False,
    **options: Any,
) -> StageSummary:
    """Expand seed files into `output` through the endpoint; return the run's summary.

    Options are the CLI's (`model`, `base_url`, `strategy`, `per_call`, `max_cost_usd`,
    `state_dir`, ...). Rerunning the same call resumes from the cache. `batch=True` sends
    what the cache cannot answer through the Batch API: the summary's status is "pending"
    until the batches are in (call again, or pass `wait=True`).
    """
    from synthgen.stages.expand.stage import run_expand

    mode = batch_mode(batch, wait, batch_repairs)
    cfg = expand_config(seeds, count, config, **options)
    return run_expand(cfg, str(output), Path(ledger) if ledger else None, say, on_progress, mode)


def expand_config(
    seeds: PathLike | Iterable[PathLike],
    count: int | None,
    config: PathLike | None,
    **options: Any,
) -> Config:
    """Expand's resolved config from keyword options (shared with its dry run)."""
    files = [seeds] if isinstance(seeds, str | Path) else list(seeds)
    values = {"seeds": [str(p) for p in files] or None, "generation.count": count}
    return load(config, {**values, **_values("expand", options, EXPAND_OPTIONS)})


def filter(
    input: PathLike,
    *,
    output: PathLike,
    judge: bool = True,
    rules: bool = True,
    ledger: PathLike | None = None,
    config: PathLike | None = None,
    say: Say = _quiet,
    on_progress: Callable[[Any], None] | None = None,
    batch: bool = False,
    wait: bool = False,
    batch_repairs: bool = False,
    **options: Any,
) -> StageSummary:
    """Drop bad records by rules, then by a judge checked on human `seeds` first
    (`batch=True`: the candidates' verdicts through the Batch API, as `expand`)."""
    from synthgen.stages.filter.stage import run_filter

    mode = batch_mode(batch, wait, batch_repairs)
    cfg = filter_config(config, judge=judge, rules=rules, **options)
    ledger_path = Path(ledger) if ledger else None
    return run_filter(cfg, Path(input), str(output), ledger_path, say, on_progress, None, mode)


def filter_config(
    config: PathLike | None, *, judge: bool = True, rules: bool = True, **options: Any
) -> Config:
    """The filter's resolved config from keyword options (shared with its dry run)."""
    if not judge:
        given = [k for k in ("seeds", "anchors", "reference", "rubric") if options.get(k)]
        if given:
            raise UsageError(
                "--seeds, --anchors, --reference and --rubric need the judge",
                hint="drop --no-judge, or drop those options",
            )
    values = _values("filter", options, FILTER_OPTIONS)
    values["filter.judge.enabled"] = None if judge else False
    values["filter.rules.enabled"] = None if rules else False
    return load(config, values)


RUN_OPTIONS = {
    "out": "outputs.dir",
    "count": "target.count",
    "judge_model": "filter.judge.models",
    **ENDPOINT_OPTIONS,
}


def run_config(config: PathLike, *, judge: bool = True, **options: Any) -> Config:
    """`run`'s resolved config: the file, the environment, then keyword overrides."""
    values = _values("run", options, RUN_OPTIONS)
    values["filter.judge.enabled"] = None if judge else False
    return load(config, values)


def run(
    config: PathLike,
    *,
    judge: bool = True,
    offline: bool = False,
    say: Say = _quiet,
    on_progress: Callable[[Any], None] | None = None,
    batch: bool = False,
    wait: bool = False,
    batch_repairs: bool = False,
    **overrides: Any,
) -> RunSummary:
    """Exactly `target.count` good records from one config (or fewer on a budget or gate
    stop), written to its run dir; rerunning the same call replays and continues.
    `batch=True`: generation and verdicts through the Batch API (status "pending" until a
    pass finds everything answered; call again, or pass `wait=True`)."""
    from synthgen.pipeline.stage import run_config as run_cfg

    mode = batch_mode(batch, wait, batch_repairs)
    if mode is not None and offline:
        raise UsageError("--offline sends nothing, --batch sends batches", hint="pick one")
    cfg = run_config(config, judge=judge, **overrides)
    return run_cfg(cfg, say, offline=offline, on_progress=on_progress, batch=mode)


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
    """Measure a dataset (diversity, lineage, drift, judge bias); return the typed report."""
    from synthgen.stages.report.build import ReportInputs, build_report
    from synthgen.stages.report.build import compare as compare_reports
    from synthgen.stages.report.warnings import load_thresholds

    seed_files = () if seeds is None else (Path(seeds),) if isinstance(seeds, str | Path) else seeds
    overrides = [f"{k}={v}" for k, v in (threshold or {}).items()]
    limits = load_thresholds(Path(thresholds) if thresholds else None, overrides)
    common: dict[str, Any] = {
        "seed_files": tuple(Path(p) for p in seed_files),
        "fmt": format,
        "seed": seed,
    }
    built = build_report(
        ReportInputs(
            Path(input),
            verdicts=Path(verdicts) if verdicts else None,
            ledger=Path(ledger) if ledger else None,
            **common,
        ),
        limits,
    )
    result = built.report
    if compare is not None:
        other = build_report(ReportInputs(Path(compare), **common), limits).report
        result = result.model_copy(update={"compare": compare_reports(result, other)})
        built = type(built)(result, built.data, built.seeds)
    if html is not None:
        from synthgen.stages.report.html import write_html

        write_html(built, Path(html))
    return result


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

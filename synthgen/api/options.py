"""The API's keyword options (the CLI's option names), typed; the config key of each; the
config they resolve to.

A keyword left out, or given as None, leaves the setting to the environment, the config
file and the defaults, in that order.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ForwardRef, TypedDict, TypeVar, Unpack

from synthgen.errors import UsageError

if TYPE_CHECKING:
    from synthgen.config import Config
    from synthgen.core.batchrun import BatchMode

PathLike = str | Path
F = TypeVar("F", bound=Callable[..., Any])
# A list option takes one value or several ("--judge-model a --judge-model b").
Many = str | Path | Iterable[str | Path]


class EndpointOptions(TypedDict, total=False):
    """The endpoint, its throughput limits, the budget and the state dir."""

    model: str | None
    base_url: str | None
    concurrency: int | None
    rpm: float | None
    tpm: float | None
    timeout: float | None
    max_attempts: int | None
    max_cost_usd: float | None
    max_tokens: int | None
    state_dir: PathLike | None


class ExpandOptions(EndpointOptions, total=False):
    """`expand`'s options beyond the endpoint's."""

    format: str | None
    task: str | None
    strategy: str | None
    per_call: int | None
    human_examples: int | None
    machine_examples: int | None
    temperature: float | None
    top_p: float | None
    seed: int | None
    responses: str | None
    responses_per_instruction: int | None
    documents: Many | None  # grounded generation: the facts come from these
    verdict_model: str | None  # grounded: the judge of the verdict on the raw chunk


class FilterOptions(EndpointOptions, total=False):
    """`filter`'s options beyond the endpoint's (the judge's, then the rules')."""

    judge_model: Many | None
    threshold: float | None
    rubric: PathLike | None
    reference: PathLike | None
    seeds: Many | None
    max_seed_fail: float | None
    anchors: PathLike | None
    length_bias_max: float | None
    min_words: int | None
    max_words: int | None
    blacklist: Many | None
    output_format: str | None
    labels: Many | None
    output_regex: str | None
    disable_rule: Many | None
    check: Many | None  # checks that execute: sql, json_schema, python (filter.checks)


class RunOptions(EndpointOptions, total=False):
    """`run`'s overrides of its config file beyond the endpoint's (`out`: the old name of
    `output`, the run dir)."""

    output: PathLike | None
    out: PathLike | None
    count: int | None
    judge_model: Many | None


class BatchFlags(TypedDict):
    """`--batch`, `--wait` and `--batch-repairs`, as the stages' functions take them."""

    batch: bool
    wait: bool
    batch_repairs: bool


# Keyword → dotted config key.
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
    "documents": "documents.paths",
    "verdict_model": "grounding.verdict_model",
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
RUN_OPTIONS = {
    "output": "outputs.dir",
    "out": "outputs.dir",
    "count": "target.count",
    "judge_model": "filter.judge.models",
    **ENDPOINT_OPTIONS,
}
LISTS = frozenset({"judge_model", "seeds", "blacklist", "labels", "disable_rule", "documents"})


def spelled_out(options: type) -> Callable[[F], F]:
    """Give a function taking `**kw: Unpack[options]` a signature that lists each keyword
    with its type, so `help()`, `inspect.signature` and tab completion show them all."""

    def decorate(fn: F) -> F:
        sig = inspect.signature(fn)
        keep = [p for p in sig.parameters.values() if p.kind is not p.VAR_KEYWORD]
        known = {p.name for p in keep}
        hints: dict[str, Any] = options.__annotations__
        spelled = [
            inspect.Parameter(
                name,
                inspect.Parameter.KEYWORD_ONLY,
                default=None,
                annotation=hint.__forward_arg__ if isinstance(hint, ForwardRef) else hint,
            )
            for name, hint in hints.items()
            if name not in known
        ]
        fn.__signature__ = sig.replace(parameters=[*keep, *spelled])  # type: ignore[attr-defined]
        return fn

    return decorate


def config_values(
    command: str, options: Mapping[str, Any], known: Mapping[str, str]
) -> dict[str, Any]:
    """Dotted config keys from keyword options; an unknown keyword is a usage error (a
    caller may pass any mapping at run time, typed or not)."""
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


def expand_config(
    seeds: PathLike | Iterable[PathLike],
    count: int | None,
    config: PathLike | None,
    **options: Unpack[ExpandOptions],
) -> Config:
    """Expand's resolved config from keyword options (shared with its dry run)."""
    files = [seeds] if isinstance(seeds, str | Path) else list(seeds)
    values: dict[str, Any] = {"seeds": [str(p) for p in files] or None, "generation.count": count}
    values |= config_values("expand", options, EXPAND_OPTIONS)
    if values.get("documents.paths") and not options.get("strategy"):
        values["generation.strategy"] = "grounded"  # documents given: the facts come from them
    return load(config, values)


def filter_config(
    config: PathLike | None,
    *,
    judge: bool = True,
    rules: bool = True,
    **options: Unpack[FilterOptions],
) -> Config:
    """The filter's resolved config from keyword options (shared with its dry run)."""
    if not judge:
        given = [k for k in ("seeds", "anchors", "reference", "rubric") if options.get(k)]
        if given:
            raise UsageError(
                "--seeds, --anchors, --reference and --rubric need the judge",
                hint="drop --no-judge, or drop those options",
            )
    checks = options.pop("check", None)
    values = config_values("filter", options, FILTER_OPTIONS)
    values["filter.judge.enabled"] = None if judge else False
    values["filter.rules.enabled"] = None if rules else False
    cfg = load(config, values)
    if not checks:
        return cfg
    from synthgen.settings.checks import CHECK_NAMES

    names = [checks] if isinstance(checks, str | Path) else [str(c) for c in checks]
    unknown = sorted(set(map(str, names)) - set(CHECK_NAMES))
    if unknown:
        raise UsageError(
            f"unknown check: {', '.join(unknown)}", hint=f"checks: {', '.join(CHECK_NAMES)}"
        )
    # A check the config file already sets up keeps its settings; the others take defaults.
    on: dict[str, Any] = {
        f"filter.checks.{n}": {} for n in map(str, names) if getattr(cfg.filter.checks, n) is None
    }
    return load(config, {**values, **on}) if on else cfg


def run_config(config: PathLike, *, judge: bool = True, **options: Unpack[RunOptions]) -> Config:
    """`run`'s resolved config: the file, the environment, then keyword overrides."""
    values = config_values("run", options, RUN_OPTIONS)
    values["filter.judge.enabled"] = None if judge else False
    return load(config, values)

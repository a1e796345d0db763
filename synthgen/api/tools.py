"""The API's functions around the stages: config check and show, seeds inspect, verify,
export and the stand-in server. `synthgen.api` re-exports them; each is one CLI command.

Like the stages' functions they print nothing by default: messages go to `say`, reports to
a rich console when one is given.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from synthgen.config import Config
    from synthgen.core.verify import VerifyResult
    from synthgen.errors import UsageError
    from synthgen.seeds.inspect import SeedReport
    from synthgen.stages.export.stage import ExportSummary

Say = Callable[[str], None]
PathLike = str | Path


def _quiet(message: str) -> None:
    """The default `say`: a library prints nothing unless asked."""


@dataclass(frozen=True)
class ConfigCheck:
    """What `config check` found: one result per file (its JSON), and the errors met."""

    configs: list[dict[str, Any]] = field(default_factory=list)
    errors: list[UsageError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every file passed."""
        return not self.errors

    def to_json(self) -> dict[str, Any]:
        """What `config check --json` prints."""
        return {"ok": self.ok, "configs": self.configs}


def check_configs(files: Iterable[PathLike], *, say: Say = _quiet) -> ConfigCheck:
    """Validate config files as `run` reads them (keys, ranges, the files they name, the
    rubric); one line per file to `say`. Never raises for a bad file: the errors are in
    the result, so every file is checked."""
    from synthgen.config import check_config
    from synthgen.errors import UsageError
    from synthgen.stages.filter.judge import load_rubric

    paths = [Path(f) for f in files]
    configs: list[dict[str, Any]] = []
    errors: list[UsageError] = []
    for file in paths:
        try:
            cfg = check_config(file)
            if cfg.filter.judge.enabled and cfg.filter.judge.rubric is not None:
                load_rubric(cfg.filter.judge.rubric)  # a rubric that does not parse stops a run
        except UsageError as e:
            errors.append(e)
            configs.append({"file": str(file), "ok": False, "error": e.message, "hint": e.hint})
            if len(paths) > 1:  # the others are still checked; the last word is the count
                say(f"error: {e.render()}")
            continue
        facts = _facts(cfg)
        configs.append({"file": str(file), "ok": True, **facts})
        budget = f"${facts['max_cost_usd']:.2f}" if facts["max_cost_usd"] else "none"
        judge = ", ".join(facts["judge"]) if facts["judge"] else "off"
        say(
            f"{file}: ok (task {facts['task']}, target {facts['target']} records, "
            f"budget {budget}, generator {facts['generator']}, judge {judge})"
        )
    return ConfigCheck(configs, errors)


def _facts(cfg: Config) -> dict[str, Any]:
    """What `config check` says about a config that passed."""
    judge = cfg.filter.judge
    return {
        "task": cfg.task,
        "target": cfg.target.count,
        "max_cost_usd": cfg.budget.max_cost_usd,
        "generator": cfg.endpoint.model,
        "judge": (judge.models or [cfg.endpoint.model]) if judge.enabled else [],
    }


def show_config(file: PathLike | None = None) -> dict[str, Any]:
    """Every setting `file` resolves to (defaults < file < environment), without secrets."""
    from synthgen.config import load_config

    shown: dict[str, Any] = load_config(Path(file) if file else None, {}).redacted()
    return shown


def inspect_seeds(
    files: Iterable[PathLike],
    *,
    format: str | None = None,
    console: Console | None = None,
    emit_schema: PathLike | None = None,
    config: PathLike | None = None,
) -> SeedReport:
    """Counts, format, length stats, duplicates and problems of seed files, the JSON Schema
    their outputs share (written to `emit_schema`, to edit for the json_schema check) and,
    with a `config` that has generation.axes, their metrics by axis value; rendered to
    `console` when one is given."""
    from rich.markup import escape

    from synthgen.seeds.inspect import inspect_seeds as inspect
    from synthgen.seeds.inspect import render_report
    from synthgen.stages.filter.checks.json_schema import emit, output_schema, schema_lines

    paths = [Path(f) for f in files]
    report = inspect(paths, format)  # type: ignore[arg-type]
    schema = output_schema(paths, format) if not report.problems else None
    by_axis = _seed_axes(paths, format, config)
    report = report.model_copy(update={"output_schema": schema, "axes": by_axis})
    if console is not None:
        render_report(report, console)
        if schema is not None:  # what the json_schema check would infer from these seeds
            console.print("[bold]Outputs[/bold]: JSON objects, as the json_schema check infers")
            for line in schema_lines(schema):
                console.print(escape(line))
    if emit_schema is not None:
        console_say = console.print if console is not None else _quiet
        emit(schema, Path(emit_schema), console_say)
    return report


def _seed_axes(
    paths: list[Path], fmt: str | None, config: PathLike | None
) -> list[dict[str, Any]] | None:
    """The seeds by the config's axis values (None without a config, axes or seeds carrying
    them)."""
    if config is None:
        return None
    from synthgen.config import load_config
    from synthgen.seeds.reader import merge_seed_files, read_seed_file
    from synthgen.stages.report.axes import seed_axes

    axes = load_config(Path(config), {}).generation.axes
    if not axes:
        return None
    files = [read_seed_file(p, fmt, strict=False) for p in paths]  # type: ignore[arg-type]
    seeds, _ = merge_seed_files(files, strict=False)
    known = {
        name: list(spec) if isinstance(spec, (list, dict)) else [] for name, spec in axes.items()
    }
    return seed_axes(seeds, known)


def verify(run_dir: PathLike, *, say: Say = _quiet) -> VerifyResult:
    """Check a run directory against its manifest, and recompute every grounded record's
    spans against the stored texts (a JSONL file that expand wrote: its spans only); each
    problem (or the all-clear) to `say`."""
    from synthgen.documents.spans import verify_grounded

    result = verify_grounded(Path(run_dir))
    for note in result.notes:
        say(note)
    if result.ok:
        say(f"verified: {result.files_checked} files, counts add up")
    else:
        for problem in result.problems:
            say(problem)
        n = len(result.problems)
        say(f"not verified: {n} problem{'s' if n != 1 else ''} in {run_dir}")
    return result


def export(
    source: PathLike,
    *,
    output: PathLike,
    to: str | None = None,
    format: str | None = None,
    with_ids: bool = False,
    split: Mapping[str, float] | Iterable[str] | None = None,
    split_seed: int = 0,
    last_turn: bool = False,
    say: Say = _quiet,
) -> ExportSummary:
    """Write a run directory's (or dataset file's) records for a trainer in format `to`
    (`format`: its old name); `split` as {"validation": 0.05} or ["validation=0.05"]; each
    file written to `say`."""
    from synthgen.stages.export import export as write
    from synthgen.stages.export import parse_splits

    fmt = to or format
    if fmt is None:
        from synthgen.errors import UsageError

        raise UsageError("export needs a format to write", hint="--to alpaca (or messages, ...)")
    splits = dict(split) if isinstance(split, Mapping) else parse_splits(split or ())
    summary = write(
        Path(source),
        Path(output),
        fmt,
        with_ids=with_ids,
        split=splits or None,
        last_turn=last_turn,
        split_seed=split_seed,
    )
    noun = "preference pairs" if summary.format == "dpo" else "records"
    for f in summary.files:
        label = "" if f.path == str(output) else f" ({f.split})"
        say(f"wrote {f.path}: {f.records} {noun}{label}")
    convos = f" ({summary.conversations} conversations)" if summary.conversations else ""
    last = ", last exchange of each conversation" if summary.conversations and last_turn else ""
    say(
        f"exported {summary.records} {noun}{convos} from {summary.source} as {summary.format}{last}"
    )
    return summary


def standin_server(
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    port_file: PathLike | None = None,
    faults: str | Mapping[str, Any] = "{}",
    on_ready: Callable[[str], None] = _quiet,
) -> None:
    """Serve the stand-in endpoint (NO USEFUL DATA) until interrupted; `faults` as JSON or
    a dict of fault switches; `on_ready` gets its URL once it listens."""
    import orjson
    from pydantic import ValidationError

    from synthgen.errors import UsageError
    from synthgen.standin import StandinConfig, serve

    try:
        raw = orjson.loads(faults) if isinstance(faults, str) else dict(faults)
        config = StandinConfig.model_validate(raw)
    except (orjson.JSONDecodeError, ValidationError) as e:
        raise UsageError(f"--faults: {e}", hint="pass a JSON object of fault switches") from None
    serve(config, host, port, Path(port_file) if port_file else None, on_ready)

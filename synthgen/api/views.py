"""The API's functions that show a dataset to people: the report with its quality gates, and
the human audit. `synthgen.api` re-exports them; each is one CLI command.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from synthgen.stages.audit.review import AuditItem
    from synthgen.stages.audit.store import VerdictStore
    from synthgen.stages.report.build import Report
    from synthgen.webui.server import ReviewHandle

PathLike = str | Path
Ask = Callable[[str], "str | None"]


@dataclass(frozen=True)
class ReportShown:
    """A report and the --fail-on gates it tripped (any one: exit 3)."""

    report: Report
    fired: list[str] = field(default_factory=list)


def show_report(
    input: PathLike,
    *,
    seeds: PathLike | Iterable[PathLike] | None = None,
    verdicts: PathLike | None = None,
    ledger: PathLike | None = None,
    format: str | None = None,
    seed: int = 0,
    thresholds: PathLike | None = None,
    threshold: Mapping[str, float] | Iterable[str] | None = None,
    compare: PathLike | None = None,
    html: PathLike | None = None,
    fail_on: Iterable[str] = (),
    console: Console | None = None,
    render: bool = True,
) -> ReportShown:
    """Measure a dataset, compare it, write its HTML; on `console`, the report (when
    `render`), where the HTML went and the gates that fired. `threshold`: NAME=VALUE
    overrides, as a dict or as strings."""
    from synthgen.stages.report.build import ReportInputs, build_report
    from synthgen.stages.report.build import compare as compare_reports
    from synthgen.stages.report.render import render_report
    from synthgen.stages.report.warnings import check_gates, load_thresholds

    seed_files = () if seeds is None else (Path(seeds),) if isinstance(seeds, str | Path) else seeds
    overrides = (
        [f"{k}={v}" for k, v in threshold.items()]
        if isinstance(threshold, Mapping)
        else list(threshold or ())
    )
    limits = load_thresholds(Path(thresholds) if thresholds else None, overrides)
    gates = check_gates(list(fail_on))
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
    fired = sorted({w.code for w in result.warnings} & set(gates))
    if console is not None:
        if render:
            render_report(result, console)
        if html is not None:
            console.print(f"HTML report → {html}")
        if fired:
            console.print(f"quality gate: {', '.join(fired)} fired (--fail-on); exit 3")
    return ReportShown(result, fired)


@dataclass(frozen=True)
class AuditOutcome:
    """How an audit ended: its agreement summary (none after --export), and whether the
    reviewer interrupted it (exit 130; every verdict given is kept)."""

    summary: dict[str, Any] | None
    interrupted: bool = False


def audit(
    data: PathLike,
    *,
    sample: int = 50,
    seed: int = 0,
    verdicts: PathLike | None = None,
    auditor: str | None = None,
    export: PathLike | None = None,
    import_verdicts: PathLike | None = None,
    include_dropped: bool = False,
    summary_only: bool = False,
    format: str | None = None,
    console: Console | None = None,
    ask: Ask | None = None,
    render: bool = True,
) -> AuditOutcome:
    """Review a seeded sample of `data` (answers from `ask`, shown on `console`), or export
    it, or import verdicts; return the judge-human agreement summary (also rendered on
    `console` when `render`)."""
    from rich.console import Console

    from synthgen.core.datasets import dataset_of, ledger_names, ledger_of
    from synthgen.errors import InputError, UsageError
    from synthgen.stages.audit.review import draw_sample, render_summary, summary
    from synthgen.stages.audit.store import VerdictStore, verdicts_path_for

    if sample < 1:
        raise UsageError("--sample must be at least 1", hint="e.g. --sample 50")
    con = console or Console(stderr=True, quiet=True)
    path = dataset_of(Path(data))  # a run directory: its data.jsonl, and dropped.jsonl
    ledger = ledger_of(path) if include_dropped else None
    if include_dropped and ledger is None:
        raise InputError(
            str(data),
            "has no ledger of dropped candidates to sample from",
            hint="looked for "
            + ", ".join(str(p) for p in ledger_names(path))
            + "; drop --include-dropped, or pass the dataset a stage or run wrote",
        )
    items = draw_sample(path, sample, seed, format, ledger)
    if not items:
        raise InputError(str(data), "holds no records to audit", hint="pass a non-empty dataset")
    if export is not None:
        from synthgen.stages.audit.files import export_sample

        export_sample(items, Path(export))
        con.print(f"{len(items)} sampled records → {export}")
        return AuditOutcome(None)
    who = auditor or os.environ.get("USER") or "anonymous"
    store = VerdictStore(Path(verdicts) if verdicts else verdicts_path_for(path))
    try:
        if import_verdicts is not None:
            from synthgen.stages.audit.files import import_verdicts as read_in

            count = read_in(Path(import_verdicts), {i.id: i for i in items}, store, who)
            con.print(f"imported {count} verdicts → {store.path}")
        elif not summary_only:
            if ask is None:
                raise UsageError("an interactive audit needs answers", hint="pass ask=")
            if not _review(items, store, con, who, ask):
                return AuditOutcome(None, interrupted=True)
        agreement = summary(items, store, path, format)
    finally:
        store.close()
    if render and console is not None:
        render_summary(agreement, console)
    return AuditOutcome(agreement)


def _review(
    items: list[AuditItem], store: VerdictStore, console: Console, who: str, ask: Ask
) -> bool:
    """The interactive loop; Ctrl-C keeps every verdict given so far (False: interrupted)."""
    from synthgen.stages.audit.review import run_loop

    try:
        result = run_loop(items, store, ask, console, who)
    except KeyboardInterrupt:
        console.print(f"\ninterrupted; verdicts are saved in {store.path}; rerun to resume")
        return False
    if not result.finished:
        console.print(f"stopped; verdicts are saved in {store.path}; rerun to resume")
    return True


def review(
    path: PathLike,
    compare: PathLike | None = None,
    *,
    seeds: PathLike | None = None,
    host: str = "127.0.0.1",
    port: int | None = None,
    token: str | None = None,
    sample: int = 50,
    seed: int = 0,
    include_dropped: bool = False,
    blind: bool = True,
    open_browser: bool = False,
    wait: bool = False,
    say: Callable[[str], None] | None = None,
    on_ready: Callable[[ReviewHandle], None] | None = None,
) -> ReviewHandle:
    """Serve the review web app for a run dir or dataset (and `compare`, side by side);
    return its handle (`.url` with the token, `.stop()`); `port` None: 8765 if free, else
    any; `wait` blocks until Ctrl-C,
    after `on_ready` (the CLI prints the URL there)."""
    from synthgen.webui.server import is_loopback, open_in_browser, start

    handle = start(
        [Path(path), *([Path(compare)] if compare is not None else [])],
        seeds=Path(seeds) if seeds is not None else None,
        host=host,
        port=port,
        token=token,
        sample=sample,
        seed=seed,
        include_dropped=include_dropped,
        blind=blind,
    )
    tell = say or (lambda _m: None)
    if not is_loopback(host):
        tell(
            f"warning: serving on {host}: anyone who can reach it and has the token can read "
            "and label"
        )
    if on_ready is not None:
        on_ready(handle)
    if open_browser:
        open_in_browser(handle.url)
    if wait:
        try:
            handle.wait()
        except KeyboardInterrupt:
            tell("stopped; labels are saved beside the data")
        finally:
            handle.stop()
    return handle

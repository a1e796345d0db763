"""`synthgen audit`: a human reviews a seeded sample; verdicts become judge-agreement numbers."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from synthgen.cli.common import emit_json, exit_with, format_option

if TYPE_CHECKING:
    from rich.console import Console

    from synthgen.stages.audit.review import AuditItem
    from synthgen.stages.audit.store import VerdictStore


@click.command("audit")
@click.argument("data", metavar="DATA.jsonl", type=click.Path(path_type=Path))
@click.option("--sample", "n", type=int, default=50, show_default=True, help="Records to audit.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the sample.")
@click.option(
    "--verdicts",
    type=click.Path(path_type=Path),
    help="Verdict file, one per auditor [default: DATA's .verdicts.jsonl].",
)
@click.option("--auditor", help="Your name in the verdict file [default: $USER].")
@click.option(
    "--export",
    "export_path",
    type=click.Path(path_type=Path),
    help="Write the sample to .jsonl or .csv for review elsewhere, and stop.",
)
@click.option(
    "--import",
    "import_path",
    type=click.Path(path_type=Path),
    help="Read verdicts (.jsonl or .csv with id and verdict) into the verdict file.",
)
@click.option(
    "--include-dropped",
    is_flag=True,
    help="Also sample candidates the judge dropped (from DATA's ledger), so that judge-human "
    "agreement has both classes.",
)
@click.option("--summary", "summary_only", is_flag=True, help="Only print the agreement summary.")
@format_option
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON on stdout.")
def audit_cmd(
    data: Path,
    n: int,
    seed: int,
    verdicts: Path | None,
    auditor: str | None,
    export_path: Path | None,
    import_path: Path | None,
    include_dropped: bool,
    summary_only: bool,
    fmt: str | None,
    as_json: bool,
) -> None:
    """Review a sample of DATA one record at a time: accept, reject or skip, with a note.

    Every answer is saved at once, so quitting (q, Ctrl-D, Ctrl-C) loses nothing and a rerun
    resumes at the first unanswered record. At the end: the human reject rate with a 95%
    interval, Cohen's kappa between judge pass/fail and human accept/reject, and the judge's
    pass rate on records humans rejected. Verdict files are anchors for `filter --anchors`.

    Examples:

      synthgen audit kept.jsonl --sample 50

      synthgen audit kept.jsonl --verdicts bob.verdicts.jsonl --auditor bob

      synthgen audit kept.jsonl --export review.csv

      synthgen audit kept.jsonl --import review.csv
    """
    from rich.console import Console

    from synthgen.core.sink import ledger_path_for
    from synthgen.errors import InputError, UsageError
    from synthgen.stages.audit.review import draw_sample, render_summary, summary
    from synthgen.stages.audit.store import VerdictStore, verdicts_path_for

    if n < 1:
        raise UsageError("--sample must be at least 1", hint="e.g. --sample 50")
    console = Console(stderr=True, highlight=False, soft_wrap=True)
    ledger = ledger_path_for(data) if include_dropped else None
    items = draw_sample(data, n, seed, fmt, ledger)
    if not items:
        raise InputError(str(data), "holds no records to audit", hint="pass a non-empty dataset")
    if export_path is not None:
        from synthgen.stages.audit.files import export_sample

        export_sample(items, export_path)
        console.print(f"{len(items)} sampled records → {export_path}")
        return
    who = auditor or os.environ.get("USER") or "anonymous"
    store = VerdictStore(verdicts or verdicts_path_for(data))
    try:
        if import_path is not None:
            from synthgen.stages.audit.files import import_verdicts

            count = import_verdicts(import_path, {i.id: i for i in items}, store, who)
            console.print(f"imported {count} verdicts → {store.path}")
        elif not summary_only:
            _review(items, store, console, who)
        s = summary(items, store, data, fmt)
    finally:
        store.close()
    if as_json:
        emit_json(s)
    else:
        render_summary(s, console)


def _review(items: list[AuditItem], store: VerdictStore, console: Console, who: str) -> None:
    """The interactive loop; Ctrl-C keeps every verdict given so far."""
    from synthgen.stages.audit.review import run_loop

    try:
        result = run_loop(items, store, _ask, console, who)
    except KeyboardInterrupt:
        console.print(f"\ninterrupted; verdicts are saved in {store.path}; rerun to resume")
        exit_with(130)
    if not result.finished:
        console.print(f"stopped; verdicts are saved in {store.path}; rerun to resume")


def _ask(prompt: str) -> str | None:
    sys.stderr.write(prompt)
    sys.stderr.flush()
    line = sys.stdin.readline()
    return line if line else None

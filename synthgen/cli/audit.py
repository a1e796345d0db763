"""`synthgen audit`: a human reviews a seeded sample; verdicts become judge-agreement numbers."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from synthgen.cli.common import emit_json, exit_with, format_option


@click.command("audit")
@click.argument("data", metavar="DATA.jsonl|RUN_DIR", type=click.Path(path_type=Path))
@click.option("--sample", "n", type=int, default=50, show_default=True, help="Records to audit.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the sample.")
@click.option(
    "--verdicts",
    type=click.Path(path_type=Path),
    help="Verdict file, one per auditor.",
    show_default="DATA's .verdicts.jsonl",
)
@click.option("--auditor", help="Your name in the verdict file.", show_default="$USER")
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
    help="Also sample candidates the judge dropped (from the ledger: a run dir's "
    "dropped.jsonl, else DATA's .ledger.jsonl), so that judge-human agreement has both classes.",
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
    """Review a sample of DATA (or a run dir's data.jsonl) one record at a time: accept,
    reject or skip, with a note.

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

    import synthgen.api as api

    outcome = api.audit(
        data,
        sample=n,
        seed=seed,
        verdicts=verdicts,
        auditor=auditor,
        export=export_path,
        import_verdicts=import_path,
        include_dropped=include_dropped,
        summary_only=summary_only,
        format=fmt,
        console=Console(stderr=True, highlight=False, soft_wrap=True),
        ask=_ask,
        render=not as_json,
    )
    if outcome.interrupted:
        exit_with(130)
    if as_json and outcome.summary is not None:
        emit_json(outcome.summary)


def _ask(prompt: str) -> str | None:
    sys.stderr.write(prompt)
    sys.stderr.flush()
    line = sys.stdin.readline()
    return line if line else None

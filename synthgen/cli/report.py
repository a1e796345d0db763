"""`synthgen report`: diversity, lineage, drift and judge bias of a dataset, with gates."""

from __future__ import annotations

from pathlib import Path

import click

from synthgen.cli.common import emit_json, exit_with


@click.command("report")
@click.argument("data", metavar="DATA.jsonl|RUN_DIR", type=click.Path(path_type=Path))
@click.option(
    "--seeds",
    "seed_files",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Human seed file(s): enables drift, trait ratios and unused-seed counts.",
)
@click.option("--html", "html_path", type=click.Path(path_type=Path), help="Write an HTML report.")
@click.option(
    "--compare",
    "compare_path",
    type=click.Path(path_type=Path),
    help="Another dataset of the same task: show the change of every metric.",
)
@click.option(
    "--verdicts",
    type=click.Path(path_type=Path),
    help="Human verdicts from `audit`.",
    show_default="DATA's .verdicts.jsonl if present",
)
@click.option(
    "--ledger",
    type=click.Path(path_type=Path),
    help="Ledger of dropped candidates.",
    show_default="a run dir's dropped.jsonl, else DATA's .ledger.jsonl, if present",
)
@click.option("--format", "fmt", help="Force the dataset format (else autodetected).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the samples.")
@click.option(
    "-t",
    "--threshold",
    "overrides",
    multiple=True,
    metavar="NAME=VALUE",
    help="Change a warning threshold, e.g. rouge_l_max=0.5 (see docs/report.md).",
)
@click.option(
    "--thresholds",
    "thresholds_file",
    type=click.Path(path_type=Path),
    help="YAML file of thresholds (NAME: VALUE).",
)
@click.option(
    "--fail-on",
    multiple=True,
    metavar="CODE",
    help="Exit 3 when this warning fires (repeat, comma-separate, or 'any'): a CI gate.",
)
@click.option("--json", "as_json", is_flag=True, help="Print every metric and warning as JSON.")
def report_cmd(
    data: Path,
    seed_files: tuple[Path, ...],
    html_path: Path | None,
    compare_path: Path | None,
    verdicts: Path | None,
    ledger: Path | None,
    fmt: str | None,
    seed: int,
    overrides: tuple[str, ...],
    thresholds_file: Path | None,
    fail_on: tuple[str, ...],
    as_json: bool,
) -> None:
    """Measure a dataset (or a run dir's data.jsonl and dropped.jsonl): diversity, collapse,
    seed lineage, drift from seeds, judge bias.

    Prints a summary with warnings in plain words (stable codes: collapse, repetition,
    opener_collapse, duplicates, seed_skew, length_bias, chosen_longer, trait_drift,
    length_drift, format_drift, judge_disagrees, value_judge_fails). --fail-on turns warnings
    into a quality gate (exit 3). Preference pairs (from filter) add how often chosen is the
    longer answer and the judge's position consistency.

    Examples:

      synthgen report kept.jsonl --seeds seeds.jsonl --html report.html

      synthgen report kept.jsonl --compare last_week.jsonl --json

      synthgen report kept.jsonl --seeds seeds.jsonl --fail-on collapse,seed_skew
    """
    from rich.console import Console

    import synthgen.api as api

    shown = api.show_report(
        data,
        seeds=seed_files,
        verdicts=verdicts,
        ledger=ledger,
        format=fmt,
        seed=seed,
        thresholds=thresholds_file,
        threshold=overrides,
        compare=compare_path,
        html=html_path,
        fail_on=fail_on,
        console=Console(stderr=True),
        render=not as_json,
    )
    if as_json:
        emit_json(shown.report.model_dump(mode="json"))
    if shown.fired:
        exit_with(3)

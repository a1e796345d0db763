"""`synthgen seeds inspect`: look at seed files before expanding them."""

from __future__ import annotations

from pathlib import Path

import click

from synthgen.cli.common import SuggestingGroup, emit_json, exit_with, json_option


@click.group("seeds", cls=SuggestingGroup)
def seeds_group() -> None:
    """Look at seed files before expanding them."""


@seeds_group.command("inspect")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--format", "seed_format", help="Force the seed format (else autodetected).")
@click.option(
    "--emit-schema",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the JSON Schema the outputs share (json_schema check) to this file.",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="A config whose generation.axes the seeds carry (a field or meta key of each "
    "axis's name): break the metrics down by axis value.",
)
@json_option
def seeds_inspect(
    files: tuple[Path, ...],
    seed_format: str | None,
    emit_schema: Path | None,
    config_file: Path | None,
    as_json: bool,
) -> None:
    """Counts, format, length stats, duplicates and problems of seed FILES. Exit 2 when a
    problem made a record unreadable (after the report: every problem is listed).

    Examples:

      synthgen seeds inspect seeds/support_triage.jsonl

      synthgen seeds inspect data/*.jsonl --json

      synthgen seeds inspect seeds/support_triage.jsonl --emit-schema triage.schema.json

      synthgen seeds inspect seeds/support_triage.jsonl --config my-run.yaml
    """
    from rich.console import Console

    import synthgen.api as api

    console = None if as_json else Console(stderr=True)
    report = api.inspect_seeds(
        files, format=seed_format, console=console, emit_schema=emit_schema, config=config_file
    )
    if as_json:
        emit_json(report.model_dump(mode="json"))
    if any(p.severity == "error" for p in report.problems):
        exit_with(2)

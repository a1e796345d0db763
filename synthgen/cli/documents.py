"""`synthgen documents inspect`: look at source documents before generating from them."""

from __future__ import annotations

from pathlib import Path

import click

from synthgen.cli.common import SuggestingGroup, emit_json, exit_with, json_option


@click.group("documents", cls=SuggestingGroup)
def documents_group() -> None:
    """Look at source documents before generating from them."""


@documents_group.command("inspect")
@click.argument("paths", nargs=-1)
@click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path),
    help="Inspect this run config's documents: section too (its paths and sizes).",
)
@click.option("--chunk-tokens", type=int, help="Chunk size in tokens (else the config's, or 400).")
@click.option(
    "--min-chunk-tokens",
    type=int,
    help="Smaller chunks are merged into a neighbour (else the config's, or 50, or a quarter "
    "of --chunk-tokens if smaller).",
)
@click.option("--chunks", "list_chunks", is_flag=True, help="List every chunk too.")
@json_option
def documents_inspect(
    paths: tuple[str, ...],
    config_file: Path | None,
    chunk_tokens: int | None,
    min_chunk_tokens: int | None,
    list_chunks: bool,
    as_json: bool,
) -> None:
    """Parser, extracted characters, chunks and their sizes, and headings of each document
    in PATHS (files, folders, or quoted globs; .md .txt .html .pdf .docx) and in a run
    config's documents: section (--config). Exit 2 naming every empty, unreadable or
    unsupported file (after the report).

    Examples:

      synthgen documents inspect examples/documents

      synthgen documents inspect 'manuals/**/*.pdf' --chunk-tokens 300 --json

      synthgen documents inspect --config my-run.yaml --chunks
    """
    from rich.console import Console

    import synthgen.api as api

    console = None if as_json else Console(stderr=True)
    report = api.documents_inspect(
        paths,
        config=config_file,
        chunk_tokens=chunk_tokens,
        min_chunk_tokens=min_chunk_tokens,
        console=console,
        chunks=list_chunks,
    )
    if as_json:
        emit_json(report.model_dump(mode="json"))
    if report.problems:
        exit_with(2)

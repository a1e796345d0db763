"""`synthgen documents inspect`: look at source documents before generating from them."""

from __future__ import annotations

import click

from synthgen.cli.common import SuggestingGroup, emit_json, exit_with, json_option


@click.group("documents", cls=SuggestingGroup)
def documents_group() -> None:
    """Look at source documents before generating from them."""


@documents_group.command("inspect")
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "--chunk-tokens", type=int, default=400, show_default=True, help="Chunk size in tokens."
)
@click.option(
    "--min-chunk-tokens",
    type=int,
    default=50,
    show_default=True,
    help="Smaller chunks are merged into a neighbour.",
)
@click.option("--chunks", "list_chunks", is_flag=True, help="List every chunk too.")
@json_option
def documents_inspect(
    paths: tuple[str, ...],
    chunk_tokens: int,
    min_chunk_tokens: int,
    list_chunks: bool,
    as_json: bool,
) -> None:
    """Parser, extracted characters, chunks and their sizes, and headings of each document
    in PATHS (files, folders, or quoted globs; .md .txt .html .pdf .docx). Exit 2 naming
    every empty, unreadable or unsupported file (after the report).

    Examples:

      synthgen documents inspect examples/documents

      synthgen documents inspect 'manuals/**/*.pdf' --chunk-tokens 300 --json
    """
    from rich.console import Console

    import synthgen.api as api

    console = None if as_json else Console(stderr=True)
    report = api.documents_inspect(
        paths,
        chunk_tokens=chunk_tokens,
        min_chunk_tokens=min_chunk_tokens,
        console=console,
        chunks=list_chunks,
    )
    if as_json:
        emit_json(report.model_dump(mode="json"))
    if report.problems:
        exit_with(2)

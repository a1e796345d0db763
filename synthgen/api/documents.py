"""The API's function for documents in: `documents_inspect`, re-exported by `synthgen.api`."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

    from synthgen.documents.inspect import DocumentsReport

PathLike = str | Path


def documents_inspect(
    paths: Iterable[PathLike],
    *,
    chunk_tokens: int = 400,
    min_chunk_tokens: int = 50,
    base: PathLike | None = None,
    console: Console | None = None,
    chunks: bool = False,
) -> DocumentsReport:
    """Documents, parsers, extracted characters, chunks and their sizes, headings, and the
    files that cannot be used (`report.problems`), as a run would read them; paths (files,
    folders, globs) relative to `base` (default: the working directory). Rendered to
    `console` when one is given (`chunks`: list every chunk too)."""
    from pydantic import ValidationError

    from synthgen.documents.inspect import inspect_documents, render_report
    from synthgen.documents.settings import DocumentsSettings
    from synthgen.errors import UsageError

    # The config's own checks on the sizes, so both say the same about a bad size.
    sizes = {"chunk_tokens": chunk_tokens, "min_chunk_tokens": min_chunk_tokens}
    try:
        DocumentsSettings.model_validate(sizes)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "chunk sizes"
        raise UsageError(
            f"{where}: {first['msg'].removeprefix('Value error, ')}",
            hint="chunk_tokens between 16 and 100000, min_chunk_tokens below it",
        ) from None
    report = inspect_documents(
        list(paths),
        base=Path.cwd() if base is None else Path(base),
        chunk_tokens=chunk_tokens,
        min_chunk_tokens=min_chunk_tokens,
    )
    if console is not None:
        render_report(report, console, chunks=chunks)
    return report

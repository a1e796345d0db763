"""The API's function for documents in: `documents_inspect`, re-exported by `synthgen.api`."""

from __future__ import annotations

from collections.abc import Iterable
from os.path import relpath
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

    from synthgen.documents.inspect import DocumentsReport

PathLike = str | Path


def documents_inspect(
    paths: Iterable[PathLike] = (),
    *,
    chunk_tokens: int | None = None,
    min_chunk_tokens: int | None = None,
    base: PathLike | None = None,
    config: PathLike | None = None,
    console: Console | None = None,
    chunks: bool = False,
) -> DocumentsReport:
    """Documents, parsers, extracted characters, chunks and their sizes, headings, and the
    files that cannot be used (`report.problems`), as a run would read them.

    `paths` (files, folders, globs) are relative to `base` (default: the working directory).
    With `config`, its `documents:` section is inspected too — its paths relative to the
    config file's folder, its chunk sizes unless given here. Rendered to `console` when one
    is given (`chunks`: list every chunk too)."""
    from pydantic import ValidationError

    from synthgen.documents.inspect import inspect_documents, render_report
    from synthgen.documents.settings import DocumentsSettings
    from synthgen.errors import UsageError

    here = Path.cwd() if base is None else Path(base)
    named: list[Path | str] = [paths] if isinstance(paths, str | Path) else list(paths)
    settings = DocumentsSettings()
    if config is not None:
        from synthgen.config import load_config

        cfg = load_config(Path(config), {})
        settings = cfg.documents
        home = (cfg.home or Path.cwd()).absolute()
        # Shown from `base`, as the paths named here are: configs/../docs reads docs.
        named += [p if Path(p).is_absolute() else relpath(home / p, here) for p in settings.paths]
    if not named:
        raise UsageError(
            "no documents to inspect",
            hint="name files, folders or globs, or a config with a documents: section",
        )
    # The config's own checks on the sizes, so both say the same about a bad size.
    sizes = {"chunk_tokens": settings.chunk_tokens if chunk_tokens is None else chunk_tokens}
    if min_chunk_tokens is not None or chunk_tokens is None:
        sizes["min_chunk_tokens"] = (
            settings.min_chunk_tokens if min_chunk_tokens is None else min_chunk_tokens
        )
    try:
        settings = DocumentsSettings.model_validate(sizes)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "chunk sizes"
        raise UsageError(
            f"{where}: {first['msg'].removeprefix('Value error, ')}",
            hint="chunk_tokens between 16 and 100000, min_chunk_tokens below it",
        ) from None
    report = inspect_documents(
        named,
        base=here,
        chunk_tokens=settings.chunk_tokens,
        min_chunk_tokens=settings.min_chunk_tokens,
    )
    if console is not None:
        render_report(report, console, chunks=chunks)
    return report

"""`documents inspect`: what a set of documents will give, before any spend — parser,
extracted characters, chunks and their sizes, headings, and the files that cannot be used."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field

from synthgen.documents.corpus import chunk_document, scan
from synthgen.llm.tokens import estimate
from synthgen.records import Frozen

if TYPE_CHECKING:
    from rich.console import Console

SHOWN = 12  # headings and problems per document in the terminal; --json has everything


class TokenStats(Frozen):
    """Chunk sizes in tokens: how many chunks, and their spread."""

    chunks: int = 0
    min: int = 0
    p50: float = 0.0
    p90: int = 0
    max: int = 0
    total: int = 0

    @classmethod
    def of(cls, sizes: Sequence[int]) -> TokenStats:
        """The stats of `sizes`, all zero when there are none."""
        if not sizes:
            return cls()
        ordered = sorted(sizes)
        return cls(
            chunks=len(ordered),
            min=ordered[0],
            p50=float(statistics.median(ordered)),
            p90=ordered[min(len(ordered) - 1, (len(ordered) * 9) // 10)],
            max=ordered[-1],
            total=sum(ordered),
        )


class ChunkInfo(Frozen):
    """One chunk as inspect lists it (its text is left out: it is the document's span)."""

    id: str
    start: int
    end: int
    tokens: int
    heading_path: tuple[str, ...]


class DocumentInfo(Frozen):
    """One usable document: how it was read and what it was cut into."""

    path: str
    parser: str
    parser_version: str
    sha256: str
    text_sha256: str
    chars: int
    tokens: TokenStats
    over_size: int = Field(description="chunks above chunk_tokens: a table or code kept whole")
    headings: list[tuple[str, ...]] = Field(description="every heading path, in order")
    chunks: list[ChunkInfo]


class DocumentProblem(Frozen):
    """A named file that cannot be used, why, and how to fix it."""

    path: str
    message: str
    hint: str | None = None


class DocumentsReport(Frozen):
    """What `synthgen documents inspect --json` prints."""

    chunk_tokens: int
    min_chunk_tokens: int
    token_count: str = Field(description="how tokens are counted")
    documents: list[DocumentInfo]
    chars: int
    tokens: TokenStats
    duplicates: list[str] = Field(description="files whose text repeats an earlier one (unused)")
    problems: list[DocumentProblem]


def _headings(text: str) -> list[tuple[str, ...]]:
    """Every distinct heading path of the document, in the order they open."""
    from synthgen.documents.blocks import blocks

    seen: dict[tuple[str, ...], None] = {}
    for b in blocks(text):
        if b.kind == "heading" and b.path:
            seen.setdefault(b.path, None)
    return list(seen)


def inspect_documents(
    paths: Sequence[Path | str], *, base: Path, chunk_tokens: int, min_chunk_tokens: int
) -> DocumentsReport:
    """Read and chunk every named document as a run would, collecting every problem."""
    result = scan(paths, base=base)
    infos: list[DocumentInfo] = []
    every: list[int] = []
    for doc, parsed in result.found:
        chunks = chunk_document(
            doc,
            parsed.text,
            chunk_tokens=chunk_tokens,
            min_chunk_tokens=min_chunk_tokens,
            count=estimate,
        )
        sizes = [c.tokens for c in chunks]
        every += sizes
        infos.append(
            DocumentInfo(
                path=doc.path,
                parser=doc.parser,
                parser_version=doc.parser_version,
                sha256=doc.sha256,
                text_sha256=doc.text_sha256,
                chars=doc.chars,
                tokens=TokenStats.of(sizes),
                over_size=sum(1 for s in sizes if s > chunk_tokens),
                headings=_headings(parsed.text),
                chunks=[ChunkInfo.model_validate(c, from_attributes=True) for c in chunks],
            )
        )
    return DocumentsReport(
        chunk_tokens=chunk_tokens,
        min_chunk_tokens=min_chunk_tokens,
        token_count="estimate (chars/4)",
        documents=infos,
        chars=sum(d.chars for d in infos),
        tokens=TokenStats.of(every),
        duplicates=list(result.duplicates),
        problems=[
            DocumentProblem(path=p.path, message=p.message, hint=p.hint) for p in result.problems
        ],
    )


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def render_report(report: DocumentsReport, console: Console, *, chunks: bool = False) -> None:
    """A terminal summary (every string from a file escaped, never markup); `chunks` lists
    each chunk's id, span, size and heading path too."""
    from rich.markup import escape
    from rich.table import Table

    t = report.tokens
    console.print(
        f"[bold]{_plural(len(report.documents), 'document')}[/bold], "
        f"{report.chars:,} characters → [bold]{_plural(t.chunks, 'chunk')}[/bold] "
        f"of ≤ {report.chunk_tokens} tokens ({report.token_count})"
    )
    table = Table(box=None)
    table.add_column("document", overflow="fold")
    for name in ("parser", "chars", "chunks", "tokens min/median/p90/max"):
        table.add_column(name)
    for d in report.documents:
        s = d.tokens
        table.add_row(
            escape(d.path),
            escape(d.parser),
            f"{d.chars:,}",
            str(s.chunks) + (f" ({d.over_size} over size)" if d.over_size else ""),
            f"{s.min}/{s.p50:g}/{s.p90}/{s.max}",
        )
    if report.documents:
        console.print(table)
    for d in report.documents:
        if d.headings:
            console.print(f"[bold]{escape(d.path)}[/bold] headings ({len(d.headings)})")
            for h in d.headings[:SHOWN]:
                console.print("  " + "  " * (len(h) - 1) + escape(h[-1] or "(untitled)"))
            if len(d.headings) > SHOWN:
                console.print(f"  [dim]… and {len(d.headings) - SHOWN} more (--json lists all)")
        if chunks:
            for c in d.chunks:
                where = " › ".join(c.heading_path) or "(no heading)"
                console.print(
                    f"  {c.id}  {c.start}–{c.end}  {c.tokens} tokens  [dim]{escape(where)}[/dim]"
                )
    for path in report.duplicates:
        console.print(f"[yellow]![/yellow] {escape(path)}: the same text as an earlier one, unused")
    if report.problems:
        console.print(f"[bold]Cannot be used[/bold] ({len(report.problems)})")
        for p in report.problems:
            console.print(f"  [red]error[/red] {escape(p.path)}: {escape(p.message)}")
            if p.hint:
                console.print(f"    [dim]how to fix: {escape(p.hint)}[/dim]")
    elif report.documents:
        console.print("[green]Documents look ready.[/green]")

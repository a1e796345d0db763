"""load_corpus: paths, folders and globs → parsed documents → chunks with exact offsets."""

from __future__ import annotations

import glob as globlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from synthgen.documents.chunking import Count, spans
from synthgen.documents.model import Chunk, Corpus, Document, chunk_id
from synthgen.documents.parse import parse, supported
from synthgen.documents.parsed import Parsed
from synthgen.errors import InputError, SynthgenError, UsageError
from synthgen.llm.tokens import estimate
from synthgen.records import sha256_hex

DEFAULT_CHUNK_TOKENS = 400
DEFAULT_MIN_CHUNK_TOKENS = 50
_GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True)
class Problem:
    """A named file that cannot be used, and why."""

    path: str
    message: str
    hint: str | None = None


@dataclass
class Scan:
    """What reading the named paths found: documents with their parsed text, and problems."""

    found: list[tuple[Document, Parsed]] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def expand_paths(
    paths: Sequence[Path | str], base: Path
) -> tuple[list[tuple[str, Path]], list[Problem]]:
    """Each named file, every supported file under a named folder (sorted, hidden ones
    skipped) and every match of a glob, as (path as shown, real path), each once."""
    out: list[tuple[str, Path]] = []
    problems: list[Problem] = []
    seen: set[Path] = set()

    def add(shown: str, real: Path) -> None:
        key = real.resolve()
        if key not in seen:
            seen.add(key)
            out.append((shown, real))

    for raw in paths:
        name = str(raw)
        real = Path(name) if Path(name).is_absolute() else base / name
        if real.is_dir():
            inside = sorted(
                f
                for f in real.rglob("*")
                if f.is_file()
                and supported(f)
                and not any(part.startswith(".") for part in f.relative_to(real).parts)
            )
            if not inside:
                problems.append(Problem(name, "no .md, .txt, .html, .pdf or .docx in the folder"))
            for f in inside:
                add((Path(name) / f.relative_to(real)).as_posix(), f)
        elif real.exists() or not (_GLOB_CHARS & set(name)):
            add(name, real)
        else:
            # root_dir: the base's own name may hold glob characters ("[draft]").
            root = None if Path(name).is_absolute() else base
            matches = sorted(globlib.glob(name, root_dir=root, recursive=True))
            files = [m for m in matches if supported(Path(m)) and (base / m).is_file()]
            if not files:
                problems.append(Problem(name, "no supported document matches this pattern"))
            for m in files:
                add(Path(m).as_posix(), base / m)
    return out, problems


def scan(paths: Sequence[Path | str], *, base: Path) -> Scan:
    """Parse every named document, collecting every problem rather than stopping at one."""
    if isinstance(paths, str | Path):
        paths = [paths]  # one path, not a sequence of characters
    files, problems = expand_paths(paths, base)
    result = Scan(problems=problems)
    if not paths:
        result.problems.append(Problem("(none)", "no documents were named"))
    texts: set[str] = set()
    for shown, real in files:
        try:
            parsed, file_sha = parse(shown, real)
        except UsageError as e:  # unreadable, unsupported, or its parser is not installed
            result.problems.append(Problem(shown, e.message.removeprefix(f"{shown}: "), e.hint))
            continue
        if not parsed.text.strip():
            result.problems.append(
                Problem(shown, f"no text ({parsed.parser} parser found none)", _empty_hint(parsed))
            )
            continue
        text_sha = sha256_hex(parsed.text)
        if text_sha in texts:
            result.duplicates.append(shown)
            continue
        texts.add(text_sha)
        doc = Document(
            path=shown,
            sha256=file_sha,
            parser=parsed.parser,
            parser_version=parsed.parser_version,
            text_sha256=text_sha,
            chars=len(parsed.text),
        )
        result.found.append((doc, parsed))
    return result


def _empty_hint(parsed: Parsed) -> str:
    if parsed.parser == "pdf":
        return "a scanned PDF has no text layer: run OCR first (e.g. ocrmypdf or docling)"
    return "remove the file or give it content"


def chunk_document(
    doc: Document, text: str, *, chunk_tokens: int, min_chunk_tokens: int, count: Count
) -> tuple[Chunk, ...]:
    """A document's chunks: spans that tile its extracted text."""
    return tuple(
        Chunk(
            id=chunk_id(doc.text_sha256, i),
            document=doc.path,
            text_sha256=doc.text_sha256,
            index=i,
            start=s.start,
            end=s.end,
            sha256=sha256_hex(text[s.start : s.end]),
            heading_path=s.path,
            text=text[s.start : s.end],
            tokens=count(text[s.start : s.end]),
        )
        for i, s in enumerate(spans(text, chunk_tokens, min_chunk_tokens, count))
    )


def problems_error(problems: Sequence[Problem]) -> SynthgenError:
    """One exit-2 error naming every document that cannot be used."""
    if len(problems) == 1:
        p = problems[0]
        return InputError(p.path, p.message, hint=p.hint)
    listed = "\n".join(f"  {p.path}: {p.message}" for p in problems)
    hints = sorted({p.hint for p in problems if p.hint})
    return UsageError(
        f"{len(problems)} documents cannot be used:\n{listed}",
        hint="; ".join(hints) or "fix or remove them",
    )


def load_corpus(
    paths: Sequence[Path | str],
    *,
    base: Path,
    chunk_tokens: int = DEFAULT_CHUNK_TOKENS,
    min_chunk_tokens: int = DEFAULT_MIN_CHUNK_TOKENS,
    count: Count = estimate,
) -> Corpus:
    """Read, parse and chunk the named documents (files, folders, globs; relative to `base`).

    Any unreadable, empty or unsupported file, or a parser whose extra is not installed, is
    an exit-2 error naming it. `count` sizes chunks in tokens (default: characters ÷ 4, the
    same on every machine, so chunk ids do not depend on what is installed).
    """
    if chunk_tokens < 1 or min_chunk_tokens < 0:
        raise UsageError(
            f"chunk_tokens must be ≥ 1 and min_chunk_tokens ≥ 0 (got {chunk_tokens}, "
            f"{min_chunk_tokens})",
            hint="e.g. chunk_tokens: 400, min_chunk_tokens: 50",
        )
    result = scan(paths, base=base)
    if result.problems:
        raise problems_error(result.problems)
    chunks: list[Chunk] = []
    for doc, parsed in result.found:
        chunks += chunk_document(
            doc,
            parsed.text,
            chunk_tokens=chunk_tokens,
            min_chunk_tokens=min_chunk_tokens,
            count=count,
        )
    return Corpus.of(
        tuple(d for d, _ in result.found),
        tuple(chunks),
        {d.text_sha256: p.text for d, p in result.found},
        tuple(result.duplicates),
    )

"""The seed curator's first look: counts, lengths, duplicates and problems, before any spend."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import Field
from rapidfuzz import process
from rapidfuzz.distance import Indel
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from synthgen.errors import UsageError
from synthgen.records import Frozen, Seed, exchanges
from synthgen.seeds.reader import Problem, SeedFormat, merge_seed_files, read_seed_file
from synthgen.text.normalise import id_char, normalise, words

MIN_EXAMPLES = 10  # below this, few-shot prompts keep showing the model the same handful
DOMINANT_SHARE = 0.25  # one task above this share of examples skews every sampled prompt
SHOWN = 10  # rows per section in the terminal; --json has everything
NEAR_LIMIT = 5000  # all-pairs near-duplicate search is quadratic; seed sets are far smaller


class LengthStats(Frozen):
    """Word counts (whitespace-separated) over a set of texts."""

    count: int = 0
    min: int = 0
    p50: float = 0.0
    mean: float = 0.0
    max: int = 0

    @classmethod
    def of(cls, texts: Sequence[str]) -> LengthStats:
        """The stats of `texts`, all zero when there are none."""
        words = [len(t.split()) for t in texts]
        if not words:
            return cls()
        return cls(
            count=len(words),
            min=min(words),
            p50=float(statistics.median(words)),
            mean=round(statistics.fmean(words), 1),
            max=max(words),
        )


class DuplicatePair(Frozen):
    """Two seeds (by id) that say the same thing; `a_at`/`b_at` are file:line for people."""

    a: str
    b: str
    kind: Literal["exact", "near"]
    similarity: float
    a_at: str = ""
    b_at: str = ""


class SeedReport(Frozen):
    """What `synthgen seeds inspect --json` prints; `seeds` counts records, `examples` Seeds."""

    files: list[str]
    format: dict[str, str] = Field(description="file -> format ('unknown' if none was readable)")
    seeds: int = Field(description="records (tasks) read without error")
    examples: int = Field(description="examples: one per record, one per self-instruct instance")
    instruction_words: LengthStats
    input_words: LengthStats = Field(description="over non-empty inputs only")
    output_words: LengthStats
    empty_input: int
    duplicates: list[DuplicatePair]
    problems: list[Problem]
    fields_missing: dict[str, int] = Field(description="required field -> records lacking it")
    near_threshold: float
    warnings: list[str]
    conversations: dict[str, float] | None = Field(
        default=None,
        description="multi-turn seeds: how many, exchanges min/median/max, with a system prompt",
    )
    output_schema: dict[str, Any] | None = Field(
        default=None,
        description="a JSON Schema every output satisfies, when all are JSON objects (keys, "
        "types, labels seen): the json_schema check's, written by --emit-schema",
    )
    axes: list[dict[str, Any]] | None = Field(
        default=None,
        description="with a config's generation.axes: per axis value, the seeds that carry it "
        "and the report's metrics of them (distinct-n, compression, ROUGE-L, openers, words)",
    )


def _conversations(seeds: Sequence[Seed]) -> dict[str, float] | None:
    """Turn counts of the seeds that are whole conversations (None when none is)."""
    counts = [exchanges(s.messages) for s in seeds if s.messages]
    if not counts:
        return None
    system = sum(1 for s in seeds if s.messages and s.messages[0].role == "system")
    return {
        "conversations": len(counts),
        "exchanges_min": min(counts),
        "exchanges_median": float(statistics.median(counts)),
        "exchanges_max": max(counts),
        "turns_total": sum(len(s.messages) for s in seeds if s.messages),
        "with_system_prompt": system,
    }


def _at(source: dict[str, Any]) -> str:
    where = f"{source.get('file', '?')}"
    where += f" item {source['item']}" if "item" in source else f":{source.get('line', '?')}"
    return where + (f" #{source['instance']}" if "instance" in source else "")


def _task(seed: Seed) -> tuple[Any, ...]:
    """Instances of one self-instruct task share this key (file and line of the task)."""
    s = seed.source
    return (s.get("file"), s.get("line"), s.get("item"))


def _encode(texts: Sequence[str]) -> list[str]:
    """Each word becomes one character, so Indel over strings is Indel over word sequences."""
    vocab: dict[str, str] = {}

    def char(word: str) -> str:
        if word not in vocab:
            vocab[word] = id_char(len(vocab))
        return vocab[word]

    return ["".join(char(w) for w in words(t)) for t in texts]


def find_duplicates(
    seeds: Sequence[Seed], near_threshold: float, *, near: bool = True
) -> list[DuplicatePair]:
    """Exact pairs (same normalised instruction + input), then near pairs, most similar first."""

    def pair(i: int, j: int, kind: Literal["exact", "near"], sim: float) -> DuplicatePair:
        a, b = seeds[i], seeds[j]
        return DuplicatePair(
            a=a.id, b=b.id, kind=kind, similarity=sim, a_at=_at(a.source), b_at=_at(b.source)
        )

    keys = [normalise(s.instruction) + "\x1f" + normalise(s.input) for s in seeds]
    groups: dict[str, list[int]] = defaultdict(list)
    for i, key in enumerate(keys):
        groups[key].append(i)
    exact = [pair(g[0], j, "exact", 1.0) for g in groups.values() for j in g[1:]]

    # Instruction and input together: one-task seed sets repeat the instruction with
    # different inputs, and those are not duplicates; instances of one task never are.
    docs = _encode([f"{s.instruction} {s.input}" for s in seeds])
    tasks = [_task(s) for s in seeds]
    pairs = []
    for i in range(len(docs) - 1 if near else 0):
        if not docs[i]:
            continue
        hits = process.extract(
            docs[i],
            docs[i + 1 :],
            scorer=Indel.normalized_similarity,
            score_cutoff=near_threshold,
            limit=None,
        )
        for _, score, k in hits:
            j = i + 1 + k
            if docs[j] and keys[i] != keys[j] and tasks[i] != tasks[j]:
                pairs.append(pair(i, j, "near", round(score, 3)))
    pairs.sort(key=lambda p: -p.similarity)
    return exact + pairs


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _warnings(
    seeds: Sequence[Seed], dups: Sequence[DuplicatePair], problems: Sequence[Problem], t: float
) -> list[str]:
    out = []
    n = len(seeds)
    if n < MIN_EXAMPLES:
        out.append(
            f"only {_plural(n, 'example')}: expansion copies the variety it is shown; "
            f"write at least {MIN_EXAMPLES} (20 or more is better)"
        )
    per_task = Counter(_task(s) for s in seeds)
    if per_task:
        task, count = per_task.most_common(1)[0]
        if count >= 2 and count / n >= DOMINANT_SHARE:
            first = next(s for s in seeds if _task(s) == task)
            where = _at({k: v for k, v in first.source.items() if k != "instance"})
            out.append(
                f"one task ({where}) gives {count} of {n} examples "
                f"({count / n:.0%}): few-shot prompts will over-sample it; trim its instances"
            )
    exact = sum(d.kind == "exact" for d in dups)
    near = len(dups) - exact
    if exact:
        out.append(
            f"{_plural(exact, 'exact duplicate pair')} (same instruction and input once case, "
            f"punctuation and spacing are ignored): remove one of each"
        )
    if near:
        out.append(
            f"{_plural(near, 'near-duplicate seed pair')} (similarity ≥ {t:g}): a seed set "
            f"this small should be varied; rewrite or drop one of each"
        )
    if n > NEAR_LIMIT:
        out.append(
            f"near duplicates were not searched above {NEAR_LIMIT} examples; "
            f"this is a dataset, not a seed set: `synthgen dedup` handles that size"
        )
    errors = sum(p.severity == "error" for p in problems)
    if errors:
        out.append(f"{_plural(errors, 'problem')} made records unreadable; they were skipped")
    return out


def inspect_seeds(
    paths: Sequence[Path], fmt: SeedFormat | None = None, *, near_threshold: float = 0.7
) -> SeedReport:
    """Read seed files leniently and report everything a curator should see at once."""
    if not paths:
        raise UsageError("no seed files given", hint="pass one or more seed files (JSONL or .json)")
    if not 0.0 < near_threshold <= 1.0:
        raise UsageError(
            f"near-duplicate threshold {near_threshold} is out of range",
            hint="use a similarity between 0 and 1, e.g. 0.7",
        )
    files = [read_seed_file(p, fmt, strict=False) for p in paths]
    seeds, cross = merge_seed_files(files, strict=False)
    problems = [p for f in files for p in f.problems] + cross
    dups = find_duplicates(seeds, near_threshold, near=len(seeds) <= NEAR_LIMIT)
    missing = Counter(p.field for p in problems if p.code == "missing_field" and p.field)
    return SeedReport(
        files=[f.path for f in files],
        format={f.path: f.format or "unknown" for f in files},
        seeds=sum(f.tasks for f in files),
        examples=len(seeds),
        instruction_words=LengthStats.of([s.instruction for s in seeds]),
        input_words=LengthStats.of([s.input for s in seeds if s.input.strip()]),
        output_words=LengthStats.of([s.output for s in seeds]),
        empty_input=sum(not s.input.strip() for s in seeds),
        duplicates=dups,
        problems=problems,
        fields_missing=dict(missing),
        near_threshold=near_threshold,
        warnings=_warnings(seeds, dups, problems, near_threshold),
        conversations=_conversations(seeds),
    )


def _more(console: Console, total: int) -> None:
    if total > SHOWN:
        console.print(f"  [dim]… and {total - SHOWN} more (--json lists all)[/dim]")


def _axes(report: SeedReport, console: Console) -> None:
    """Seeds by axis value (with a config's generation.axes): count and the report's metrics."""
    if not report.axes:
        return
    console.print("[bold]By axis value[/bold] (seeds with it: count, distinct-2, ROUGE-L, words)")
    for row in report.axes:
        m = row["metrics"] or {}
        nums = " ".join(
            f"{label} {'–' if m.get(k) is None else format(m[k], '.3g')}"
            for k, label in (("distinct_2", "d2"), ("mean_pairwise_rouge_l", "rl"),
                             ("median_words", "words"))
        )  # fmt: skip
        note = nums if row["seeds"] else "[yellow]no seed carries it[/yellow]"
        console.print(f"  {escape(row['axis'])} = {escape(row['value'])}: {row['seeds']} · {note}")


def render_report(report: SeedReport, console: Console) -> None:
    """A compact terminal summary; every user-supplied string is escaped, not markup."""
    formats = ", ".join(f"{escape(Path(f).name)} ({fmt})" for f, fmt in report.format.items())
    console.print(
        f"[bold]{_plural(report.seeds, 'seed')}[/bold] → [bold]{report.examples}[/bold] "
        f"examples from {formats}; {report.empty_input} with empty input"
    )
    lengths = Table("words", "min", "median", "mean", "max", box=None, padding=(0, 1))
    for name, st in (
        ("instruction", report.instruction_words),
        ("input (non-empty)", report.input_words),
        ("output", report.output_words),
    ):
        if st.count:
            lengths.add_row(name, str(st.min), f"{st.p50:g}", f"{st.mean:g}", str(st.max))
    console.print(lengths)
    conv = report.conversations
    if conv:
        console.print(
            f"{conv['conversations']:.0f} conversations: {conv['turns_total']:.0f} turns, "
            f"{conv['exchanges_min']:.0f}–{conv['exchanges_max']:.0f} exchanges each "
            f"(median {conv['exchanges_median']:g}); "
            f"{conv['with_system_prompt']:.0f} with a system prompt"
        )
    if report.duplicates:
        console.print(f"[bold]Duplicates[/bold] ({len(report.duplicates)})")
        for d in report.duplicates[:SHOWN]:
            console.print(
                f"  {d.kind} {d.similarity:.2f}  {escape(d.a)} ({escape(d.a_at)})"
                f"  ~  {escape(d.b)} ({escape(d.b_at)})"
            )
        _more(console, len(report.duplicates))
    else:
        console.print(f"No duplicates (near-duplicate threshold {report.near_threshold:g}).")
    if report.problems:
        console.print(f"[bold]Problems[/bold] ({len(report.problems)})")
        for p in report.problems[:SHOWN]:
            mark = "[red]error[/red]" if p.severity == "error" else "[yellow]warning[/yellow]"
            console.print(f"  {mark} {escape(p.describe())}")
            if p.hint:
                console.print(f"    [dim]how to fix: {escape(p.hint)}[/dim]")
        _more(console, len(report.problems))
    _axes(report, console)
    for w in report.warnings:
        console.print(f"[yellow]![/yellow] {escape(w)}")
    if not report.warnings and not report.problems:
        console.print("[green]Seeds look ready.[/green]")

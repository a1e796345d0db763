"""The run directory's README.md: a Hugging Face dataset card that says how the data was made.

The YAML front matter lets `datasets.load_dataset(RUN_DIR)` find the splits and the Hub index
the dataset; the body tells a person where the data came from, what was thrown away and why,
what it cost, what the report warned about, and that it must be audited before use.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

import yaml
from pydantic import Field

from synthgen.errors import UsageError
from synthgen.records import Frozen, Status
from synthgen.stages.report.build import Report
from synthgen.stages.report.conversations import conversations_markdown
from synthgen.stages.report.metrics import METRIC_INFO
from synthgen.stages.report.preference import preference_markdown
from synthgen.stages.report.samples import STAGE_ORDER

# Hugging Face's size buckets, by upper bound (exclusive) of the kept count.
SIZE_CATEGORIES = (
    (10**3, "n<1K"),
    (10**4, "1K<n<10K"),
    (10**5, "10K<n<100K"),
    (10**6, "100K<n<1M"),
    (10**7, "1M<n<10M"),
    (10**8, "10M<n<100M"),
    (10**9, "100M<n<1B"),
    (10**10, "1B<n<10B"),
    (10**11, "10B<n<100B"),
    (10**12, "100B<n<1T"),
)
_SPLIT = re.compile(r"^\w+(\.\w+)*$")  # what `datasets` accepts as a split name


class CardFacts(Frozen):
    """How a run's data was made, as the run knows it; the card only prints these."""

    synthgen_version: str
    generator_models: list[str]
    judge_models: list[str] = Field(default_factory=list)
    strategy: str
    seed_files: list[str]
    seeds: int
    candidates: int
    kept: int
    drops: dict[str, dict[str, int]] = Field(default_factory=dict)  # stage -> reason -> count
    cost_usd: float = 0.0
    price_known: bool = True  # False: some model had no price, so cost is a lower bound
    prompt_tokens: int = 0
    completion_tokens: int = 0
    run_id: str | None = None  # this session's (the manifest's `run_id`)
    records_run_id: str | None = None  # the records' provenance.run_id, when another
    stop_reason: Status | None = None  # how the run ended, when not complete
    report: Report | None = None
    stage_warnings: list[str] = Field(default_factory=list)  # what the stages warned, as said
    standin: bool = False  # synthgen's stand-in answered: placeholder text, not a model's


# What a card and a report say first of a run the stand-in answered.
STANDIN_NOTE = (
    "stand-in: not useful data. synthgen's stand-in endpoint answered this run, not a model: "
    "its records are placeholder text and its judge's scores are made up. It shows the "
    "machinery (rounds, ledger, manifest, cache, exports); do not train on it"
)


def size_category(n: int) -> str:
    """The Hugging Face size bucket of a dataset of n records."""
    return next((name for bound, name in SIZE_CATEGORIES if n < bound), "n>1T")


def _check_data_files(run_dir: Path, data_files: dict[str, str]) -> None:
    if not data_files:
        raise UsageError("a dataset card needs at least one data file", hint="name a train split")
    for split, rel in data_files.items():
        if not _SPLIT.match(split):
            raise UsageError(
                f"split name {split!r} is not one `datasets` accepts",
                hint="use letters, digits and underscores, e.g. train or validation",
            )
        p = PurePosixPath(rel)
        if p.is_absolute() or ".." in p.parts or "\\" in rel:
            raise UsageError(
                f"data file {rel!r} of split {split} is not a relative path inside {run_dir}",
                hint="give paths relative to the run directory, with forward slashes",
            )


def front_matter(
    *,
    task_categories: Sequence[str],
    license: str,
    language: list[str],
    data_files: dict[str, str],
    kept: int,
    standin: bool = False,
) -> str:
    """The card's YAML header, `---` lines included; `task_categories` from Hugging Face's
    vocabulary (config's outputs.task_categories), never the task's own name."""
    meta = {
        "license": license,
        "language": list(language),
        "task_categories": list(task_categories),
        "tags": ["synthetic", *(["stand-in"] if standin else [])],
        "size_categories": [size_category(kept)],
        "annotations_creators": ["machine-generated"],
        "configs": [
            {
                "config_name": "default",
                "data_files": [{"split": s, "path": p} for s, p in data_files.items()],
            }
        ],
    }
    return "---\n" + yaml.safe_dump(meta, sort_keys=False, allow_unicode=True) + "---\n"


def _md(text: object) -> str:
    """Text safe inside a markdown table cell: no raw HTML, no cell breaks, one line."""
    return " ".join(html.escape(str(text), quote=False).replace("|", "\\|").split())


def _code(text: str) -> str:
    return f"`{text}`" if "`" not in text and "\n" not in text else _md(text)


def _num(x: float | None) -> str:
    return "–" if x is None else f"{x:.4g}"


def _pct(part: int, whole: int) -> str:
    return f" ({part / whole:.0%})" if whole else ""


def _models(names: list[str], f: CardFacts, empty: str) -> str:
    shown = ", ".join(_md(m) for m in names) or empty
    return f"{shown} (names sent to the stand-in, which is not a model)" if f.standin else shown


def _cost(f: CardFacts) -> str:
    cost = f"${f.cost_usd:,.4f} USD" + ("" if f.price_known else " (at least: a price was unknown)")
    if f.standin:  # nothing was paid: say what the tokens would cost, not that they did
        return f"none paid (the stand-in is free; at the named models' price: {cost})"
    return cost


def _ids(f: CardFacts) -> str:
    if not f.run_id:
        return ""
    if not f.records_run_id or f.records_run_id == f.run_id:
        return f", run {_code(f.run_id)}"
    return (
        f"; the records' `provenance.run_id` is {_code(f.records_run_id)} (a function of the "
        "config, so the same config writes the same records), this session's id is "
        f"{_code(f.run_id)} (`run_id` in manifest.json)"
    )


def _made(f: CardFacts, data_files: dict[str, str], task: str) -> list[str]:
    tokens = f.prompt_tokens + f.completion_tokens
    seeds = ", ".join(_code(s) for s in f.seed_files) or "–"
    lines = [
        "## How it was made",
        "",
        *([f"- Task: {_md(task)}"] if task else []),
        f"- Generator model(s): {_models(f.generator_models, f, '–')}",
        f"- Judge model(s): {_models(f.judge_models, f, 'none')}",
        f"- Strategy: {_md(f.strategy)}",
        f"- Seeds: {f.seeds} human-written examples from {seeds}",
        f"- Candidates → kept: {f.candidates:,} → {f.kept:,}{_pct(f.kept, f.candidates)}",
        f"- Cost: {_cost(f)}; tokens: {tokens:,} ({f.prompt_tokens:,} prompt, "
        f"{f.completion_tokens:,} completion)",
        f"- Made with synthgen {_md(f.synthgen_version)}"
        + _ids(f)
        + (f"; stopped because: {_md(f.stop_reason)}" if f.stop_reason else ""),
        "",
        "| split | file |",
        "| --- | --- |",
        *(f"| {_md(s)} | {_code(p)} |" for s, p in data_files.items()),
    ]
    return lines


def _drops(f: CardFacts) -> list[str]:
    def rank(stage: str) -> tuple[int, str]:
        return (STAGE_ORDER.index(stage) if stage in STAGE_ORDER else len(STAGE_ORDER), stage)

    rows = [
        f"| {_md(stage)} | {_md(reason)} | {n:,} |"
        for stage in sorted(f.drops, key=rank)
        for reason, n in sorted(f.drops[stage].items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    dropped = sum(sum(r.values()) for r in f.drops.values())
    return [
        "## What was kept and dropped",
        "",
        "Every candidate is accounted for: the ledger `dropped.jsonl` holds each dropped one "
        "with its stage, reason and detail.",
        "",
        "| stage | reason | candidates |",
        "| --- | --- | ---: |",
        *rows,
        f"| **dropped** | | **{dropped:,}** |",
        f"| **kept** | | **{f.kept:,}** |",
        f"| **candidates** | | **{f.candidates:,}** |",
    ]


def _said(f: CardFacts) -> list[str]:
    """What the run said while it ran (the stand-in first), before the report's warnings."""
    said = [STANDIN_NOTE] if f.standin else []
    return [f"- **run**: {_md(w)}" for w in [*said, *f.stage_warnings]]


def _quality(r: Report | None, said: list[str]) -> list[str]:
    if r is None:
        return [
            "## Quality report",
            "",
            "No quality report was attached to this card.",
            *(["", "## Warnings", "", *said] if said else []),
        ]
    seeds = r.seed_metrics
    rows = [
        f"| {name} | {v:.4g} |"
        + ("" if seeds is None else f" {_num(seeds.get(name))} |")
        + f" {_md(what)}; {_md(direction)} |"
        for name, (what, direction) in METRIC_INFO.items()
        if name != "records" and (v := r.metrics.get(name)) is not None
    ]
    traits = (r.drift or {}).get("traits") or {}
    trait_line = "; ".join(
        f"{_md(name.replace('_', ' '))} {t['data']:.0%} vs {t['seeds']:.0%}"
        for name, t in traits.items()
        if isinstance(t, dict) and all(isinstance(t.get(k), float | int) for k in ("data", "seeds"))
    )
    found = [
        f"- **{_md(w.code)}**: {_md(w.message)} (value {w.value:.3g}, threshold {w.threshold:g})"
        for w in r.warnings
    ]
    warnings = said + (
        found or ["- The report raised no warnings (which does not make the data good: read it)."]
    )
    return [
        "## Diversity and drift",
        "",
        "Measured by `synthgen report` (see `report.html`) on the kept records, beside the "
        "seeds where they were given.",
        "",
        "| metric | data |" + ("" if seeds is None else " seeds |") + " meaning |",
        "| --- | ---: |" + ("" if seeds is None else " ---: |") + " --- |",
        *rows,
        *conversations_markdown(r.conversations, r.records),
        *preference_markdown(r.preference),
        *(
            ["", f"Teacher habits, share of outputs (data vs seeds): {trait_line}."]
            if trait_line
            else []
        ),
        "",
        "## Warnings",
        "",
        *warnings,
    ]


AUDIT_NOTE = (
    "## Before you use it\n\n"
    "This dataset is **machine-generated**. Every record was written by a language model and "
    "kept by automatic checks (rules, deduplication and an LLM judge); no person read it unless "
    "an audit says so. A judge shares many of its generator's blind spots, so records can be "
    "fluent and wrong. Audit a random sample by hand (`synthgen audit`) before training on it "
    "or publishing results from it, and check the terms of use of the models that made it."
)


def card_text(
    run_dir: Path,
    *,
    task: str,
    description: str,
    license: str,
    language: list[str],
    data_files: dict[str, str],
    facts: CardFacts,
    task_categories: Sequence[str] = ("text-generation",),
) -> str:
    """The whole dataset card: front matter, then the body."""
    _check_data_files(run_dir, data_files)
    head = front_matter(
        task_categories=task_categories,
        license=license,
        language=language,
        data_files=data_files,
        kept=facts.kept,
        standin=facts.standin,
    )
    body = [
        f"# {_md(run_dir.name)}",
        "",
        *([f"> **{_md(STANDIN_NOTE)}.**", ""] if facts.standin else []),
        html.escape(description.strip(), quote=False)
        or "Synthetic instruction data made with synthgen.",
        "",
        "> Machine-generated with synthgen from human-written seed examples. "
        "Audit it before use: see *Before you use it* below.",
        "",
        *_made(facts, data_files, task),
        "",
        *_drops(facts),
        "",
        *_quality(facts.report, _said(facts)),
        "",
        AUDIT_NOTE,
    ]
    return head + "\n" + "\n".join(body) + "\n"


def write_card(
    run_dir: Path,
    *,
    task: str,
    description: str,
    license: str,
    language: list[str],
    data_files: dict[str, str],
    facts: CardFacts,
    task_categories: Sequence[str] = ("text-generation",),
) -> Path:
    """Write run_dir/README.md, a dataset card `datasets.load_dataset(run_dir)` can read."""
    from synthgen.core.jsonl import write_atomic

    text = card_text(
        run_dir,
        task=task,
        description=description,
        license=license,
        language=language,
        data_files=data_files,
        facts=facts,
        task_categories=task_categories,
    )
    path = run_dir / "README.md"
    write_atomic(path, text.encode("utf-8"))
    return path

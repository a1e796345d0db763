"""The terminal face of `synthgen report`: compact tables, then warnings in plain words."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from synthgen.stages.report.axes import off_task_lines
from synthgen.stages.report.build import Report
from synthgen.stages.report.checks import checks_lines
from synthgen.stages.report.conversations import conversations_line
from synthgen.stages.report.coverage import grounding_line
from synthgen.stages.report.preference import preference_line
from synthgen.stages.report.shapes import describe

SHOWN_SEEDS = 5


def _f(x: float | None, fmt: str = ".3f") -> str:
    return "–" if x is None else format(x, fmt)


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{x * 100:.0f}%"


def _table(*headers: str) -> Table:
    return Table(*headers, box=None, padding=(0, 1), show_edge=False)


def _diversity(r: Report, console: Console) -> None:
    seeds = r.seed_metrics
    t = _table("diversity", "data", *(["seeds"] if seeds else []), "direction")
    rows = [
        ("distinct-1", "distinct_1", ".3f", "higher = more diverse"),
        ("distinct-2", "distinct_2", ".3f", "higher = more diverse"),
        ("distinct-3", "distinct_3", ".3f", "higher = more diverse"),
        ("compression ratio", "compression_ratio", ".2f", "higher = more repetitive"),
        ("mean pairwise ROUGE-L", "mean_pairwise_rouge_l", ".3f", "higher = more alike"),
        ("opener entropy (bits)", "opener_entropy", ".2f", "higher = more diverse"),
        ("top opener share", "top_opener_share", "%", "higher = collapse"),
        ("exact duplicates", "exact_duplicate_share", "%", "higher = worse"),
    ]
    for label, key, fmt, direction in rows:
        cells = [r.metrics.get(key)] + ([seeds.get(key)] if seeds else [])
        shown = [_pct(c) if fmt == "%" else _f(c, fmt) for c in cells]
        t.add_row(label, *shown, f"[dim]{direction}[/dim]")
    console.print(t)
    console.print(
        f"[dim]sampled: {r.sampled['records']} records, {r.sampled['tokens']} tokens "
        "for distinct-n (fixed budget, seeded)[/dim]"
    )


def _lengths(r: Report, console: Console) -> None:
    t = _table("words", "p10", "median", "p90", "mean", "max")
    for key, q in r.lengths.items():
        if q:
            t.add_row(
                key.replace("_words", "").replace("_", " "),
                *(f"{q[k]:g}" for k in ("p10", "p50", "p90", "mean", "max")),
            )
    console.print(t)


def _coverage(r: Report, console: Console) -> None:
    cov = r.coverage
    if not cov:
        return
    console.print(
        f"[bold]Lineage[/bold]: {cov['records_with_lineage']} records trace to "
        f"{cov['seeds_used']} of {cov['seeds']} seeds; the top {cov['top_k']} hold "
        f"{_pct(cov['top_k_share'])} (fair share {_pct(cov['top_k'] / max(1, cov['seeds']))}"
        + (
            f", {_pct(cov['chance_top_k_share'])} by chance"
            if cov.get("chance_top_k_share") is not None
            else ""
        )
        + ")"
        + (f"; {cov['unresolved_lineage']} unresolved" if cov["unresolved_lineage"] else "")
    )
    top = ", ".join(
        f"{escape(s['seed'])} {_pct(s['share'])}" for s in cov["per_seed"][:SHOWN_SEEDS]
    )
    if top:
        console.print(f"  most parented: {top}")
    for label in ("methods", "operators"):
        if cov[label]:
            items = ", ".join(f"{escape(k)} {v}" for k, v in cov[label].items())
            console.print(f"  {label}: {items}")


def _axes(r: Report, console: Console) -> None:
    """Coverage by axis value (generation.axes): kept, quota, keep rate, distinct-2."""
    if not r.axes:
        return
    t = _table("axis", "value", "kept", "quota", "keep rate", "distinct-2")
    for v in r.axes["values"]:
        quota = "" if v["quota"] is None else str(v["quota"])
        t.add_row(
            escape(v["axis"]), escape(v["value"]), str(v["kept"]), quota,
            _pct(v["keep_rate"]), _f(v["distinct_2"]),
        )  # fmt: skip
    console.print("[bold]Coverage by axis value[/bold]")
    console.print(t)
    m = _table("axis", "value", "dist-1", "dist-3", "gzip", "ROUGE-L", "opener H", "words")
    for v in r.axes["values"]:
        x = v.get("metrics") or {}
        m.add_row(
            escape(v["axis"]), escape(v["value"]), _f(x.get("distinct_1")),
            _f(x.get("distinct_3")), _f(x.get("compression_ratio"), ".2f"),
            _f(x.get("mean_pairwise_rouge_l")), _f(x.get("opener_entropy"), ".2f"),
            _f(x.get("median_words"), ".0f"),
        )  # fmt: skip
    console.print(
        "[bold]Diversity by axis value[/bold] (distinct-n, compression ratio, pairwise ROUGE-L, "
        "opener entropy, median words: the whole set's metrics on each value's sample)"
    )
    console.print(m)
    for line in off_task_lines(r.axes):
        console.print(f"[yellow]![/yellow] {escape(line)}")


def _drift(r: Report, console: Console) -> None:
    d = r.drift
    if not d:
        t = _table("trait", "data")
        for name, rate in r.traits.items():
            t.add_row(name.replace("_", " "), _pct(rate))
        console.print(t)
        return
    console.print(
        f"[bold]Drift from seeds[/bold]: length ratio instruction "
        f"{_f(d['instruction_length_ratio'], '.2f')} · output {_f(d['output_length_ratio'], '.2f')}"
        f" · vocabulary overlap {_f(d['vocabulary_overlap'], '.2f')} · opener JS divergence "
        f"{_f(d['opener_js_divergence'], '.2f')}"
    )
    cb = d["common_budget"]

    def trio(x: dict[str, Any]) -> str:
        return "/".join(_f(x[f"distinct_{n}"], ".2f") for n in (1, 2, 3))

    console.print(
        f"  same budget ({cb['tokens']} tokens, {cb['bytes']} bytes): distinct-1/2/3 data "
        f"{trio(cb['data'])} vs seeds {trio(cb['seeds'])} · compression data "
        f"{_f(cb['data']['compression_ratio'], '.2f')} vs seeds "
        f"{_f(cb['seeds']['compression_ratio'], '.2f')}"
    )
    fmt = d.get("format")
    if fmt:
        console.print(
            f"  output format: data {escape(describe(fmt['data_shapes']))} vs seeds "
            f"{escape(describe(fmt['seed_shapes']))}"
        )
    t = _table("trait", "data", "seeds", "ratio")
    for name, tr in d["traits"].items():
        t.add_row(
            name.replace("_", " "), _pct(tr["data"]), _pct(tr["seeds"]), f"{tr['ratio']:.1f}×"
        )
    console.print(t)


def _judge(r: Report, console: Console) -> None:
    j, h = r.judge, r.human
    if j:
        hist = " ".join(f"{b['score']:g}:{b['count']}" for b in j["histogram"])
        console.print(
            f"[bold]Judge[/bold]: {j['scored']} scored · pass rate {_pct(j['pass_rate'])} · "
            f"mean {_f(j['mean_score'], '.2f')} · Spearman(score, length) "
            f"{_f(j['length_spearman'], '.2f')}"
        )
        if hist:
            console.print(f"  scores {hist}")
    if h:
        low, high = h["reject_rate_ci95"]
        console.print(
            f"[bold]Human audit[/bold] ({escape(Path(h['path']).name)}): {h['decided']} decided, "
            f"reject rate {_pct(h['reject_rate'])} (95% CI {_pct(low)}–{_pct(high)}) · "
            f"kappa vs judge {_f(h['kappa'], '.2f')} over {h['paired_with_judge']} · judge passed "
            f"{_pct(h['judge_pass_rate_on_rejected'])} of human-rejected"
        )


def _ledger(r: Report, console: Console) -> None:
    led = r.ledger
    if not led:
        return
    console.print(f"[bold]Ledger[/bold]: {led['candidates']} candidates")
    for stage, reasons in led["drops"].items():
        items = ", ".join(f"{escape(k)} {v}" for k, v in sorted(reasons.items()))
        dup = led["duplicate_rate"].get(stage, 0.0)
        console.print(f"  {escape(stage)}: {items}" + (f" (duplicates {_pct(dup)})" if dup else ""))


def _compare(r: Report, console: Console) -> None:
    c = r.compare
    if not c:
        return
    t = _table("metric", "this", "other", "change", "direction")
    for ch in c["changes"]:
        if ch["value"] is None and ch["other"] is None:
            continue
        change = ch["change"]
        counts = all(float(v).is_integer() for v in (ch["value"], ch["other"]) if v is not None)
        fmt = ".0f" if counts else ".3f"  # records, word quantiles: no "207.000"
        t.add_row(
            ch["metric"],
            _f(ch["value"], fmt),
            _f(ch["other"], fmt),
            "–" if change is None else format(change, "+" + fmt),
            f"[dim]{ch['direction']}[/dim]",
        )
    console.print(f"[bold]Compared with[/bold] {escape(c['other'])}")
    console.print(t)


NO_PROVENANCE = (
    "no provenance: lineage, methods and judge sections need synthgen records "
    "(the output of expand or filter)"
)


def render_report(r: Report, console: Console) -> None:
    """Print a report; every string from the data is escaped, never read as markup."""
    seeds = (
        f" · {r.seeds} seeds from {', '.join(escape(s) for s in r.seed_files)}" if r.seeds else ""
    )
    console.print(f"[bold]{escape(r.path)}[/bold]: {r.records} records ({r.format}){seeds}")
    if r.coverage is None and r.judge is None:
        console.print(f"[dim]{NO_PROVENANCE}[/dim]")
    if r.conversations:
        console.print(
            f"[bold]Conversations[/bold]: {conversations_line(r.conversations, r.records)}"
        )
    if r.preference:
        console.print(f"[bold]Preference pairs[/bold]: {preference_line(r.preference)}")
    if r.grounding:
        console.print(f"[bold]Grounding coverage[/bold]: {escape(grounding_line(r.grounding))}")
    if r.checks:
        console.print("[bold]Checks that execute[/bold]")
        for line in checks_lines(r.checks):
            console.print(escape(line))
    _diversity(r, console)
    _lengths(r, console)
    _coverage(r, console)
    _axes(r, console)
    _drift(r, console)
    _judge(r, console)
    _ledger(r, console)
    _compare(r, console)
    for w in r.warnings:
        console.print(f"[yellow]![/yellow] [bold]{w.code}[/bold]: {escape(w.message)}")
    if not r.warnings:
        console.print("[green]No warnings.[/green]")


def report_summary(r: Report) -> dict[str, Any]:
    """The JSON printed by --json."""
    return r.model_dump(mode="json")

"""A self-contained HTML report: inline CSS and inline SVG plots, nothing fetched to view it."""

from __future__ import annotations

import html
import io
import random
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from synthgen.stages.report.axes import axes_html
from synthgen.stages.report.build import Built, Report
from synthgen.stages.report.checks import checks_html
from synthgen.stages.report.conversations import conversations_html
from synthgen.stages.report.metrics import METRIC_INFO
from synthgen.stages.report.preference import preference_html
from synthgen.stages.report.render import NO_PROVENANCE
from synthgen.stages.report.samples import SAMPLES_CSS, Samples, render_samples

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

SCATTER_POINTS, SHOWN_SEEDS = 2000, 30
DATA_COLOUR, SEED_COLOUR = "#3b6ea8", "#d9822b"

_CSS = """
body{font:15px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1000px;color:#222;padding:0 1em}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse}td,th{padding:2px 10px;text-align:left;border-bottom:1px solid #eee}
td.n{text-align:right;font-variant-numeric:tabular-nums}.dim{color:#777}
.warn{background:#fff4e0;border-left:4px solid #e08a00;padding:6px 10px;margin:6px 0}
.ok{background:#eaf6ea;border-left:4px solid #3a9a3a;padding:6px 10px}
figure{margin:1em 0}svg{max-width:100%;height:auto}
"""


def _svg(fig: Figure) -> str:
    """The figure as inline SVG markup: no XML prolog, no DOCTYPE, no namespace URLs."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = buf.getvalue()
    text = text[text.index("<svg") :]
    text = re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.S)
    # Inline <svg> in HTML5 gets its namespaces from the parser; the URLs are not needed.
    return re.sub(r'\s+xmlns(?::\w+)?="[^"]*"', "", text)


def _figure(width: float = 8.0, height: float = 3.2) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _style(ax: Axes, title: str, xlabel: str, ylabel: str) -> None:
    ax.set_title(title, fontsize=11)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.spines[["top", "right"]].set_visible(False)


def _shares(xs: Sequence[int], top: int) -> dict[str, Any]:
    """hist() arguments: values capped at top, weights 1/n so that each bar is a share of
    records whatever the bin width."""
    return {"x": [min(x, top) for x in xs], "weights": [1 / len(xs)] * len(xs)}


def _lengths_plot(built: Built) -> str:
    fig = _figure()
    axes = fig.subplots(1, 2)
    d, s = built.data, built.seeds
    for ax, name, data, seeds in (
        (axes[0], "instruction", d.instruction_words, s.instruction_words if s else None),
        (axes[1], "output", d.output_words, s.output_words if s else None),
    ):
        # A few very long records (seed outliers) would squeeze everything else into a few
        # bins: the axis ends at the 99th percentile and longer records join the last bin.
        both = sorted([*data, *(seeds or [])]) or [1]
        top = max(1, int(both[min(len(both) - 1, int(len(both) * 0.99))]))
        step = max(1, (top + 2) // 40)
        bins = list(range(0, top + step + 1, step))
        ax.hist(**_shares(data, top), bins=bins, alpha=0.6, color=DATA_COLOUR, label="data")
        if seeds:
            ax.hist(
                **_shares(seeds, top),
                bins=bins,
                histtype="step",
                linewidth=2,
                color=SEED_COLOUR,
                label="seeds",
            )
        clipped = sum(1 for x in both if x > top)
        xlabel = f"words (last bin: also {clipped} longer than {top})" if clipped else "words"
        _style(ax, f"{name} length", xlabel, "share of records")
        ax.legend(frameon=False)
    return _svg(fig)


def _judge_plots(built: Built) -> list[str]:
    j = built.report.judge
    if not j or not j["histogram"]:
        return []
    fig = _figure()
    ax1, ax2 = fig.subplots(1, 2)
    ax1.bar(
        [b["score"] for b in j["histogram"]],
        [b["count"] for b in j["histogram"]],
        width=0.4,
        color=DATA_COLOUR,
    )
    _style(ax1, "judge score histogram", "score", "records")
    pairs = list(zip(built.data.scores, built.data.scored_output_words, strict=True))
    if len(pairs) > SCATTER_POINTS:
        pairs = random.Random(0).sample(pairs, SCATTER_POINTS)
    jitter = random.Random(1)
    ax2.scatter(
        [p[1] for p in pairs],
        [p[0] + jitter.uniform(-0.15, 0.15) for p in pairs],
        s=6,
        alpha=0.4,
        color=DATA_COLOUR,
    )
    rho = j["length_spearman"]
    title = "score vs output length" + (f" (Spearman {rho:.2f})" if rho is not None else "")
    _style(ax2, title, "output words", "score (jittered)")
    return [_svg(fig)]


def _seed_plot(r: Report) -> str | None:
    cov = r.coverage
    if not cov or not cov["per_seed"]:
        return None
    rows = cov["per_seed"][:SHOWN_SEEDS]
    fig = _figure(8.0, max(2.0, 0.22 * len(rows) + 1))
    ax = fig.subplots()
    ax.barh([s["seed"] for s in rows][::-1], [s["records"] for s in rows][::-1], color=DATA_COLOUR)
    ax.tick_params(axis="y", labelsize=8)
    _style(ax, f"records per seed (top {len(rows)} of {cov['seeds']})", "records (credited)", "")
    return _svg(fig)


def _trait_plot(r: Report) -> str:
    names = list(r.traits)
    fig = _figure()
    ax = fig.subplots()
    xs = list(range(len(names)))
    if r.drift:
        seeds = [r.drift["traits"][n]["seeds"] for n in names]
        ax.bar([x + 0.2 for x in xs], seeds, width=0.4, color=SEED_COLOUR, label="seeds")
        for x, n in zip(xs, names, strict=True):
            ratio = r.drift["traits"][n]["ratio"]
            ax.annotate(
                f"{ratio:.1f}×",
                (x, max(r.traits[n], seeds[x])),
                ha="center",
                va="bottom",
                fontsize=8,
            )
    ax.bar(
        [x - 0.2 for x in xs] if r.drift else xs,
        [r.traits[n] for n in names],
        width=0.4,
        color=DATA_COLOUR,
        label="data",
    )
    top = max([*r.traits.values(), *(seeds if r.drift else [])], default=0.0)
    ax.set_ylim(0, max(0.05, top * 1.2))  # all-zero rates would otherwise centre on 0
    # "markdown list" and "markdown heading" side by side collide: two lines for those
    labels = [n.replace("_", "\n" if n.startswith("markdown_") else " ") for n in names]
    ax.set_xticks(xs, labels, fontsize=8)
    _style(
        ax,
        "trait rates (ratio data ÷ seeds above the bars)" if r.drift else "trait rates",
        "",
        "share of outputs",
    )
    ax.legend(frameon=False)
    return _svg(fig)


def _e(x: Any) -> str:
    return html.escape(str(x))


def _metrics_table(r: Report) -> str:
    rows = []
    for name, (what, direction) in METRIC_INFO.items():
        v = r.metrics.get(name)
        if v is None:
            continue
        seed = (r.seed_metrics or {}).get(name)
        rows.append(
            f"<tr><td>{_e(name)}</td><td class=n>{v:.4g}</td>"
            f"<td class=n>{'' if seed is None else f'{seed:.4g}'}</td>"
            f"<td class=dim>{_e(what)}; {_e(direction)}</td></tr>"
        )
    return (
        "<table><tr><th>metric</th><th>data</th><th>seeds</th><th>meaning</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def _facts(r: Report) -> str:
    """Conversations, preference pairs, lineage, judge, audit, ledger and compare, in short."""
    out = [conversations_html(r.conversations), preference_html(r.preference)]
    out.append(checks_html(r.checks))
    cov, j, h, led = r.coverage, r.judge, r.human, r.ledger
    if cov:
        out.append(
            f"<h2>Lineage</h2><p>{cov['records_with_lineage']} records trace to "
            f"{cov['seeds_used']} of {cov['seeds']} seeds; the top {cov['top_k']} hold "
            f"{_pc(cov['top_k_share'])} (fair share {_pc(cov['top_k'] / max(1, cov['seeds']))}, "
            f"{_pc(cov.get('chance_top_k_share'))} by chance alone). Methods: "
            + _e(", ".join(f"{k} {v}" for k, v in {**cov["methods"], **cov["operators"]}.items()))
            + "</p>"
        )
    if r.grounding:
        out.append(grounding_html(r.grounding))
    if j:
        out.append(
            f"<p>Judge: {j['scored']} scored, pass rate {_pc(j['pass_rate'])}, Spearman(score, "
            f"output length) {_num(j['length_spearman'])}.</p>"
        )
    if h:
        low, high = h["reject_rate_ci95"]
        out.append(
            f"<h2>Human audit</h2><p>{h['decided']} decided verdicts: reject rate "
            f"{_pc(h['reject_rate'])} (95% CI {_pc(low)}–{_pc(high)}); Cohen's kappa with the "
            f"judge {_num(h['kappa'])} over {h['paired_with_judge']} records; the judge passed "
            f"{_pc(h['judge_pass_rate_on_rejected'])}"
            " of the records humans rejected.</p>"
        )
    if led:
        rows = "".join(
            f"<tr><td>{_e(stage)}</td><td>{_e(reason)}</td><td class=n>{n}</td></tr>"
            for stage, reasons in led["drops"].items()
            for reason, n in sorted(reasons.items())
        )
        out.append(
            f"<h2>Ledger</h2><p>{led['candidates']} candidates</p><table><tr><th>stage</th>"
            f"<th>reason</th><th>dropped</th></tr>{rows}</table>"
        )
    if r.compare:
        rows = "".join(
            f"<tr><td>{_e(c['metric'])}</td><td class=n>{_num(c['value'])}</td>"
            f"<td class=n>{_num(c['other'])}</td><td class=n>{_num(c['change'], '+.3g')}</td>"
            f"<td class=dim>{_e(c['direction'])}</td></tr>"
            for c in r.compare["changes"]
            if c["value"] is not None or c["other"] is not None
        )
        out.append(
            f"<h2>Compared with {_e(r.compare['other'])}</h2><table><tr><th>metric</th>"
            f"<th>this</th><th>other</th><th>change</th><th></th></tr>{rows}</table>"
        )
    return "".join(out)


def grounding_html(g: dict[str, Any]) -> str:
    """The grounded data's coverage: chunks with a kept record, evidence, drops per document."""
    rows = "".join(
        f"<tr><td>{_e(d['document'])}</td><td class=n>{d['chunks_with_kept']}/{d['chunks']}</td>"
        f"<td class=n>{d['kept']}</td><td class=n>{_pc(d['evidence_chars'] / d['chars'])}</td>"
        f"<td class=dim>{_e(', '.join(f'{k} {v}' for k, v in d['dropped'].items()))}</td></tr>"
        if d["chars"]
        else f"<tr><td>{_e(d['document'])}</td><td class=n>{d['chunks_with_kept']}/"
        f"{d['chunks']}</td><td class=n>{d['kept']}</td><td class=n>–</td><td></td></tr>"
        for d in g["documents"]
    )
    empty = ", ".join(g["empty_chunks"][:20]) or "none"
    return (
        f"<h2>Grounding coverage</h2><p>{g['chunks_with_kept']} of {g['chunks']} chunks "
        f"({_e(g.get('scope', 'all chunks'))}) kept a record ({_pc(g['chunk_coverage'])}); kept "
        f"evidence covers {_pc(g['evidence_coverage'])} of the text. Chunks that yielded "
        f"nothing: {_e(empty)}.</p><table><tr><th>document</th><th>chunks kept</th>"
        f"<th>records</th><th>evidence</th><th>dropped</th></tr>{rows}</table>"
    )


def _pc(x: float | None) -> str:
    return "–" if x is None else f"{x * 100:.0f}%"


def _num(x: float | None, fmt: str = ".3g") -> str:
    return "–" if x is None else format(x, fmt)


def render_html(built: Built, samples: Samples | None = None, notes: Sequence[str] = ()) -> str:
    """The whole report as one HTML document; samples, if given, right after the warnings;
    `notes`, what the run that wrote the data said (the stand-in, stage warnings), first."""
    r = built.report
    said = "".join(f"<div class=warn><b>run</b>: {_e(n)}</div>" for n in notes)
    warnings = said + (
        "".join(
            f"<div class=warn><b>{_e(w.code)}</b>: {_e(w.message)} "
            f"<span class=dim>(value {w.value:.3g}, threshold {w.threshold:g})</span></div>"
            for w in r.warnings
        )
        or "<div class=ok>No warnings.</div>"
    )
    plots = [("Lengths, seeds vs data", _lengths_plot(built))]
    plots += [("Judge", svg) for svg in _judge_plots(built)]
    seed_svg = _seed_plot(r)
    plots += [("Records per seed", seed_svg)] if seed_svg else []
    plots.append(("Teacher traits", _trait_plot(r)))
    figures = "".join(f"<h2>{_e(t)}</h2><figure>{svg}</figure>" for t, svg in plots)
    seeds = f" · {r.seeds} seeds" if r.seeds else ""
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>synthgen report: {_e(Path(r.path).name)}</title>"
        f"<style>{_CSS}{SAMPLES_CSS if samples else ''}</style></head><body>"
        f"<h1>synthgen report: {_e(r.path)}</h1><p>{r.records} records ({_e(r.format)}){seeds}</p>"
        + (f"<p class=dim>{NO_PROVENANCE}.</p>" if r.coverage is None and r.judge is None else "")
        + f"<h2>Warnings</h2>{warnings}"
        + (render_samples(samples) if samples else "")
        + f"<h2>Metrics</h2>{_metrics_table(r)}{_facts(r)}{axes_html(r.axes)}{figures}"
        "</body></html>"
    )


def write_html(
    built: Built, path: Path, *, samples: Samples | None = None, notes: Sequence[str] = ()
) -> None:
    """Write the HTML report atomically (with sampled examples when `samples` is given, and
    the run's own warnings, `notes`, above the report's)."""
    from synthgen.core.jsonl import write_atomic

    write_atomic(path, render_html(built, samples, notes).encode("utf-8"))

"""The report by axis value (generation.axes): per value kept, candidates, keep rate,
distinct-2 and quota (from a run's manifest, when coverage steered it), every diversity
metric the report takes of the whole set (on the value's bounded sample), and for two axes
the kept count of every pair of values (the HTML's heat map)."""

from __future__ import annotations

import html
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from synthgen.core.jsonl import iter_jsonl
from synthgen.records import Seed
from synthgen.stages.report.metrics import diversity, entropy, opener, quantiles, word_count

SAMPLE = 200  # kept instructions per value that its distinct-2 is measured on
# A value (a topic, say) the judge fails in most of its records is reported, not kept quiet:
# over OFF_TASK_SHARE of at least OFF_TASK_FROM verdicts.
OFF_TASK_SHARE, OFF_TASK_FROM = 0.5, 5


def _distinct_2(texts: list[str]) -> float | None:
    grams = [
        tuple(ws[i : i + 2]) for t in texts if len(ws := t.split()) > 1 for i in range(len(ws) - 1)
    ]
    return round(len(set(grams)) / len(grams), 4) if grams else None


def value_metrics(texts: list[str], seed: int = 0) -> dict[str, float | None]:
    """The whole-set report's metrics of one value's texts (instruction, input and output
    joined): distinct-n, compression ratio, pairwise ROUGE-L, openers, median words."""
    openers = Counter(opener(t) for t in texts)
    out = diversity(texts, openers, seed)
    out["opener_entropy"] = round(entropy(openers), 4) if texts else None
    out["median_words"] = quantiles([float(word_count(t)) for t in texts]).get("p50")
    return {k: v if v is None else round(v, 4) for k, v in out.items()}


def _text(rec: dict[str, Any]) -> str:
    """A record's text as the report samples it (a conversation: its turns)."""
    if isinstance(rec.get("messages"), list):
        turns = [m for m in rec["messages"] if isinstance(m, dict) and m.get("role") != "system"]
        return "\n".join(str(m.get("content", "")) for m in turns)
    return "\n".join(str(rec[k]) for k in ("instruction", "input", "output") if rec.get(k))


def seed_axes(
    seeds: Sequence[Seed], axes: Mapping[str, Sequence[str]]
) -> list[dict[str, Any]] | None:
    """`seeds inspect` by axis value: per value of each axis (name → the config's values,
    empty for a file or a range), the seeds that carry it (a field or meta key of the axis's
    name) and their metrics; a configured value no seed carries is a row of 0. None when no
    seed carries any axis."""
    texts: dict[tuple[str, str], list[str]] = defaultdict(list)
    for seed in seeds:
        nested = seed.meta.get("meta")
        for name in axes:
            value = seed.meta.get(name)
            if value is None and isinstance(nested, dict):
                value = nested.get(name)
            if value is not None and not isinstance(value, (dict, list)):
                texts[(name, str(value))].append(_text(seed.model_dump()))
    if not texts:
        return None
    rows = []
    for name, known in axes.items():
        seen = sorted(v for a, v in texts if a == name)
        for value in [*known, *(v for v in seen if v not in known)]:
            group = texts.get((name, value), [])
            metrics = value_metrics(group) if group else None
            rows.append({"axis": name, "value": value, "seeds": len(group), "metrics": metrics})
    return rows


def _quotas(data: Path) -> dict[tuple[str, str], int]:
    """Quota per (axis, value) from the run's manifest beside the data (empty: none)."""
    manifest = data.parent / "manifest.json"
    if not manifest.is_file():
        return {}
    try:
        cov = orjson.loads(manifest.read_bytes()).get("coverage") or {}
    except orjson.JSONDecodeError:
        return {}
    out: Counter[tuple[str, str]] = Counter()
    for cell in cov.get("cells", []):
        for axis, value in (cell.get("values") or {}).items():
            out[(axis, value)] += int(cell.get("quota", 0))
    return dict(out)


def axes_block(data: Path, ledger: Path | None) -> dict[str, Any] | None:
    """Every axis value's row, and the two-axis grid; None when no record has axes."""
    if str(data) == "-" or not data.is_file() or data.suffix.lower() not in (".jsonl", ".ndjson"):
        return None  # records with provenance are JSONL; other formats carry no axes
    kept: Counter[tuple[str, str]] = Counter()
    tried: Counter[tuple[str, str]] = Counter()
    judged: Counter[tuple[str, str]] = Counter()
    failed: Counter[tuple[str, str]] = Counter()
    sample: dict[tuple[str, str], list[str]] = defaultdict(list)
    texts: dict[tuple[str, str], list[str]] = defaultdict(list)
    pairs: Counter[tuple[str, str]] = Counter()
    names: dict[str, None] = {}
    for _, rec in iter_jsonl(data):
        axes = (rec.get("provenance") or {}).get("axes") or {}
        names.update(dict.fromkeys(axes))
        verdict = bool((rec.get("provenance") or {}).get("judge"))
        for key in axes.items():
            kept[key] += 1
            tried[key] += 1
            judged[key] += verdict
            if len(sample[key]) < SAMPLE:
                sample[key].append(str(rec.get("instruction", "")).lower())
                texts[key].append(_text(rec))
        if len(axes) >= 2:
            first, second = list(axes.values())[:2]
            pairs[(first, second)] += 1
    if not names:
        return None
    if ledger is not None and ledger.is_file():
        for _, entry in iter_jsonl(ledger):
            stage = (entry.get("dropped") or {}).get("stage")
            if stage == "surplus":
                continue  # never had its chance (the target or its cell was full)
            for key in ((entry.get("provenance") or {}).get("axes") or {}).items():
                tried[key] += 1
                judged[key] += stage == "judge"
                failed[key] += stage == "judge"
    quotas = _quotas(data)
    rows = [
        {
            "axis": axis,
            "value": value,
            "kept": kept[(axis, value)],
            "quota": quotas.get((axis, value)),
            "keep_rate": round(kept[(axis, value)] / n, 4) if (n := tried[(axis, value)]) else None,
            "distinct_2": _distinct_2(sample[(axis, value)]),
            "judged": judged[(axis, value)],
            "judge_failed": failed[(axis, value)],
            "metrics": value_metrics(texts[(axis, value)]),
        }
        for axis, value in sorted(tried, key=lambda k: (list(names).index(k[0]), k[1]))
        if axis in names
    ]
    off_task = [
        {"axis": a, "value": v, "judged": n, "failed_share": round(failed[(a, v)] / n, 4)}
        for (a, v), n in judged.items()
        if n >= OFF_TASK_FROM and failed[(a, v)] / n > OFF_TASK_SHARE
    ]
    out: dict[str, Any] = {"axes": list(names), "values": rows, "judge_fails_most": off_task}
    if len(names) >= 2:
        a, b = list(names)[:2]
        out["grid"] = {
            "rows": a,
            "columns": b,
            "counts": [[x, y, n] for (x, y), n in sorted(pairs.items())],
        }
    return out


def _e(x: Any) -> str:
    return html.escape(str(x))


# the per-value metrics the HTML table shows, in its column order
_METRIC_HEADS = {
    "distinct_1": "distinct-1",
    "distinct_3": "distinct-3",
    "compression_ratio": "compression",
    "mean_pairwise_rouge_l": "ROUGE-L",
    "opener_entropy": "opener entropy",
    "median_words": "median words",
}


def _num(x: float | None) -> str:
    return "" if x is None else f"{x:.3g}"


def _rate(x: float | None) -> str:
    return "" if x is None else f"{x:.1%}"


def axes_html(block: dict[str, Any] | None) -> str:
    """The coverage table and, for two axes, an inline-SVG heat map of kept records."""
    if not block:
        return ""
    head = "<tr><th>axis</th><th>value</th><th>kept</th><th>quota</th><th>keep rate</th>"
    head += "<th>distinct-2</th>" + "".join(f"<th>{_e(n)}</th>" for n in _METRIC_HEADS.values())
    head += "</tr>"
    body = "".join(
        f"<tr><td>{_e(r['axis'])}</td><td>{_e(r['value'])}</td><td class=n>{r['kept']}</td>"
        f"<td class=n>{'' if r['quota'] is None else r['quota']}</td>"
        f"<td class=n>{_rate(r['keep_rate'])}</td>"
        f"<td class=n>{'' if r['distinct_2'] is None else r['distinct_2']}</td>"
        + "".join(f"<td class=n>{_num(r['metrics'].get(k))}</td>" for k in _METRIC_HEADS)
        + "</tr>"
        for r in block["values"]
    )
    out = f"<h2>Coverage by axis value</h2>{_off_task_html(block)}<table>{head}{body}</table>"
    grid = block.get("grid")
    return out + (_heat_map(grid) if grid else "")


def off_task_lines(block: dict[str, Any]) -> list[str]:
    """One line per axis value (a topic, say) whose records the judge mostly fails."""
    return [
        f"{o['axis']} = {o['value']}: the judge failed {o['failed_share']:.0%} of its "
        f"{o['judged']} judged records (off task? edit or drop it)"
        for o in block.get("judge_fails_most", [])
    ]


def _off_task_html(block: dict[str, Any]) -> str:
    return "".join(f"<div class=warn>{_e(line)}</div>" for line in off_task_lines(block))


def _heat_map(grid: dict[str, Any]) -> str:
    """Kept records per pair of values: one shaded square each, darker for more."""
    counts = {(x, y): n for x, y, n in grid["counts"]}
    xs = sorted({x for x, _ in counts})
    ys = sorted({y for _, y in counts})
    top = max(counts.values(), default=1)
    cell, left, upper = 56, 140, 40
    width, height = left + cell * len(ys) + 10, upper + cell * len(xs) + 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">']
    for j, y in enumerate(ys):
        parts.append(
            f'<text x="{left + j * cell + cell / 2}" y="{upper - 8}" '
            f'text-anchor="middle" font-size="12">{_e(y)}</text>'
        )
    for i, x in enumerate(xs):
        top_y = upper + i * cell
        parts.append(
            f'<text x="{left - 8}" y="{top_y + cell / 2 + 4}" text-anchor="end" '
            f'font-size="12">{_e(x)}</text>'
        )
        for j, y in enumerate(ys):
            n = counts.get((x, y), 0)
            shade = round(240 - 190 * n / top) if top else 240
            parts.append(
                f'<rect x="{left + j * cell}" y="{top_y}" width="{cell - 2}" height="{cell - 2}" '
                f'fill="rgb({shade},{shade},255)"><title>{_e(x)} × {_e(y)}: {n}</title></rect>'
                f'<text x="{left + j * cell + cell / 2}" y="{top_y + cell / 2 + 4}" '
                f'text-anchor="middle" font-size="12">{n}</text>'
            )
    parts.append("</svg>")
    title = f"<h2>Kept records: {_e(grid['rows'])} × {_e(grid['columns'])}</h2>"
    return f"{title}<figure>{''.join(parts)}</figure>"

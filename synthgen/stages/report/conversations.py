"""Multi-turn data: how many records are conversations and how long they run, data vs seeds.

The `conversations` block is in a report only when the data or the seeds hold a conversation
(a record of more than one exchange), so single-turn reports keep their exact shape. Exchange
counts cover every record (a single exchange counts 1), so that a mixed set reads as it is.
"""

from __future__ import annotations

import html
from typing import Any

from synthgen.stages.report.collect import Collected
from synthgen.stages.report.metrics import quantiles


def exchange_stats(c: Collected) -> dict[str, Any]:
    """Conversations among a set's records and the spread of their exchange counts."""
    q = quantiles(c.exchanges)
    return {
        "records": c.conversations,
        "share": c.conversations / c.n if c.n else 0.0,
        "exchanges": {
            "median": q.get("p50"),
            "p90": q.get("p90"),
            "max": q.get("max"),
            "mean": q.get("mean"),
        },
    }


def conversations_block(data: Collected, seeds: Collected | None) -> dict[str, Any] | None:
    """The report's `conversations` block; None when neither data nor seeds hold one."""
    if not data.conversations and not (seeds is not None and seeds.conversations):
        return None
    mine = exchange_stats(data)
    theirs = exchange_stats(seeds) if seeds is not None and seeds.n else None
    ratio = None
    if theirs is not None:
        a, b = mine["exchanges"]["median"], theirs["exchanges"]["median"]
        ratio = a / b if a is not None and b else None
    return {**mine, "seeds": theirs, "exchange_ratio": ratio}


def _n(x: float | None) -> str:
    return "–" if x is None else f"{x:g}"


def conversations_line(block: dict[str, Any], total: int) -> str:
    """One line in words, e.g. "40 of 40 records · exchanges median 3 (seeds 3) · p90 4 ·
    max 5"; numbers only, nothing from the data's text."""
    ex, seeds = block["exchanges"], block["seeds"]
    vs = f" (seeds {_n(seeds['exchanges']['median'])})" if seeds else ""
    ratio = block["exchange_ratio"]
    return (
        f"{block['records']} of {total} records · exchanges median {_n(ex['median'])}{vs} · "
        f"p90 {_n(ex['p90'])} · max {_n(ex['max'])} · mean {_n(ex['mean'])}"
        + (f" · ratio to seeds {ratio:.2f}" if ratio is not None else "")
    )


def conversations_html(block: dict[str, Any] | None) -> str:
    """The HTML report's small table of exchange counts, data beside seeds ("" without one)."""
    if not block:
        return ""
    seeds = block["seeds"]
    head = "<tr><th>conversations</th><th>data</th>" + ("<th>seeds</th>" if seeds else "")
    rows = [
        ("multi-turn records", block["records"], seeds and seeds["records"]),
        ("share of records", f"{block['share']:.0%}", seeds and f"{seeds['share']:.0%}"),
        *(
            (f"exchanges {k}", _n(block["exchanges"][k]), seeds and _n(seeds["exchanges"][k]))
            for k in ("median", "p90", "max", "mean")
        ),
    ]
    body = "".join(
        f"<tr><td>{html.escape(label)}</td><td class=n>{a}</td>"
        + (f"<td class=n>{b}</td>" if seeds else "")
        + "</tr>"
        for label, a, b in rows
    )
    ratio = block["exchange_ratio"]
    note = (
        f"<p class=dim>Median exchanges, data ÷ seeds: {ratio:.2f}. Diversity is measured over "
        "every user and assistant turn; openers are the first user turn.</p>"
        if ratio is not None
        else "<p class=dim>Diversity is measured over every user and assistant turn; openers "
        "are the first user turn.</p>"
    )
    return f"<h2>Conversations</h2><table>{head}</tr>{body}</table>{note}"


def conversations_markdown(block: dict[str, Any] | None, total: int) -> list[str]:
    """The dataset card's lines on conversations (none without the block)."""
    if not block:
        return []
    return ["", f"Conversations: {conversations_line(block, total)}."]

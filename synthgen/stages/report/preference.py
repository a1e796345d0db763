"""Preference pairs: how often the judge chose the longer answer, by how much, with what
margin, and how consistent its pairwise tie breaks were when asked in both orders.

The `preference` block is in a report only when the data holds preference records (records
with `chosen` and `rejected`, which `filter` writes from `expand --responses-per-instruction
K`), so every other report keeps its exact shape. A judge that always prefers the longer
answer is the length bias DPO learns as "be longer": `chosen_longer` warns about it.
"""

from __future__ import annotations

import html
import statistics
from array import array
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from synthgen.stages.report.metrics import word_count

INCONSISTENT = "position_inconsistent"  # the ledger reason of a pair whose two answers disagree


@dataclass
class Pairs:
    """Per-pair numbers from the report's one pass over the data (numbers only, no text)."""

    n: int = 0
    length_diffs: array[int] = field(default_factory=lambda: array("i"))  # chosen − rejected
    margins: array[float] = field(default_factory=lambda: array("d"))
    tie_breaks: int = 0
    consistent: int = 0
    inconsistent: int = 0

    def add(self, raw: Mapping[str, Any]) -> None:
        """Count one synthgen record if it is a preference pair (chosen and rejected text)."""
        chosen, rejected = raw.get("chosen"), raw.get("rejected")
        if not isinstance(chosen, str) or not isinstance(rejected, str):
            return
        self.n += 1
        self.length_diffs.append(word_count(chosen) - word_count(rejected))
        prov = raw.get("provenance")
        pref = prov.get("preference") if isinstance(prov, dict) else None
        if not isinstance(pref, dict):
            return
        margin = pref.get("margin")
        if isinstance(margin, int | float) and not isinstance(margin, bool):
            self.margins.append(float(margin))
        tie = pref.get("tie_break")
        if isinstance(tie, dict):
            self.tie_breaks += 1
            self.consistent += tie.get("consistent") is True
            self.inconsistent += tie.get("consistent") is False


def _centre(values: Sequence[float]) -> dict[str, float | None]:
    if not values:
        return {"mean": None, "median": None}
    return {"mean": statistics.fmean(values), "median": float(statistics.median(values))}


def preference_block(pairs: Pairs, ledger: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The report's `preference` block (None when the data holds no pair); the ledger's
    position-inconsistent drops count against the judge's position consistency."""
    if not pairs.n:
        return None
    drops = (ledger or {}).get("drops") or {}
    ledgered = int((drops.get("preference") or {}).get(INCONSISTENT, 0))
    inconsistent = pairs.inconsistent + ledgered
    asked = pairs.consistent + inconsistent
    return {
        "pairs": pairs.n,
        "chosen_longer_share": sum(d > 0 for d in pairs.length_diffs) / pairs.n,
        "length_diff_words": _centre(pairs.length_diffs),
        "margin": _centre(pairs.margins),
        "tie_breaks": pairs.tie_breaks,
        "position_inconsistent": inconsistent,
        "position_consistency": pairs.consistent / asked if asked else None,
    }


def preference_compared(block: Mapping[str, Any] | None) -> dict[str, tuple[float | None, str]]:
    """What `--compare` shows of the block, each number with its direction."""
    if not block:
        return {}
    return {
        "chosen_longer_share": (block["chosen_longer_share"], "higher = judge prefers length"),
        "length_diff_words_mean": (block["length_diff_words"]["mean"], "context (words)"),
        "margin_mean": (block["margin"]["mean"], "context (score)"),
        "position_consistency": (block["position_consistency"], "higher = less position bias"),
    }


def _n(x: float | None, fmt: str = "g") -> str:
    return "–" if x is None else format(x, fmt)


def _pc(x: float | None) -> str:
    return "–" if x is None else f"{x:.0%}"


def preference_line(block: Mapping[str, Any]) -> str:
    """One line in words, e.g. "10 pairs · chosen longer in 80% · chosen − rejected +12
    words (median +10) · margin mean 1.5 (median 1) · 2 kept by a tie break · position
    consistency 67% (1 inconsistent)"; numbers only, nothing from the data's text."""
    diff, margin = block["length_diff_words"], block["margin"]
    consistency = block["position_consistency"]
    return (
        f"{block['pairs']} pairs · chosen longer in {_pc(block['chosen_longer_share'])} · "
        f"chosen − rejected {_n(diff['mean'], '+.3g')} words (median {_n(diff['median'], '+g')})"
        f" · margin mean {_n(margin['mean'], '.3g')} (median {_n(margin['median'])}) · "
        f"{block['tie_breaks']} kept by a tie break"
        + (
            f" · position consistency {_pc(consistency)} "
            f"({block['position_inconsistent']} inconsistent)"
            if consistency is not None
            else ""
        )
    )


def preference_html(block: Mapping[str, Any] | None) -> str:
    """The HTML report's small table of the preference pairs ("" without the block)."""
    if not block:
        return ""
    diff, margin = block["length_diff_words"], block["margin"]
    rows = [
        ("pairs", str(block["pairs"])),
        ("chosen longer than rejected", _pc(block["chosen_longer_share"])),
        ("words, chosen − rejected: mean", _n(diff["mean"], "+.3g")),
        ("words, chosen − rejected: median", _n(diff["median"], "+g")),
        ("score margin: mean", _n(margin["mean"], ".3g")),
        ("score margin: median", _n(margin["median"])),
        ("kept pairs decided by a tie break", str(block["tie_breaks"])),
        ("tie breaks whose two orders disagreed", str(block["position_inconsistent"])),
        ("position consistency", _pc(block["position_consistency"])),
    ]
    body = "".join(
        f"<tr><td>{html.escape(label)}</td><td class=n>{html.escape(value)}</td></tr>"
        for label, value in rows
    )
    note = (
        "<p class=dim>A judge that prefers the longer answer teaches the student to be long "
        "(warning <b>chosen_longer</b>); a tie break is asked in both orders, and a pair "
        "whose two answers disagree is ledgered, not kept.</p>"
    )
    return f"<h2>Preference pairs</h2><table>{body}</table>{note}"


def preference_markdown(block: Mapping[str, Any] | None) -> list[str]:
    """The dataset card's lines on preference pairs (none without the block)."""
    if not block:
        return []
    return ["", f"Preference pairs: {preference_line(block)}."]

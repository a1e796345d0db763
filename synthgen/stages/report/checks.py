"""The report's block on the checks that execute: each check's pass rate among the records
it ran on (kept, or dropped later by dedup or the judge) and its most common messages."""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from synthgen.settings.checks import CHECK_REASONS

_CHECK_OF = {reason: check for check, reasons in CHECK_REASONS.items() for reason in reasons}
TOP = 5


def _lines(path: Path) -> Iterator[dict[str, Any]]:
    with path.open("rb") as fh:
        for line in fh:
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue  # the report's own pass over the data says what is malformed
            if isinstance(obj, dict):
                yield obj


def _passed(obj: dict[str, Any], passed: Counter[str]) -> None:
    prov = obj.get("provenance")
    if isinstance(prov, dict) and isinstance(prov.get("repair"), dict):
        return  # a repaired answer: its check's count is its first attempt's (a failure)
    for c in (prov.get("checks") if isinstance(prov, dict) else None) or []:
        if isinstance(c, dict) and isinstance(c.get("check"), str):
            passed[c["check"]] += 1


def checks_block(data: Path, ledger: Path | None) -> dict[str, Any] | None:
    """Per check: records run, passed, pass rate and top messages; None when none ran."""
    if str(data) == "-" or not data.is_file():
        return None
    passed: Counter[str] = Counter()
    failed: Counter[str] = Counter()
    messages: dict[str, Counter[str]] = {}
    for obj in _lines(data):
        _passed(obj, passed)
    if ledger is not None and ledger.is_file():
        for obj in _lines(ledger):
            drop = obj.get("dropped") or {}
            check = _CHECK_OF.get(str(drop.get("reason")))
            detail = str(drop.get("detail", ""))
            repair = (obj.get("provenance") or {}).get("repair")
            if isinstance(repair, dict) and drop.get("stage") == "checks":
                # a repair was asked: the first attempt failed `check` with this message
                check, detail = repair.get("check"), str(repair.get("first_failure", ""))
            if drop.get("stage") == "checks" and check in CHECK_REASONS:
                failed[check] += 1
                messages.setdefault(check, Counter())[detail[:120]] += 1
            else:
                _passed(obj, passed)
    if not passed and not failed:
        return None
    out: dict[str, Any] = {}
    for check in [c for c in CHECK_REASONS if passed[c] or failed[c]]:
        n = passed[check] + failed[check]
        top = (messages.get(check) or Counter()).most_common(TOP)
        out[check] = {
            "run": n,
            "passed": passed[check],
            "pass_rate": round(passed[check] / n, 4),
            "top_messages": [{"message": m, "count": k} for m, k in top],
        }
    return out


def checks_lines(block: dict[str, Any]) -> list[str]:
    """The block in plain words for the terminal, one line per check and per message."""
    out = []
    for check, b in block.items():
        out.append(f"{check}: {b['passed']}/{b['run']} passed ({b['pass_rate'] * 100:.0f}%)")
        out += [f"  {m['count']}× {m['message']}" for m in b["top_messages"]]
    return out


def checks_html(block: dict[str, Any] | None) -> str:
    """The HTML report's checks block: per check its pass rate and most common messages
    ("" when no check ran), the same numbers as the terminal's and the JSON's."""
    if not block:
        return ""
    rows = []
    for check, b in block.items():
        common = "".join(
            f"<li>{m['count']}× <code>{html.escape(m['message'])}</code></li>"
            for m in b["top_messages"]
        )
        rows.append(
            f"<tr><td>{html.escape(check)}</td><td class=n>{b['passed']}/{b['run']}</td>"
            f"<td class=n>{b['pass_rate'] * 100:.0f}%</td><td><ul>{common}</ul></td></tr>"
        )
    return (
        "<h2>Checks that execute</h2><table><tr><th>check</th><th>passed</th>"
        "<th>pass rate</th><th>most common messages</th></tr>" + "".join(rows) + "</table>"
        "<p class=dim>Records a check ran on: kept, and ledgered at any stage after it; a "
        "repaired record counts as its failed first attempt.</p>"
    )

"""The human auditor's loop: a seeded sample, one record at a time, every answer saved at once.

The sample depends only on the file and --seed, so a rerun (or a second auditor) sees the same
records in the same order; the loop starts at the first record without a verdict.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from synthgen.stages.audit.store import VerdictStore, verdict_line

KEYS = {"a": "accept", "r": "reject", "s": "skip"}
PROMPT = "[a]ccept  [r]eject  [s]kip  [n]ote  [q]uit > "


@dataclass(frozen=True, slots=True)
class AuditItem:
    """One sampled record, with the judge's view of it when the data went through `filter`."""

    line: int
    id: str
    instruction: str
    input: str
    output: str
    judge_score: float | None = None
    judge_passed: bool | None = None
    rationale: str = ""
    dropped: bool = False  # from the ledger: a candidate the judge rejected
    # a conversation's every turn as (role, content), system first; its instruction and
    # output are then its first exchange
    messages: tuple[tuple[str, str], ...] | None = None

    def record(self) -> dict[str, Any]:
        """The record's own fields, as a verdict line copies them so it stands on its own."""
        out: dict[str, Any] = {
            "id": self.id,
            "instruction": self.instruction,
            "input": self.input,
            "output": self.output,
        }
        if self.messages:
            out["messages"] = [{"role": r, "content": c} for r, c in self.messages]
        return out


def turns_of(value: Any) -> tuple[tuple[str, str], ...] | None:
    """A conversation's `messages` as (role, content) pairs; None unless every turn is one."""
    if not isinstance(value, list) or not value:
        return None
    if not all(
        isinstance(t, dict) and isinstance(t.get("role"), str) and isinstance(t.get("content"), str)
        for t in value
    ):
        return None
    return tuple((t["role"], t["content"]) for t in value)


def _judge_of(raw: dict[str, Any]) -> tuple[float | None, bool | None, str]:
    prov = raw.get("provenance")
    judge = prov.get("judge") if isinstance(prov, dict) else None
    if not isinstance(judge, dict):
        return None, None, ""
    score, passed = judge.get("score"), judge.get("passed")
    return (
        float(score) if isinstance(score, int | float) else None,
        passed if isinstance(passed, bool) else None,
        str(judge.get("rationale") or ""),
    )


def _items(path: Path, fmt: str | None) -> Iterable[AuditItem]:
    from synthgen.seeds.dataset import SYNTHGEN, iter_rows

    for row in iter_rows(path, fmt):
        score, passed, why = _judge_of(row.raw) if row.fmt == SYNTHGEN else (None, None, "")
        yield AuditItem(
            row.line,
            row.id,
            row.instruction,
            row.input,
            row.output,
            score,
            passed,
            why,
            messages=turns_of(row.messages),
        )


def _dropped_items(ledger: Path) -> Iterable[AuditItem]:
    """Candidates the judge dropped (ledger stage "judge", with text and a verdict)."""
    from synthgen.core.jsonl import iter_jsonl

    if not ledger.exists():
        return
    for line, obj in iter_jsonl(ledger):
        dropped = obj.get("dropped")
        instruction, inp, output = obj.get("instruction"), obj.get("input") or "", obj.get("output")
        if not (isinstance(dropped, dict) and dropped.get("stage") == "judge"):
            continue
        if not (isinstance(instruction, str) and isinstance(inp, str) and isinstance(output, str)):
            continue  # e.g. an unparsable answer ledgered as raw text
        score, passed, why = _judge_of(obj)
        if passed is None and score is None:
            continue
        rid = str(obj.get("record_id") or obj["id"])
        turns = turns_of(obj.get("messages"))
        yield AuditItem(
            line, rid, instruction, inp, output, score, passed, why, dropped=True, messages=turns
        )


def draw_sample(
    path: Path, n: int, seed: int, fmt: str | None = None, ledger: Path | None = None
) -> list[AuditItem]:
    """A seeded reservoir sample of n distinct records (and, with `ledger`, judge-dropped
    candidates too), kept records first, each in file order."""
    from itertools import chain

    rng = random.Random(seed)
    chosen: list[AuditItem] = []
    seen: set[str] = set()
    count = 0
    source = _items(path, fmt)
    if ledger is not None:
        source = chain(source, _dropped_items(ledger))
    for item in source:
        if item.id in seen:
            continue  # the same content twice is one record to audit
        seen.add(item.id)
        count += 1
        if len(chosen) < n:
            chosen.append(item)
        else:
            j = rng.randrange(count)
            if j < n:
                chosen[j] = item
    return sorted(chosen, key=lambda i: (i.dropped, i.line))


def judge_by_id(path: Path, ids: set[str], fmt: str | None = None) -> dict[str, Any]:
    """The judge's (score, passed) for the given record ids."""
    return {i.id: (i.judge_score, i.judge_passed) for i in _items(path, fmt) if i.id in ids}


def ledger_judge_by_id(ledger: Path, ids: set[str]) -> dict[str, Any]:
    """The judge's (score, passed) for the given ids among candidates it dropped."""
    if not ids:
        return {}
    return {i.id: (i.judge_score, i.judge_passed) for i in _dropped_items(ledger) if i.id in ids}


def show(item: AuditItem, k: int, total: int, console: Console) -> None:
    """Put one record in front of the auditor: its text, and the judge's view when there is one."""
    where = (
        f"ledger line {item.line}, dropped by the judge" if item.dropped else f"line {item.line}"
    )
    console.rule(f"record {k} of {total} · {where} · {escape(item.id)}")
    if item.messages:
        _show_conversation(item.messages, console)
    else:
        for label, text in (("Instruction", item.instruction), ("Input", item.input)):
            if text.strip() or label == "Instruction":
                console.print(f"[bold]{label}[/bold]")
                console.print(escape(text), highlight=False)
        console.print("[bold]Output[/bold]")
        console.print(escape(item.output), highlight=False)
    if item.judge_score is not None or item.judge_passed is not None:
        passed = {True: "passed", False: "failed", None: "?"}[item.judge_passed]
        score = "–" if item.judge_score is None else f"{item.judge_score:g}"
        console.print(f"[bold]Judge[/bold]: {score} ({passed})")
        if item.rationale:
            console.print(f"[dim]{escape(item.rationale)}[/dim]", highlight=False)


def _show_conversation(turns: tuple[tuple[str, str], ...], console: Console) -> None:
    """Every turn of a conversation, each under its speaker (System, User, Assistant)."""
    answers = sum(1 for role, _ in turns if role == "assistant")
    console.print(f"[dim]conversation: {answers} exchange{'s' if answers != 1 else ''}[/dim]")
    for role, content in turns:
        console.print(f"[bold]{escape(role.capitalize())}[/bold]")
        console.print(escape(content), highlight=False)


@dataclass(frozen=True)
class LoopResult:
    """How a review session ended, so the caller can say when a rerun would resume it."""

    answered: int  # answers given in this session
    finished: bool  # every sampled record has a verdict


def run_loop(
    items: list[AuditItem],
    store: VerdictStore,
    ask: Callable[[str], str | None],
    console: Console,
    auditor: str,
) -> LoopResult:
    """Ask for a verdict on each unanswered item; `ask` returns None at end of input (quit)."""
    answered = 0
    for k, item in enumerate(items, 1):
        if item.id in store.latest:
            continue
        show(item, k, len(items), console)
        note = ""
        while True:
            reply = ask(PROMPT)
            key = (reply or "q").strip().lower()[:1]
            if key == "q":
                return LoopResult(answered, False)
            if key == "n":
                note = (ask("note > ") or "").strip()
                console.print("note kept; now a, r or s")
            elif key in KEYS:
                store.add(verdict_line(item.record(), KEYS[key], note, auditor, item.judge_score))
                answered += 1
                break
            else:
                console.print("press a, r, s, n or q, then Enter")
    return LoopResult(answered, True)


def summary(
    items: list[AuditItem], store: VerdictStore, path: Path, fmt: str | None
) -> dict[str, Any]:
    """Agreement over every verdict in the file, joined to the judge by record id."""
    from synthgen.core.datasets import ledger_of
    from synthgen.stages.audit.agreement import human_agreement

    sampled = {i.id: (i.judge_score, i.judge_passed) for i in items}
    missing = set(store.latest) - set(sampled)
    judged = {**sampled, **(judge_by_id(path, missing, fmt) if missing else {})}
    ledger = ledger_of(path)
    if ledger is not None:  # audited candidates the judge dropped (--include-dropped)
        judged.update(ledger_judge_by_id(ledger, missing - judged.keys()))
    counts = {v: 0 for v in KEYS.values()}
    for line in store.latest.values():
        counts[line["verdict"]] += 1
    return {
        "verdicts_path": str(store.path),
        "sample": len(items),
        "answered_in_sample": sum(1 for i in items if i.id in store.latest),
        "counts": counts,
        **human_agreement(store.latest, judged),
    }


def render_summary(s: dict[str, Any], console: Console) -> None:
    """Print the audit summary for people: counts, human reject rate, agreement with the judge."""

    def pct(x: float | None) -> str:
        return "–" if x is None else f"{x * 100:.1f}%"

    c = s["counts"]
    low, high = s["reject_rate_ci95"]
    kappa = "undefined" if s["kappa"] is None else f"{s['kappa']:.2f}"
    console.print(
        f"[bold]Audit[/bold] ({escape(s['verdicts_path'])}): {s['answered_in_sample']} of "
        f"{s['sample']} sampled records answered · accept {c['accept']} · reject {c['reject']}"
        f" · skip {c['skip']}"
    )
    console.print(
        f"  human reject rate {pct(s['reject_rate'])} (95% Wilson CI {pct(low)}–{pct(high)}, "
        f"n={s['decided']})"
    )
    console.print(
        f"  judge vs human: Cohen's kappa {kappa} over {s['paired_with_judge']} records · "
        f"judge passed {pct(s['judge_pass_rate_on_rejected'])} of the records humans rejected"
    )

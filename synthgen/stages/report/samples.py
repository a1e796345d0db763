"""Seeded samples of kept and dropped records, shown in the HTML report beside the numbers.

Metrics summarise; only examples show whether the text is any good. Both files are streamed
once with reservoir sampling, so a million-record run costs the memory of a few records.
"""

from __future__ import annotations

import html
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

from synthgen.records import DropReason, read_drop

STAGE_ORDER = ("expand", "rules", "dedup", "judge", "surplus")
TEXT_LIMIT = 600  # characters of instruction/input shown
OUTPUT_LIMIT = 1200  # outputs are where the quality is: show more of them
NOTE_LIMIT = 400  # rationale and drop detail

SAMPLES_CSS = """
.ex{border:1px solid #ddd;border-radius:4px;padding:6px 10px;margin:8px 0}
.ex pre{white-space:pre-wrap;word-break:break-word;margin:2px 0 6px}
.ex pre{font:13px/1.4 ui-monospace,monospace}
.ex .f{color:#777;font-size:12px}.pass{color:#2f7d2f}.fail{color:#b03030}
details{margin:6px 0}summary{cursor:pointer}
"""


@dataclass(frozen=True, slots=True)
class Verdict:
    """The judge's word on one record, as far as its provenance says."""

    model: str
    score: float | None
    passed: bool | None
    rationale: str


@dataclass(frozen=True, slots=True)
class Example:
    """One sampled record, its texts already cut to what the report shows."""

    id: str
    instruction: str
    input: str
    output: str
    verdict: Verdict | None = None
    drop: DropReason | None = None
    raw: str = ""  # a dropped candidate's unparsed answer, when it has no texts


@dataclass(frozen=True, slots=True)
class DropGroup:
    """The dropped candidates sampled for one stage and reason, and how many there were."""

    stage: str
    reason: str
    total: int
    examples: tuple[Example, ...]


@dataclass(frozen=True, slots=True)
class Samples:
    """What the report shows as examples: kept records, then drops per stage and reason."""

    seed: int
    kept_total: int
    kept: tuple[Example, ...]
    dropped: tuple[DropGroup, ...] = ()
    per_reason: int = 3


def truncate(text: str, limit: int) -> str:
    """At most about `limit` characters, cut at a word boundary, saying how much is left out."""
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", int(limit * 0.8), limit)
    head = text[: cut if cut > 0 else limit].rstrip()
    return f"{head} … [{len(text) - len(head)} more characters]"


class _Reservoir:
    """Algorithm R over a stream; items are built only when chosen (most never are)."""

    def __init__(self, k: int, rng: random.Random) -> None:
        self.k, self.rng, self.seen = k, rng, 0
        self.items: list[tuple[int, Example]] = []

    def offer(self, make: Callable[[], Example]) -> None:
        """Count one more stream item, building and keeping it only if the sample takes it."""
        self.seen += 1
        if len(self.items) < self.k:
            self.items.append((self.seen, make()))
            return
        j = self.rng.randrange(self.seen)
        if j < self.k:
            self.items[j] = (self.seen, make())

    def examples(self) -> tuple[Example, ...]:
        """In file order, so that a sample reads the same way the data does."""
        return tuple(e for _, e in sorted(self.items, key=lambda t: t[0]))


def _rng(seed: int, *key: str) -> random.Random:
    # One generator per group: a group's sample does not move when other groups grow.
    return random.Random(":".join(("synthgen-samples", str(seed), *key)))


def _verdict(prov: Any) -> Verdict | None:
    judge = prov.get("judge") if isinstance(prov, Mapping) else None
    if not isinstance(judge, Mapping):
        return None
    models = judge.get("model") or judge.get("models") or ""
    score = judge.get("score")
    passed = judge.get("passed")
    return Verdict(
        model=", ".join(map(str, models)) if isinstance(models, list) else str(models),
        score=float(score) if isinstance(score, int | float) else None,
        passed=passed if isinstance(passed, bool) else None,
        rationale=truncate(str(judge.get("rationale") or ""), NOTE_LIMIT),
    )


def _example(
    rid: str, instruction: str, inp: str, output: str, prov: Any, drop: DropReason | None = None
) -> Example:
    return Example(
        id=rid,
        instruction=truncate(instruction, TEXT_LIMIT),
        input=truncate(inp, TEXT_LIMIT),
        output=truncate(output, OUTPUT_LIMIT),
        verdict=_verdict(prov),
        drop=drop,
    )


def _ledger_example(obj: dict[str, Any]) -> Example:
    drop = read_drop(obj)
    drop = drop.model_copy(update={"detail": truncate(drop.detail, NOTE_LIMIT)})
    output = obj.get("output")
    ex = _example(
        str(obj.get("id", "?")),
        str(obj.get("instruction") or ""),
        str(obj.get("input") or ""),
        output if isinstance(output, str) else "",
        obj.get("provenance"),
        drop,
    )
    # A candidate that never parsed has only the model's raw answer: that is what to read.
    if not isinstance(output, str) and obj.get("raw"):
        ex = replace(ex, raw=truncate(str(obj["raw"]), OUTPUT_LIMIT))
    return ex


def _stage_key(group: DropGroup) -> tuple[int, str, str]:
    known = group.stage in STAGE_ORDER
    return (
        STAGE_ORDER.index(group.stage) if known else len(STAGE_ORDER),
        group.stage,
        group.reason,
    )


def draw_samples(
    data: Path, ledger: Path | None, seed: int, kept_n: int = 10, per_reason: int = 3
) -> Samples:
    """Draw a seeded sample of kept records and up to `per_reason` drops per stage and reason."""
    from synthgen.core.jsonl import iter_jsonl
    from synthgen.seeds.dataset import SYNTHGEN, iter_rows

    kept = _Reservoir(kept_n, _rng(seed, "kept"))
    for row in iter_rows(data):
        prov = row.raw.get("provenance") if row.fmt == SYNTHGEN else None
        kept.offer(partial(_example, row.id, row.instruction, row.input, row.output, prov))
    groups: dict[tuple[str, str], _Reservoir] = {}
    for _, obj in iter_jsonl(ledger) if ledger is not None else ():
        d = obj.get("dropped")
        if not isinstance(d, dict):
            continue
        key = (str(d.get("stage", "?")), str(d.get("reason", "?")))
        res = groups.get(key) or groups.setdefault(key, _Reservoir(per_reason, _rng(seed, *key)))
        res.offer(partial(_ledger_example, obj))
    dropped = [DropGroup(s, r, res.seen, res.examples()) for (s, r), res in groups.items()]
    ordered = tuple(sorted(dropped, key=_stage_key))
    return Samples(seed, kept.seen, kept.examples(), ordered, per_reason)


def _e(x: object) -> str:
    return html.escape(str(x))


def _verdict_html(v: Verdict) -> str:
    passed = {
        None: "<span class=dim>pass unknown</span>",
        True: "<span class=pass>passed</span>",
        False: "<span class=fail>failed</span>",
    }[v.passed]
    score = "–" if v.score is None else f"{v.score:g}"
    who = f" ({_e(v.model)})" if v.model else ""
    return f"<div>judge{who}: score <b>{score}</b> · {passed} · {_e(v.rationale)}</div>"


def _example_html(ex: Example) -> str:
    parts = [f"<div class=ex><div><code>{_e(ex.id)}</code></div>"]
    if ex.drop is not None:
        d = ex.drop
        parts.append(
            f"<div>dropped at <b>{_e(d.stage)}</b>: <b>{_e(d.reason)}</b>"
            + (f" · {_e(d.detail)}" if d.detail else "")
            + "</div>"
        )
    if ex.verdict is not None:
        parts.append(_verdict_html(ex.verdict))
    fields = [("instruction", ex.instruction), ("input", ex.input), ("output", ex.output)]
    # Empty instruction/output are worth seeing, unless the candidate never had any.
    for name, text in [*fields, ("raw answer (did not parse)", ex.raw)]:
        if text or (name in ("instruction", "output") and not ex.raw):
            parts.append(f"<div class=f>{name}</div><pre>{_e(text)}</pre>")
    return "".join(parts) + "</div>"


def render_samples(s: Samples) -> str:
    """The samples section of the HTML report."""
    drops = sum(g.total for g in s.dropped)
    out = [
        "<h2 id=samples>Read these examples before you trust the numbers</h2>"
        f"<p class=dim>{len(s.kept)} of {s.kept_total} kept records and up to "
        f"{s.per_reason} dropped candidates per stage and reason ({drops} dropped in all), "
        f"drawn at random with seed {s.seed}. The metrics "
        "above can look healthy while the text is wrong, off-task or copied: read them.</p>",
        f"<h3>Kept ({s.kept_total})</h3>",
        *(_example_html(ex) for ex in s.kept),
    ]
    if not s.kept:
        out.append("<p class=dim>No records were kept.</p>")
    if s.dropped:
        out.append(f"<h3>Dropped ({drops})</h3>")
    for g in s.dropped:
        out.append(
            f"<details><summary><b>{_e(g.stage)}</b> · {_e(g.reason)} — {len(g.examples)} of "
            f"{g.total} shown</summary>{''.join(_example_html(ex) for ex in g.examples)}</details>"
        )
    return "".join(out)

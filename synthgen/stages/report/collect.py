"""One streaming pass over a dataset: everything the report needs, in bounded memory.

Per-record numbers (lengths, openers, traits, lineage, judge scores) are kept for every
record; texts only for a seeded reservoir sample, which the size-dependent metrics use.

A conversation (a record with `messages`) is read whole: its text is every user and assistant
turn, so that later turns count in diversity; its traits are those of all its assistant turns;
its lengths are words per turn. The system prompt is left out of its text: one prompt shared by
every conversation would read as collapse, and single-turn records never count theirs.
"""

from __future__ import annotations

import random
from array import array
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synthgen.stages.report.metrics import opener, word_count
from synthgen.stages.report.preference import Pairs
from synthgen.stages.report.shapes import output_shape
from synthgen.stages.report.traits import TraitCounter

SAMPLE_SIZE = 2000  # records kept as text for sampled metrics (reservoir, seeded)

Turns = Sequence[tuple[str, str]]  # a conversation's (role, content) turns, system first


@dataclass(frozen=True, slots=True)
class Sampled:
    """A record kept in the reservoir sample."""

    id: str
    text: str  # instruction, input and output (a conversation: its turns) joined by newlines
    opener: str


@dataclass
class Collected:
    """What one pass over a dataset (or a seed set) found."""

    n: int = 0
    fmt: str = ""
    # words of the instruction and output; a conversation's mean words per user turn and
    # per assistant turn, which a single exchange's counts compare with
    instruction_words: array[int] = field(default_factory=lambda: array("i"))
    output_words: array[int] = field(default_factory=lambda: array("i"))
    exchanges: array[int] = field(default_factory=lambda: array("i"))  # 1 for a single exchange
    conversations: int = 0  # records of more than one exchange
    openers: Counter[str] = field(default_factory=Counter)
    traits: TraitCounter = field(default_factory=TraitCounter)
    shapes: Counter[str] = field(default_factory=Counter)  # output formats (shapes.SHAPES)
    sample: list[Sampled] = field(default_factory=list)
    duplicates: int = 0
    seed_credit: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    with_lineage: int = 0
    # (request id or record id, roots) -> records: records from one call share their seeds,
    # so seed_skew's chance baseline draws seeds per call, not per record.
    lineage_units: Counter[tuple[str, tuple[str, ...]]] = field(default_factory=Counter)
    unresolved_lineage: int = 0
    methods: Counter[str] = field(default_factory=Counter)
    operators: Counter[str] = field(default_factory=Counter)
    scores: array[float] = field(default_factory=lambda: array("d"))
    scored_output_words: array[int] = field(default_factory=lambda: array("i"))
    passed: int = 0
    judged_pass_known: int = 0
    judge_by_id: dict[str, tuple[float | None, bool | None]] = field(default_factory=dict)
    pairs: Pairs = field(default_factory=Pairs)  # preference records (chosen and rejected)


class Collector:
    """Feed records with `add`; read the result from `.out`."""

    def __init__(self, seed: int, keep_judge_ids: bool = False) -> None:
        self.out = Collected()
        self._rng = random.Random(seed)
        self._seen: set[int] = set()
        self._roots: dict[str, tuple[str, ...]] = {}
        self._keep_judge_ids = keep_judge_ids

    def add(
        self,
        rid: str,
        instruction: str,
        inp: str,
        output: str,
        prov: dict[str, Any] | None,
        turns: Turns | None = None,
    ) -> None:
        """Count one record (and its provenance) and offer it to the reservoir sample;
        `turns` are a conversation's every turn, its first exchange being instruction/output."""
        o = self.out
        o.n += 1
        asks = [c for r, c in turns or () if r == "user"] or [instruction]
        answers = [c for r, c in turns or () if r == "assistant"] or [output]
        o.exchanges.append(len(answers))
        o.conversations += len(answers) > 1
        ow = _mean_words(answers)
        o.instruction_words.append(_mean_words(asks))
        o.output_words.append(ow)
        first = opener(instruction)  # the first user turn: what opens the conversation
        o.openers[first] += 1
        o.traits.add("\n\n".join(answers))  # a habit in any answer is the record's habit
        o.shapes[output_shape(output)] += 1  # the first answer: a format is set by its first
        if turns:
            text = "\n".join(c for r, c in turns if r != "system")
            key = hash(tuple(turns))
        else:
            text = f"{instruction}\n{inp}\n{output}"
            key = hash((instruction, inp, output))
        if key in self._seen:
            o.duplicates += 1
        else:
            self._seen.add(key)
        if prov:
            self._provenance(rid, prov, ow)
        # Reservoir sampling (Algorithm R): every record is kept with equal chance.
        sample = o.sample
        j = len(sample) if len(sample) < SAMPLE_SIZE else self._rng.randrange(o.n)
        if j < SAMPLE_SIZE:
            item = Sampled(rid, text, first)
            if j == len(sample):
                sample.append(item)
            else:
                sample[j] = item

    def _provenance(self, rid: str, prov: dict[str, Any], out_words: int) -> None:
        o = self.out
        method = str(prov.get("method") or "unknown")
        o.methods[method] += 1
        if prov.get("operator"):
            o.operators[f"{method}/{prov['operator']}"] += 1
        gen = prov.get("generator")
        call = gen.get("request_id") if isinstance(gen, dict) else None
        self._lineage(rid, prov.get("parents") or [], str(call) if call else None)
        judge = prov.get("judge")
        if not isinstance(judge, dict):
            return
        score = judge.get("score")
        value = float(score) if isinstance(score, int | float) else None
        passed = judge.get("passed")
        if value is not None:
            o.scores.append(value)
            o.scored_output_words.append(out_words)
        if isinstance(passed, bool):
            o.judged_pass_known += 1
            o.passed += passed
        if self._keep_judge_ids:
            o.judge_by_id[rid] = (value, passed if isinstance(passed, bool) else None)

    def _lineage(self, rid: str, parents: list[Any], call: str | None) -> None:
        """A record's roots are its seed parents plus the roots of its machine parents seen
        earlier in the file; it credits each root 1/len(roots)."""
        if not parents:
            return
        o = self.out
        roots: set[str] = set()
        for p in parents:
            p = str(p)
            if p.startswith("seed:"):
                roots.add(p[5:])
            else:
                roots.update(self._roots.get(p, ()))
        if not roots:
            o.unresolved_lineage += 1
            return
        o.with_lineage += 1
        ordered = tuple(sorted(roots))
        self._roots[rid] = ordered
        o.lineage_units[(call or f"record:{rid}", ordered)] += 1
        share = 1.0 / len(ordered)
        for r in ordered:
            o.seed_credit[r] += share


def collect_rows(
    path: Path, seed: int, fmt: str | None = None, keep_judge_ids: bool = False
) -> Collected:
    """Stream a dataset file (any format dataset.iter_rows reads) into a Collected."""
    # keep_judge_ids keeps each record's judge verdict by id, to join human verdicts
    from synthgen.seeds.dataset import SYNTHGEN, iter_rows

    c = Collector(seed, keep_judge_ids)
    for row in iter_rows(path, fmt):
        prov = row.raw.get("provenance") if row.fmt == SYNTHGEN else None
        turns = [(t["role"], t["content"]) for t in row.messages] if row.messages else None
        c.add(
            row.id,
            row.instruction,
            row.input,
            row.output,
            prov if isinstance(prov, dict) else None,
            turns,
        )
        if not c.out.fmt:
            c.out.fmt = row.fmt
        if row.fmt == SYNTHGEN:
            c.out.pairs.add(row.raw)
    return c.out


Example = tuple[str, str, str, str] | tuple[str, str, str, str, Turns | None]


def collect_texts(items: Iterable[Example], seed: int) -> Collected:
    """Seeds (or any plain examples) as (id, instruction, input, output), with a fifth item,
    a conversation's turns, when they have them."""
    c = Collector(seed)
    for item in items:
        turns = item[4] if len(item) > 4 else None
        c.add(item[0], item[1], item[2], item[3], None, turns)
    return c.out


def _mean_words(texts: Sequence[str]) -> int:
    """Words per text, averaged and rounded (one text: its own count)."""
    return round(sum(map(word_count, texts)) / len(texts))


def read_ledger(path: Path) -> dict[str, dict[str, int]]:
    """Drops per stage and reason in a ledger file."""
    from synthgen.core.jsonl import iter_jsonl

    drops: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for _, obj in iter_jsonl(path):
        d = obj.get("dropped")
        if isinstance(d, dict):
            drops[str(d.get("stage", "?"))][str(d.get("reason", "?"))] += 1
    return {stage: dict(reasons) for stage, reasons in drops.items()}

"""One streaming pass over a dataset: everything the report needs, in bounded memory.

Per-record numbers (lengths, openers, traits, lineage, judge scores) are kept for every
record; texts only for a seeded reservoir sample, which the size-dependent metrics use.
"""

from __future__ import annotations

import random
from array import array
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synthgen.stages.report.metrics import opener, word_count
from synthgen.stages.report.shapes import output_shape
from synthgen.stages.report.traits import TraitCounter

SAMPLE_SIZE = 2000  # records kept as text for sampled metrics (reservoir, seeded)


@dataclass(frozen=True, slots=True)
class Sampled:
    """A record kept in the reservoir sample."""

    id: str
    text: str  # instruction, input and output joined by newlines
    opener: str


@dataclass
class Collected:
    """What one pass over a dataset (or a seed set) found."""

    n: int = 0
    fmt: str = ""
    instruction_words: array[int] = field(default_factory=lambda: array("i"))
    output_words: array[int] = field(default_factory=lambda: array("i"))
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


class Collector:
    """Feed records with `add`; read the result from `.out`."""

    def __init__(self, seed: int, keep_judge_ids: bool = False) -> None:
        self.out = Collected()
        self._rng = random.Random(seed)
        self._seen: set[int] = set()
        self._roots: dict[str, tuple[str, ...]] = {}
        self._keep_judge_ids = keep_judge_ids

    def add(
        self, rid: str, instruction: str, inp: str, output: str, prov: dict[str, Any] | None
    ) -> None:
        """Count one record (and its provenance) and offer it to the reservoir sample."""
        o = self.out
        o.n += 1
        ow = word_count(output)
        o.instruction_words.append(word_count(instruction))
        o.output_words.append(ow)
        first = opener(instruction)
        o.openers[first] += 1
        o.traits.add(output)
        o.shapes[output_shape(output)] += 1
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
            item = Sampled(rid, f"{instruction}\n{inp}\n{output}", first)
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
        c.add(
            row.id, row.instruction, row.input, row.output, prov if isinstance(prov, dict) else None
        )
        if not c.out.fmt:
            c.out.fmt = row.fmt
    return c.out


def collect_texts(items: Iterable[tuple[str, str, str, str]], seed: int) -> Collected:
    """Seeds (or any plain examples) as (id, instruction, input, output)."""
    c = Collector(seed)
    for rid, instruction, inp, output in items:
        c.add(rid, instruction, inp, output, None)
    return c.out


def read_ledger(path: Path) -> dict[str, dict[str, int]]:
    """Drops per stage and reason in a ledger file."""
    from synthgen.core.jsonl import iter_jsonl

    drops: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for _, obj in iter_jsonl(path):
        d = obj.get("dropped")
        if isinstance(d, dict):
            drops[str(d.get("stage", "?"))][str(d.get("reason", "?"))] += 1
    return {stage: dict(reasons) for stage, reasons in drops.items()}

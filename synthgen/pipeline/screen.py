"""The cheap decisions `run` makes before the judge is paid: filter's rules, then the checks
that execute (stages/filter/checks), then dedup's own decisions (stages/dedup/incremental.py)
against the evaluation sets, the seeds, the `against` sets and every candidate admitted so
far, so `run` and `synthgen dedup` cannot disagree."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from synthgen.config import Config
from synthgen.records import Record, Seed, dedup_fields, sha256_hex
from synthgen.stages.dedup.corpus import AGAINST, CONTAM
from synthgen.stages.dedup.incremental import Decision, IncrementalDedup, Ref
from synthgen.stages.filter.checks.runner import Checks
from synthgen.stages.filter.rules import Candidate, Rules
from synthgen.text.normalise import normalise

if TYPE_CHECKING:
    from synthgen.stages.dedup.semantic import Embedder


@dataclass(frozen=True)
class Verdict:
    """Why a candidate goes no further: its stage, reason and detail (and what it matched)."""

    stage: str
    reason: str
    detail: str
    match: dict[str, Any] | None = None


class Screen:
    """Rules first, then dedup's incremental decision (leaks, exact, near); in that order."""

    def __init__(self, cfg: Config, seeds: list[Seed], embed: Embedder | None = None) -> None:
        d = cfg.dedup
        self.rules = Rules(cfg.filter.rules)
        # The seeds already passed them (filter's plan ran them before anything was paid).
        self.checks = Checks(cfg.filter.checks, seeds) if cfg.filter.checks.enabled else None
        self.passed_checks: set[str] = set()  # ids: their ledger lines say so (report's rates)
        fields = tuple(d.fields) if d.fields else None
        self.dedup = IncrementalDedup(d.method, d.threshold, fields, embed=embed)
        self.method, self.fields = d.method, self.dedup.fields
        # dedup's reference order: evaluation sets, then `against` sets (the seeds first)
        for path in d.decontaminate:
            self._load(path, CONTAM)
        for s in seeds:
            line = s.source.get("line")
            ref = Ref(s.ref, AGAINST, str(s.source.get("file", "seeds")), line)
            self.dedup.add_reference(ref, _texts(*_fields(s)))
        for path in d.against:
            self._load(path, AGAINST)

    def _load(self, path: Path, kind: int) -> None:
        from synthgen.seeds.dataset import ANY
        from synthgen.stages.dedup.documents import reference_rows
        from synthgen.stages.dedup.policy import row_texts, source_id

        for row in reference_rows(path, ANY if kind == CONTAM else None):
            ref = Ref(row.id, kind, str(path), row.line, source_id(row))
            self.dedup.add_reference(ref, row_texts(row))

    @property
    def screens_instructions(self) -> bool:
        """Whether duplicates can be told from the instruction alone (no output compared)."""
        return "output" not in self.fields

    def instruction(self, instruction: str, input: str, task: str | None = None) -> Verdict | None:
        """Before a response is paid for: a copied instruction or an eval leak goes no
        further; one that passes is admitted (check() then skips dedup for its record)."""
        failed = self.rules.check_instruction(instruction, input, task)
        if failed is not None:
            return Verdict("rules", failed[0], failed[1])
        key = f"instruction:{sha256_hex(normalise(instruction + ' ' + input))[:16]}"
        return _verdict(self.dedup.check(key, _texts(instruction, input, "")))

    def check(self, rec: Record, deduplicated: bool = False, count: bool = True) -> Verdict | None:
        """Why `rec` goes no further, or None; a candidate that passes is admitted, so later
        candidates that copy it are duplicates (whatever the judge says of it).
        `deduplicated`: its instruction already passed `instruction()`; `count`: False for a
        repaired answer (a check's pass rate is its first attempts')."""
        prov = rec.provenance
        reasons = (prov.generator.finish_reason,) if prov and prov.generator else ()
        task = (rec.meta or {}).get("task")
        if rec.messages:
            turns = [t.model_dump() for t in rec.messages]
            failed = self.rules.check_conversation(turns, reasons, task)
        elif rec.responses and len(rec.responses) >= 2:  # each response: with the judge
            failed = self.rules.check_instruction(rec.instruction, rec.input, task)
        else:
            failed = self.rules.check(
                Candidate(rec.instruction, rec.input, rec.output, reasons), task
            )
        if failed is not None:
            return Verdict("rules", failed[0], failed[1])
        executed = self.execute(rec, count)
        if executed is not None:
            return executed
        if self.checks is not None and self._checked(rec):
            self.passed_checks.add(rec.id)
        if deduplicated:
            return None
        return _verdict(self.dedup.check(rec.id, _texts(*_fields(rec))))

    def _checked(self, rec: Record) -> bool:
        return self.checks is not None and not rec.messages and not rec.responses

    def execute(self, rec: Record, count: bool = True) -> Verdict | None:
        """The checks that execute (a query against its schema, JSON against its schema,
        code against its tests), on a single-turn record the rules passed."""
        if self.checks is None or not self._checked(rec):
            return None
        meta = rec.meta
        subject = self.checks.subject(rec.instruction, rec.input, rec.output, meta)
        failed = self.checks.check(subject, count)
        return None if failed is None else Verdict("checks", failed[1], failed[2])

    def stamp(self, rec: Record) -> dict[str, Any]:
        """What a kept record's provenance says of the checks it passed ({} without any)."""
        if self.checks is None or not self._checked(rec):
            return {}
        return {"checks": self.checks.provenance()}

    def stamp_passed(self, rec: Record) -> dict[str, Any]:
        """`stamp`, for a candidate that passed the checks and was dropped later (dedup, the
        judge, surplus): its ledger line counts as a pass, as the manifest counts it."""
        return self.stamp(rec) if rec.id in self.passed_checks else {}


def _verdict(decision: Decision | None) -> Verdict | None:
    if decision is None:
        return None
    return Verdict("dedup", decision.reason, decision.detail, decision.match)


def _fields(ex: Record | Seed) -> tuple[str, str, str]:
    """(instruction, input, output) as dedup compares them; a conversation's are over all of
    it: every user turn, its system prompt, every assistant turn (as `synthgen dedup`)."""
    if not ex.messages:
        return ex.instruction, ex.input, ex.output
    return dedup_fields([(t.role, t.content) for t in ex.messages])


def _texts(instruction: str, input: str, output: str) -> dict[str, str]:
    return {"instruction": instruction, "input": input, "output": output}

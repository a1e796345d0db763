"""The cheap decisions `run` makes before the judge is paid: the rules, then duplicates of
the seeds, of the `against` sets and of every candidate admitted so far, then eval leaks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from synthgen.config import Config
from synthgen.errors import UsageError
from synthgen.records import Record, Seed, dedup_fields, sha256_hex
from synthgen.stages.dedup.corpus import DEFAULT_THRESHOLD
from synthgen.stages.dedup.decontam import NgramIndex
from synthgen.stages.filter.rules import Candidate, Rules
from synthgen.text.normalise import (
    TEXT_FIELDS,
    id_char,
    joined,
    normalise,
    rouge_tokens,
    word_shingles,
    words,
)


@dataclass(frozen=True)
class Verdict:
    """Why a candidate goes no further: its stage, reason and detail (and what it matched)."""

    stage: str
    reason: str
    detail: str
    match: dict[str, Any] | None = None


@dataclass(frozen=True)
class _Ref:
    """Something a candidate may copy: a seed, an `against` record or an admitted candidate."""

    id: str
    kind: str  # "seed" | "against" | "candidate"
    source: str


class Screen:
    """Rules, exact and near duplicates (incremental), decontamination; in that order."""

    def __init__(self, cfg: Config, seeds: list[Seed]) -> None:
        d = cfg.dedup
        if d.method == "semantic":
            raise UsageError(
                "dedup.method semantic is not available in `run` yet",
                hint="use minhash, rouge-l or exact in the config; run `synthgen dedup "
                "--method semantic` on data.jsonl afterwards",
            )
        self.rules = Rules(cfg.filter.rules)
        self.method = d.method
        default_fields = ("instruction",) if d.method == "rouge-l" else ("instruction", "input")
        self.fields = tuple(d.fields) if d.fields else default_fields
        self.threshold = d.threshold or DEFAULT_THRESHOLD.get(d.method, 1.0)
        self.exact: dict[str, _Ref] = {}
        self.refs: list[_Ref] = []
        self.near: Any = None
        if d.method == "minhash":
            from synthgen.stages.dedup.index import NearDupIndex

            self.near = NearDupIndex(self.threshold)
        self.rouge: list[tuple[_Ref, str]] = []
        self.vocab: dict[str, int] = {}
        self.contam = NgramIndex()
        self.contam_refs: list[_Ref] = []
        for s in seeds:
            source = str(s.source.get("file", "seeds"))
            self._admit(_Ref(s.ref, "seed", source), *_fields(s))
        for path in d.against:
            self._load(path, "against")
        for path in d.decontaminate:
            self._load(path, "decontaminate")

    def _load(self, path: Path, kind: str) -> None:
        from synthgen.seeds.dataset import ANY, iter_rows

        for row in iter_rows(path, ANY if kind == "decontaminate" else None, empty_output=True):
            ref = _Ref(row.id, kind, f"{path}:{row.line}")
            if kind == "decontaminate":
                all_text = joined(_texts(row.instruction, row.input, row.output), TEXT_FIELDS)
                self.contam.add(len(self.contam_refs), words(all_text))
                self.contam_refs.append(ref)
            else:
                self._admit(ref, row.instruction, row.input, row.output)

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
        rec_text = _texts(instruction, input, "")
        leak = self._leak_text(joined(rec_text, ("instruction", "input")))
        if leak is not None:
            return leak
        dup = self._duplicate_text(joined(rec_text, self.fields))
        if dup is not None:
            return dup
        ref = _Ref(
            f"instruction:{sha256_hex(normalise(instruction + ' ' + input))[:16]}",
            "candidate",
            "this run",
        )
        self._admit(ref, instruction, input, "")
        return None

    def check(self, rec: Record, deduplicated: bool = False) -> Verdict | None:
        """Why `rec` goes no further, or None; a candidate that passes is admitted, so later
        candidates that copy it are duplicates (whatever the judge says of it).
        `deduplicated`: its instruction already passed `instruction()`."""
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
        if deduplicated:
            return None
        leak = self._leak(rec)
        if leak is not None:
            return leak
        dup = self._duplicate(rec)
        if dup is not None:
            return dup
        self._admit(_Ref(rec.id, "candidate", "this run"), *_fields(rec))
        return None

    def _leak(self, rec: Record) -> Verdict | None:
        return self._leak_text(joined(_texts(*_fields(rec)), TEXT_FIELDS))

    def _leak_text(self, all_text: str) -> Verdict | None:
        if not self.contam_refs:
            return None
        hit = self.contam.match(words(all_text))
        if hit is None:
            return None
        ref = self.contam_refs[int(hit[0])]  # type: ignore[call-overload]
        match = {"id": ref.id, "similarity": round(hit[1], 4), "source": ref.source}
        return Verdict("dedup", "contaminated", "evaluation item: 13-gram overlap", match)

    def _duplicate(self, rec: Record) -> Verdict | None:
        return self._duplicate_text(joined(_texts(*_fields(rec)), self.fields))

    def _duplicate_text(self, text: str) -> Verdict | None:
        key = normalise(text)
        if not key:
            return None  # a text with no words is nobody's duplicate
        ref, sim = self.exact.get(key), 1.0
        if ref is None and self.near is not None:
            found = self.near.query(word_shingles(words(text)))
            if found:
                ref, sim = self.refs[int(found[0][0])], found[0][1]
        if ref is None and self.method == "rouge-l":
            ref, sim = self._rouge(text)
        if ref is None:
            return None
        reason = "exact_duplicate" if sim >= 1.0 and key in self.exact else "near_duplicate"
        if ref.kind != "candidate":
            reason = "against_match"
        match = {"id": ref.id, "similarity": round(sim, 4), "source": ref.source}
        return Verdict("dedup", reason, f"{self.method} similarity {sim:.3f} to {ref.id}", match)

    def _rouge(self, text: str) -> tuple[_Ref | None, float]:
        from rapidfuzz.distance import Indel

        # Indel similarity over token strings is ROUGE-L F1 (2·LCS ÷ both lengths).
        mine = self._tokens(text)
        best: tuple[_Ref | None, float] = (None, 0.0)
        for ref, other in self.rouge:
            sim = Indel.normalized_similarity(mine, other)
            if sim > self.threshold and sim > best[1]:
                best = (ref, sim)
        return best

    def _tokens(self, text: str) -> str:
        """ROUGE's tokens as one character each (ids assigned on first sight)."""
        return "".join(
            id_char(self.vocab.setdefault(t, len(self.vocab))) for t in rouge_tokens(text)
        )

    def _admit(self, ref: _Ref, instruction: str, input: str, output: str) -> None:
        text = joined(_texts(instruction, input, output), self.fields)
        key = normalise(text)
        if not key:
            return
        self.exact.setdefault(key, ref)
        if self.near is not None:
            self.near.add(len(self.refs), word_shingles(words(text)))
        if self.method == "rouge-l":
            self.rouge.append((ref, self._tokens(text)))
        self.refs.append(ref)


def _fields(ex: Record | Seed) -> tuple[str, str, str]:
    """(instruction, input, output) as dedup compares them; a conversation's are over all of
    it: every user turn, its system prompt, every assistant turn (as `synthgen dedup`)."""
    if not ex.messages:
        return ex.instruction, ex.input, ex.output
    return dedup_fields([(t.role, t.content) for t in ex.messages])


def _texts(instruction: str, input: str, output: str) -> dict[str, str]:
    return {"instruction": instruction, "input": input, "output": output}

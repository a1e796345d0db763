"""`run`'s screen: filter's rules first, then dedup's own decision; the instruction gate;
texts with no words; semantic with an injected embedder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
from support.filter_fixtures import synthgen_record

from synthgen.config import Config
from synthgen.pipeline.screen import Screen
from synthgen.records import Record, Seed

PLANET = "Explain why the planet Mars looks red when seen from the surface of the Earth"
TIDES = "Describe how the moon causes the ocean tides to rise and fall twice every day"
BREAD = "Write a short recipe for baking a simple loaf of sourdough bread at home today"
SEED = Seed(id="s1", instruction=TIDES, output="gravity", source={"file": "seeds.jsonl"})


def _cfg(**dedup: Any) -> Config:
    return Config.model_validate({"dedup": dedup, "filter": {"rules": {"blacklist": ["lorem"]}}})


def _rec(
    instruction: str, output: str = "An answer of several plain words.", finish: str = "stop"
) -> Record:
    return Record.model_validate(synthgen_record(instruction, output, finish_reason=finish))


def test_rules_come_first_and_a_rule_drop_is_not_admitted() -> None:
    screen = Screen(_cfg(), [SEED])
    v = screen.check(_rec(TIDES + " lorem"))  # a copy of a seed and a blacklisted word
    assert v is not None and (v.stage, v.reason) == ("rules", "blacklisted_keyword")
    assert screen.check(_rec(BREAD + " lorem")) is not None
    # the rule-dropped candidate was never admitted: its copy without the word is kept
    assert screen.check(_rec(BREAD)) is None


def test_dedup_decides_after_the_rules_with_dedups_reasons_and_match() -> None:
    screen = Screen(_cfg(), [SEED])
    first = _rec(PLANET)
    assert screen.check(first) is None
    v = screen.check(_rec(PLANET.upper() + "!"))
    assert v is not None and (v.stage, v.reason) == ("dedup", "exact_duplicate")
    assert v.match == {"id": first.id, "similarity": 1.0, "source": "this run"}
    assert v.detail == "same normalised instruction+input"
    v = screen.check(_rec(TIDES.replace("moon", "Moon's pull")))
    assert v is not None and v.reason == "against_match"  # a seed is an `against` reference
    assert v.match is not None and v.match["id"] == "seed:s1"
    assert v.detail == "word 2-gram Jaccard ≥ 0.5"


def test_rouge_l_has_no_exact_stage_a_copy_is_a_near_duplicate() -> None:
    screen = Screen(_cfg(method="rouge-l"), [])
    assert screen.check(_rec(PLANET)) is None
    v = screen.check(_rec(PLANET + "."))
    assert v is not None and v.reason == "near_duplicate"
    assert v.match is not None and v.match["similarity"] == 1.0
    assert v.detail == "ROUGE-L F1 > 0.7"


def test_a_copy_of_a_short_eval_item_is_contaminated(tmp_path: Path) -> None:
    evals = tmp_path / "eval.jsonl"
    evals.write_bytes(orjson.dumps({"question": "Name the capital of France", "answer": "Paris"}))
    screen = Screen(_cfg(decontaminate=[evals]), [])
    v = screen.check(_rec("Name the capital of France?"))  # four words: no 13-gram
    assert v is not None and v.reason == "contaminated"
    assert v.match is not None and v.match["source"] == str(evals) and v.match["line"] == 1


def test_the_instruction_gate_admits_and_check_then_applies_the_rules_only() -> None:
    screen = Screen(_cfg(), [])
    assert screen.screens_instructions
    assert screen.instruction(PLANET, "") is None
    v = screen.instruction(PLANET.lower(), "")
    assert v is not None and v.reason == "exact_duplicate"
    assert v.match is not None and v.match["id"].startswith("instruction:")
    failed = screen.instruction("lorem " + BREAD, "")
    assert failed is not None and failed.stage == "rules"
    # the gated record: its dedup is done, its rules are checked on the whole record
    assert screen.check(_rec(PLANET), deduplicated=True) is None
    truncated = screen.check(_rec(PLANET, finish="length"), deduplicated=True)
    assert truncated is not None and truncated.reason == "truncated"
    assert not Screen(_cfg(fields=["instruction", "output"]), []).screens_instructions


def test_a_text_with_no_words_is_nobodys_duplicate() -> None:
    cfg = Config.model_validate({"filter": {"rules": {"enabled": False}}})
    screen = Screen(cfg, [Seed(id="e", instruction="?!", output="…")])
    assert screen.check(_rec("?!", "…")) is None
    assert screen.check(_rec("?! ?", "…")) is None


def _letters(texts: list[str]) -> npt.NDArray[np.float32]:
    """A stand-in embedder: letter counts, normalised (a word order change keeps the vector)."""
    out = np.zeros((len(texts), 26), np.float32)
    for i, t in enumerate(texts):
        for c in t.lower():
            if "a" <= c <= "z":
                out[i, ord(c) - 97] += 1
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def test_semantic_is_available_in_run_with_dedups_semantic_code() -> None:
    screen = Screen(_cfg(method="semantic", threshold=0.99), [], embed=_letters)
    assert screen.check(_rec(PLANET)) is None
    v = screen.check(_rec(" ".join(reversed(PLANET.split()))))
    assert v is not None and v.reason == "semantic_duplicate"
    assert v.detail == "cosine ≥ 0.99"
    assert screen.check(_rec(BREAD)) is None

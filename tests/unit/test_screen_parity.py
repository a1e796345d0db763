"""`run`'s screen and `synthgen dedup` decide alike: the same candidates, fed one by one to the
screen and as one file to dedup (input order, keep=first), get the same decision, reason,
detail and match, for every method, with seeds, `against` sets and evaluation sets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from support.dedup_corpus import planted_texts

from synthgen.config import Config
from synthgen.pipeline.screen import Screen
from synthgen.records import Seed
from synthgen.seeds.dataset import iter_rows, to_record
from synthgen.stages.dedup.stage import DedupConfig, run_dedup

METHODS = ["exact", "minhash", "rouge-l", "semantic"]
SHORT = "What is the capital of France?"  # an eval item too short for a 13-gram


def _write(path: Path, rows: list[dict[str, str]]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return path


def _corpus(tmp: Path) -> dict[str, Path]:
    """References drawn from the same planted stream as the candidates, so candidates copy
    references (exactly, restyled, edited) and each other; plus the edge cases by hand."""
    texts = list(planted_texts(700, seed=7, dup_rate=0.35))

    def rows(chunk: list[str], tag: str) -> list[dict[str, str]]:
        return [
            {"instruction": t, "input": "", "output": f"{tag} {i % 9}"} for i, t in enumerate(chunk)
        ]

    contam = [*rows(texts[:12], "gold"), {"instruction": SHORT, "input": "", "output": "Paris"}]
    seeds = rows(texts[12:30], "seed")
    against = [*rows(texts[30:60], "ref"), seeds[3]]  # the same text as a seed: one match
    cands = rows(texts[60:], "answer")
    cands[5:5] = [
        {"instruction": SHORT.upper(), "input": "", "output": "paris"},  # an eval item, restyled
        {"instruction": "?!", "input": "", "output": "…"},  # no words: nobody's duplicate
        {"instruction": "?!", "input": "", "output": "…"},
        {"instruction": seeds[0]["instruction"] + "!", "input": "", "output": "x"},
    ]
    return {
        "contam": _write(tmp / "eval.jsonl", contam),
        "seeds": _write(tmp / "seeds.jsonl", seeds),
        "against": _write(tmp / "against.jsonl", against),
        "input": _write(tmp / "candidates.jsonl", cands),
    }


def _by_dedup(tmp: Path, files: dict[str, Path], method: str, fields: Any) -> list[Any]:
    """Each candidate's fate from `synthgen dedup`'s stage function, in input order."""
    cfg = DedupConfig(
        input=str(files["input"]),
        output=str(tmp / "kept.jsonl"),
        rejected=str(tmp / "dropped.jsonl"),
        method=method,
        fields=fields,
        against=(str(files["seeds"]), str(files["against"])),
        decontaminate=(str(files["contam"]),),
        state_dir=str(tmp / "state"),
    )
    run_dedup(cfg, lambda _: None)
    fates: dict[int, Any] = {}
    for name in ("kept.jsonl", "dropped.jsonl"):
        for line in (tmp / name).read_bytes().splitlines():
            rec = orjson.loads(line)
            fates[rec["provenance"]["source"]["line"]] = (
                (rec["dropped"]["reason"], rec["dropped"]["detail"], rec["match"])
                if "dropped" in rec
                else None
            )
    return [fates[n] for n in sorted(fates)]


def _by_screen(files: dict[str, Path], method: str, fields: Any) -> list[Any]:
    """Each candidate's fate from `run`'s screen, fed one record at a time."""
    seeds = [
        Seed(
            id=row.id,
            instruction=row.instruction,
            input=row.input,
            output=row.output,
            source={"file": str(files["seeds"]), "line": row.line},
        )
        for row in iter_rows(files["seeds"])
    ]
    dedup = {"method": method, "fields": fields, "against": [files["against"]]}
    cfg = Config.model_validate(
        {
            "dedup": {**dedup, "decontaminate": [files["contam"]]},
            "filter": {"rules": {"enabled": False}},
        }
    )
    screen = Screen(cfg, seeds)
    out = []
    for row in iter_rows(files["input"], empty_output=True):
        v = screen.check(to_record(row, str(files["input"])))
        out.append(None if v is None else (v.reason, v.detail, v.match))
    return out


@pytest.mark.parametrize(
    ("method", "fields"),
    [*((m, None) for m in METHODS), ("minhash", ["instruction", "output"])],
)
def test_the_screen_decides_as_synthgen_dedup(tmp_path: Path, method: str, fields: Any) -> None:
    files = _corpus(tmp_path)
    by_dedup = _by_dedup(tmp_path, files, method, fields)
    by_screen = _by_screen(files, method, fields)
    seed_ids = {row.id: f"seed:{row.id}" for row in iter_rows(files["seeds"])}
    assert len(by_dedup) == len(by_screen)
    for n, (d, s) in enumerate(zip(by_dedup, by_screen, strict=True)):
        if d is not None and s is not None:
            match = dict(d[2])
            if match["source"] == str(files["seeds"]):  # a seed, as run names its parents
                match["id"] = seed_ids[match["id"]]
            elif match["source"] == str(files["input"]):  # a candidate kept earlier
                match["source"] = "this run"
            d = (d[0], d[1], match)
        assert s == d, f"candidate {n}"
    reasons = {f[0] for f in by_screen if f is not None}
    wanted = {"against_match", "contaminated", "near_duplicate", "exact_duplicate"}
    if method == "rouge-l":  # no exact stage: a copy is a near duplicate with F1 1.0
        wanted -= {"exact_duplicate"}
    elif method == "exact":
        wanted -= {"near_duplicate"}
    elif method == "semantic":
        wanted = wanted - {"near_duplicate"} | {"semantic_duplicate"}
    assert reasons == wanted
    kept = [f for f in by_screen if f is None]
    assert len(kept) > len(by_screen) // 3

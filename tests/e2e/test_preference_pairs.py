"""Preference pairs over real HTTP: `expand --responses-per-instruction 3`, then `filter` makes
chosen/rejected pairs with the stand-in as the judge."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support.helpers import read_jsonl, run

from synthgen.standin import StandinHandle

SEEDS = Path(__file__).resolve().parents[2] / "seeds" / "support_triage.jsonl"


def _ok(args: list[str]) -> dict[str, Any]:
    r = run([*args, "--json"])
    assert r.code == 0, r.stderr
    return r.json()


def _expand(standin: StandinHandle, tmp: Path, *extra: str) -> Path:
    raw = tmp / "raw.jsonl"
    s = _ok(["expand", str(SEEDS), "-n", "8", "--per-call", "4", "--responses-per-instruction",
             "3", "-o", str(raw), "--base-url", standin.base_url, "--model", "standin-fake",
             "--state-dir", str(tmp / "state"), *extra])  # fmt: skip
    assert s["counts"]["written"] == 8
    return raw


def _filter(
    standin: StandinHandle, tmp: Path, raw: Path, min_margin: float
) -> tuple[Path, dict[str, Any]]:
    cfg = tmp / f"judge{min_margin}.yaml"
    cfg.write_text(f"filter:\n  judge:\n    min_margin: {min_margin}\n    threshold: 3\n")
    kept = tmp / f"kept{min_margin}.jsonl"
    s = _ok(["filter", str(raw), "-o", str(kept), "--base-url", standin.base_url, "--model",
             "standin-fake", "--state-dir", str(tmp / "state"), "--config", str(cfg)])  # fmt: skip
    assert s["counts"]["input"] == 8 and s["counts"]["pairs"] == 8
    assert s["counts"]["kept"] + s["counts"]["dropped_total"] == 8
    return kept, s


def test_k_responses_become_pairs_whose_margin_holds(
    standin: StandinHandle, tmp_path: Path
) -> None:
    raw = _expand(standin, tmp_path)
    for r in read_jsonl(raw):
        seeds = [x["generator"]["params"]["seed"] for x in r["responses"]]
        assert len(r["responses"]) == 3 and len(set(seeds)) == 3  # three calls, three seeds
    standin.set_faults(judge_score_by_length=45)  # scores differ with the response's length
    kept, _ = _filter(standin, tmp_path, raw, 1.0)
    pairs = read_jsonl(kept)
    assert pairs, "no pair was kept"
    for p in pairs:
        pref = p["provenance"]["preference"]
        scores, chosen, rejected = pref["scores"], pref["chosen"], pref["rejected"]
        assert scores[chosen] - scores[rejected] == pref["margin"] >= 1.0
        outputs = [x["output"] for x in p["responses"]]
        assert (p["chosen"], p["rejected"]) == (outputs[chosen], outputs[rejected])
        assert p["output"] == p["chosen"] and p["provenance"]["judge"]["passed"]
        assert len(pref["verdicts"]) == 3  # a verdict per response, in provenance
    ledger = read_jsonl(tmp_path / "kept1.0.ledger.jsonl") if len(pairs) < 8 else []
    assert {e["dropped"]["reason"] for e in ledger} <= {
        "margin_too_small", "position_inconsistent", "chosen_below_threshold", "too_few_responses",
    }  # fmt: skip


def test_ties_are_broken_by_the_swapped_check_and_inconsistent_ones_ledgered(
    standin: StandinHandle, tmp_path: Path
) -> None:
    raw = _expand(standin, tmp_path)
    standin.set_faults(judge_score=4)  # every response ties: the pairwise check decides
    kept, summary = _filter(standin, tmp_path, raw, 0.0)
    pairs = read_jsonl(kept)
    ledger = read_jsonl(tmp_path / "kept0.0.ledger.jsonl")
    assert pairs and ledger  # the stand-in's comparisons agree for some pairs, not others
    for p in pairs:
        tie = p["provenance"]["preference"]["tie_break"]
        assert tie["consistent"] and [a["order"] for a in tie["asked"]] == [[0, 1], [1, 0]]
        assert tie["asked"][0]["winner"] == tie["asked"][1]["winner"] == p["provenance"][
            "preference"]["chosen"]  # fmt: skip
    for e in ledger:
        assert e["dropped"]["reason"] == "position_inconsistent"
        assert e["provenance"]["preference"]["tie_break"]["consistent"] is False
    # three verdicts per pair, then two comparisons (one per order) for each tie
    assert summary["requests"]["sent"] == 8 * 3 + 8 * 2


def test_responses_come_from_each_model_in_turn(standin: StandinHandle, tmp_path: Path) -> None:
    cfg = tmp_path / "models.yaml"
    cfg.write_text("generation:\n  models: [standin-a, standin-b]\n")
    raw = _expand(standin, tmp_path, "--config", str(cfg))
    for r in read_jsonl(raw):
        models = [x["generator"]["model"] for x in r["responses"]]
        assert models == ["standin-a", "standin-b", "standin-a"]


def test_a_length_biased_judge_is_caught_and_pairs_export_as_dpo(
    standin: StandinHandle, tmp_path: Path
) -> None:
    datasets = pytest.importorskip("datasets")
    raw = _expand(standin, tmp_path)
    standin.set_faults(judge_score_by_length=80)  # one point per 80 characters: longer wins
    kept, _ = _filter(standin, tmp_path, raw, 1.0)
    pairs = read_jsonl(kept)
    assert len(pairs) >= 5
    assert all(len(p["chosen"]) > len(p["rejected"]) for p in pairs)
    rep = _ok(["report", str(kept), "-t", "min_records=5"])
    assert rep["preference"]["pairs"] == len(pairs)
    assert rep["preference"]["chosen_longer_share"] == 1.0
    assert "chosen_longer" in {w["code"] for w in rep["warnings"]}

    out = tmp_path / "dpo.jsonl"
    _ok(["export", str(kept), "--format", "dpo", "-o", str(out)])
    ds = datasets.load_dataset("json", data_files=str(out), split="train")
    assert len(ds) == len(pairs) and set(ds.column_names) == {"prompt", "chosen", "rejected"}
    for row, p in zip(ds, pairs, strict=True):  # TRL's standard preference format
        assert (row["prompt"], row["chosen"], row["rejected"]) == (
            p["prompt"], p["chosen"], p["rejected"],
        )  # fmt: skip
        assert all(isinstance(v, str) and v for v in row.values())

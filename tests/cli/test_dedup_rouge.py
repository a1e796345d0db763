"""`--method rouge-l` makes exactly Self-Instruct's keep/drop decisions.

The reference below is a direct, slow transcription of the filter loop in Self-Instruct's
bootstrap_instructions.py: each new instruction is scored against every instruction in the
pool (the seed instructions plus those kept so far) with rouge_score's rougeL F-measure
(default tokenizer, use_stemmer=False), and it is kept unless max(scores) > threshold.
ROUGE-L is computed here from scratch (a plain LCS table), independently of synthgen.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from support.helpers import read_jsonl, run

from synthgen.seeds.dataset import iter_rows


def tokenize(text: str) -> list[str]:
    # rouge_score's tokenize(): lowercase, non-alphanumerics to spaces, split, keep valid
    text = re.sub(r"[^a-z0-9]+", " ", text.lower())
    return [t for t in re.split(r"\s+", text) if re.match(r"^[a-z0-9]+$", t)]


def lcs_length(a: list[str], b: list[str]) -> int:
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            if a[i - 1] == b[j - 1]:
                table[i][j] = table[i - 1][j - 1] + 1
            else:
                table[i][j] = max(table[i - 1][j], table[i][j - 1])
    return table[-1][-1]


def rouge_l_fmeasure(target: list[str], prediction: list[str], lcs: int) -> float:
    if not target or not prediction:
        return 0.0
    precision = lcs / len(prediction)
    recall = lcs / len(target)
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


class Scores:
    """ROUGE-L F between texts by index, each pair's LCS computed once."""

    def __init__(self, texts: list[str]) -> None:
        self.tokens = [tokenize(t) for t in texts]
        self._lcs: dict[tuple[int, int], int] = {}

    def score(self, new: int, old: int) -> float:
        key = (min(new, old), max(new, old))
        if key not in self._lcs:
            self._lcs[key] = lcs_length(self.tokens[key[0]], self.tokens[key[1]])
        # scorer.score(inst, e_inst): the new instruction is the target
        return rouge_l_fmeasure(self.tokens[new], self.tokens[old], self._lcs[key])


def self_instruct_loop(scores: Scores, seeds: list[int], new: list[int], t: float) -> list[int]:
    pool = list(seeds)
    kept = []
    for inst in new:
        rouge_scores = [scores.score(inst, e) for e in pool]
        if rouge_scores and max(rouge_scores) > t:
            continue
        pool.append(inst)
        kept.append(inst)
    return kept


@pytest.fixture(scope="module")
def shared_rows(si_data: Path) -> tuple[Path, Path, Scores, list[str]]:
    data = si_data / "self-instruct"
    seeds, user = data / "seed_tasks.jsonl", data / "user_oriented_instructions.jsonl"
    ids = [r.id for f in (seeds, user) for r in iter_rows(f)]
    texts = [r.instruction for f in (seeds, user) for r in iter_rows(f)]
    return seeds, user, Scores(texts), ids


@pytest.fixture(scope="module")
def si_data() -> Path:
    """conftest's shared_data, computed once for the module (scoring is the slow part)."""
    from support.paths import shared_data_dir as _shared_data

    found = _shared_data()
    if found is None:
        pytest.skip("../shared/data (Self-Instruct seed sets) is not beside this checkout")
    return found


@pytest.mark.parametrize("threshold", [0.7, 0.5, 0.3])
def test_seed_pool_then_new_instructions(
    tmp_path: Path, shared_rows: tuple[Path, Path, Scores, list[str]], threshold: float
) -> None:
    """Self-Instruct's setting: the 175 seeds form the pool, the 252 others arrive in order."""
    seeds, user, scores, ids = shared_rows
    expected = self_instruct_loop(scores, list(range(175)), list(range(175, 427)), threshold)
    out = tmp_path / "out.jsonl"
    args = ["dedup", str(user), "-o", str(out), "--method", "rouge-l", "--fields", "instruction"]
    r = run([*args, "--threshold", str(threshold), "--against", str(seeds), "--json"])
    assert r.code == 0, r.stderr
    assert [rec["id"] for rec in read_jsonl(out)] == [ids[i] for i in expected]
    counts = r.json()["counts"]
    assert counts["kept"] == len(expected)
    assert counts["kept"] + sum(counts["dropped"].values()) == 252
    assert len(expected) < 252  # the comparison is not vacuous: something is dropped
    ledger = read_jsonl(tmp_path / "out.ledger.jsonl")
    for entry in ledger:
        assert entry["match"]["similarity"] > threshold - 1e-4
        assert entry["dropped"]["reason"] in ("against_match", "near_duplicate")


@pytest.mark.parametrize("threshold", [0.7, 0.4])
def test_one_stream_of_all_427(
    tmp_path: Path, shared_rows: tuple[Path, Path, Scores, list[str]], threshold: float
) -> None:
    """No pool to start with: greedy over the 175 + 252 instructions in order (with the
    default --fields, which are the instruction alone for rouge-l)."""
    seeds, user, scores, ids = shared_rows
    expected = self_instruct_loop(scores, [], list(range(427)), threshold)
    both = tmp_path / "all.jsonl"
    both.write_bytes(seeds.read_bytes().rstrip(b"\n") + b"\n" + user.read_bytes())
    out = tmp_path / "out.jsonl"
    r = run(
        [
            "dedup",
            str(both),
            "-o",
            str(out),
            "--method",
            "rouge-l",
            "--threshold",
            str(threshold),
        ]
    )
    assert r.code == 0, r.stderr
    assert [rec["id"] for rec in read_jsonl(out)] == [ids[i] for i in expected]
    assert len(expected) < 427

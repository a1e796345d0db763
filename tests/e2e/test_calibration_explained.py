"""Calibration that explains itself, over HTTP against the stand-in: a judge that fails the
human seeds names each one (id, line, score, threshold, the judge's reason) in the error and
the manifest, says that the stand-in's verdicts are made up and how to make it pass, and a
stand-in restarted with another judge setting is asked again instead of replayed."""

from __future__ import annotations

import json
from pathlib import Path

from support.helpers import read_jsonl
from support.runs import RUBRIC, SEEDS, THRESHOLD, last_seq, run_cmd, since, synthgen, write_config

from synthgen.standin import StandinConfig, run_in_thread


def _chats(entries: list[dict[str, object]]) -> int:
    return sum(1 for e in entries if e["path"] == "/v1/chat/completions")


def test_a_failing_calibration_names_its_seeds_and_a_changed_standin_asks_again(
    tmp_path: Path,
) -> None:
    n_seeds = len(read_jsonl(SEEDS))
    cfg = write_config(tmp_path / "run.yaml", tmp_path / "run", tmp_path / ".synthgen")
    with run_in_thread(StandinConfig(judge_score=2)) as s:
        r = synthgen(*run_cmd(cfg, s.base_url, "--count", "5"))
        assert r.code == 3, r.stderr
        assert f"the judge failed {n_seeds} of {n_seeds} human seeds" in r.stderr
        first_id = read_jsonl(SEEDS)[0]["id"]
        assert f"{first_id} ({SEEDS}:line 1): score 2 < {THRESHOLD:g}: " in r.stderr
        assert "stand-in" in r.stderr and "made up" in r.stderr and "judge_score" in r.stderr
        calibration = json.loads((tmp_path / "run" / "manifest.json").read_text())
        failed = calibration["calibration"]["failed"]
        assert len(failed) == n_seeds and failed[0]["id"] == first_id
        assert failed[0]["score"] == 2 and failed[0]["reason"]
        assert calibration["calibration"]["threshold"] == THRESHOLD
        assert _chats(since(s, 0)) == n_seeds  # the seeds only: nothing was generated

        def again(config: Path, code: int) -> int:
            """Run `config`; the chat requests it sent (a failing calibration: seeds only)."""
            start = last_seq(s)
            r = synthgen(*run_cmd(config, s.base_url, "--count", "5"))
            assert r.code == code, r.stderr
            return _chats(since(s, start))

        assert again(cfg, 3) == 0  # the same settings replay the seeds' verdicts

        # A lower threshold re-reads the cached verdicts, and the seeds pass.
        lower = {"filter.judge.threshold": 2}
        lower_cfg = write_config(
            tmp_path / "lower.yaml", tmp_path / "low", tmp_path / ".synthgen", lower
        )
        r = synthgen(*run_cmd(lower_cfg, s.base_url, "--count", "5", "--json"))
        assert r.code == 0, r.stderr
        assert r.json()["requests"]["cached"] >= n_seeds

        # Another rubric is another question: the seeds are asked again.
        rubric = tmp_path / "rubric.yaml"
        rubric.write_text(RUBRIC.read_text().replace("Wrong category", "A wrong category"))
        reworded = {"filter.judge.rubric": str(rubric)}
        other = write_config(
            tmp_path / "other.yaml", tmp_path / "run", tmp_path / ".synthgen", reworded
        )
        assert again(other, 3) == n_seeds

        # The same stand-in (same port) with another score: asked again, not replayed.
        s.set_faults(judge_score=1)
        assert again(cfg, 3) == n_seeds
        s.set_faults(judge_score=5)
        assert again(cfg, 0) >= n_seeds

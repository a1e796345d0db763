"""What `synthgen run` tests share: a run config in tmp, the CLI in-process, a run dir read back."""

from __future__ import annotations

import copy
import json
import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner

from support.helpers import Ran, read_jsonl
from support.paths import REPO
from support.resume import standin_log
from synthgen.cli.app import cli
from synthgen.core.store import cached_answers
from synthgen.records import Record, record_id
from synthgen.standin import StandinConfig, StandinHandle, run_in_thread

SEEDS = REPO / "seeds" / "support_triage.jsonl"
RUBRIC = REPO / "configs" / "rubrics" / "support-triage.yaml"
GENERATOR, JUDGE = "standin-fake", "standin-judge"
THRESHOLD = 3.0
# The stand-in judge scores by length (one point per 30 characters over the minimum), so it
# passes the human seeds and the candidates alike: the judge is calibrated, not a wall.
JUDGE_SCORE_BY_LENGTH = 30
PRICE = {"input": 1000.0, "output": 2000.0}  # USD per 1M tokens: dear, so caps bite early

# configs/support-triage.yaml, with absolute paths, the stand-in's models and prices, rules
# its placeholder text passes, a judge model of its own (its requests are told apart by it
# in the stand-in's log) and a small target.
BASE: dict[str, Any] = {
    "task": "support-triage",
    "description": "Triage a customer support ticket: category, urgency and a summary.",
    "seeds": [str(SEEDS)],
    "endpoint": {
        "model": GENERATOR,
        "concurrency": 4,
        "timeout_s": 30,
        "max_attempts": 8,
        "backoff_base_s": 0.01,
        "backoff_max_s": 0.05,
    },
    "generation": {
        "strategy": "self-instruct",
        "per_call": 5,
        "temperature": 1.0,
        "top_p": 1.0,
        "seed": 7,
        "human_examples": 3,
        "machine_examples": 2,
        "responses": "inline",
    },
    "prices": {GENERATOR: PRICE, JUDGE: PRICE},
    "filter": {
        "rules": {"output_format": "any", "blacklist": []},
        "judge": {
            "models": [JUDGE],
            "rubric": str(RUBRIC),
            "seeds": [str(SEEDS)],
            "threshold": THRESHOLD,
        },
    },
    "target": {"count": 40},
    "dedup": {"method": "minhash", "against": []},
    "gates": {"min_keep_rate": 0.05},
    "outputs": {
        "formats": ["alpaca", "messages", "sharegpt", "prompt-completion"],
        "split": {"validation": 0.1},
        "license": "apache-2.0",
        "language": ["en"],
    },
}


def write_config(path: Path, out: Path, state: Path, changes: dict[str, Any] | None = None) -> Path:
    """BASE with its run dir and state dir, and `changes` ({"dotted.key": value}), as YAML."""
    cfg = copy.deepcopy(BASE)
    cfg["outputs"]["dir"] = str(out)
    cfg["state_dir"] = str(state)
    for dotted, value in (changes or {}).items():
        *parents, last = dotted.split(".")
        node = cfg
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def clean_env() -> dict[str, str | None]:
    """For CliRunner: unset every OPENAI_*/SYNTHGEN_* variable (no key, no endpoint)."""
    return {k: None for k in os.environ if k.startswith(("OPENAI_", "SYNTHGEN_"))}


def synthgen(*args: str | Path) -> Ran:
    """`synthgen ARGS` in-process, with no endpoint settings or keys in the environment."""
    result = CliRunner().invoke(
        cli,
        [str(a) for a in args],
        env=clean_env(),  # type: ignore[arg-type]
        catch_exceptions=False,
    )
    return Ran(result.exit_code, result.stdout, result.stderr)


def run_cmd(config: Path, base_url: str, *extra: str | Path) -> list[str]:
    """The args of `synthgen run CONFIG --base-url URL EXTRA...`."""
    return ["run", str(config), "--base-url", base_url, *(str(e) for e in extra)]


def manifest(run_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((run_dir / "manifest.json").read_text())
    return data


def ledger_counts(run_dir: Path) -> dict[str, dict[str, int]]:
    """dropped.jsonl's lines counted by stage and reason, shaped like manifest counts.dropped."""
    seen: Counter[tuple[str, str]] = Counter(
        (e["dropped"]["stage"], e["dropped"]["reason"])
        for e in read_jsonl(run_dir / "dropped.jsonl")
    )
    out: dict[str, dict[str, int]] = {}
    for (stage, reason), n in sorted(seen.items()):
        out.setdefault(stage, {})[reason] = n
    return out


def total_dropped(dropped: dict[str, dict[str, int]]) -> int:
    return sum(n for reasons in dropped.values() for n in reasons.values())


# What the endpoint and the clock assign to each answer: the stand-in numbers its responses
# in arrival order, and created_at is when the answer first arrived. A run from a fresh
# state dir gets new ones by necessity; everything else must be the same bytes.
_PER_ANSWER = re.compile(rb'"(request_id|created_at)":"[^"]*"')


def per_answer_masked(path: Path) -> bytes:
    """The file's bytes with the per-answer fields (request_id, created_at) blanked."""
    return _PER_ANSWER.sub(rb'"\1":"*"', path.read_bytes())


def spend_by_model(state_dir: Path) -> dict[str, tuple[int, float]]:
    """(answers, USD) per model in a finished run's response cache."""
    return cached_answers(state_dir).by_model()


def cache_rows(state_dir: Path) -> int:
    """Answers in the state dir's response cache (0 while it does not exist yet)."""
    return len(cached_answers(state_dir).models)


@dataclass(frozen=True)
class Done:
    """A run that ended: its config, run dir, state dir, endpoint and --json summary."""

    config: Path
    run_dir: Path
    state: Path
    base_url: str
    summary: dict[str, Any]


def standin() -> StandinHandle:
    """A stand-in whose judge passes the human seeds (a context manager: stops on exit)."""
    return run_in_thread(StandinConfig(judge_score_by_length=JUDGE_SCORE_BY_LENGTH))


def complete_run(
    d: Path, base_url: str, *extra: str, changes: dict[str, Any] | None = None
) -> Done:
    """`synthgen run` of BASE (+ `changes`) in `d` (run dir d/run, state d/.synthgen) to
    completion."""
    cfg = write_config(d / "run.yaml", d / "run", d / ".synthgen", changes)
    r = synthgen(*run_cmd(cfg, base_url, *extra, "--json"))
    assert r.code == 0, r.stderr
    return Done(cfg, d / "run", d / ".synthgen", base_url, r.json())


def finished_offline(d: Path, *extra: str, changes: dict[str, Any] | None = None) -> Done:
    """A completed run whose stand-in is stopped: only its cache can answer now."""
    with standin() as s:
        return complete_run(d, s.base_url, *extra, changes=changes)


def since(handle: StandinHandle, seq: int) -> list[dict[str, Any]]:
    """The stand-in's log entries after sequence number `seq`."""
    return [e for e in standin_log(handle) if e["seq"] > seq]


def last_seq(handle: StandinHandle) -> int:
    return max((e["seq"] for e in standin_log(handle)), default=0)


def verify_ok(run_dir: Path) -> None:
    r = synthgen("verify", run_dir)
    assert r.code == 0, r.stderr


def check_run_dir(run_dir: Path, target: int) -> list[Record]:
    """Exactly `target` judged records with lineage; manifest counts that match the files."""
    lines = (run_dir / "data.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == target, f"data.jsonl has {len(lines)} lines, not {target}"
    recs = [Record.model_validate_json(line) for line in lines]
    ids = [r.id for r in recs]
    assert len(set(ids)) == target, "an id repeats in data.jsonl"
    seeds = {f"seed:{s['id']}" for s in read_jsonl(SEEDS)}
    earlier: set[str] = set()
    for rec in recs:
        assert rec.id == record_id(rec.instruction, rec.input, rec.output)
        judge = rec.provenance.judge
        assert judge is not None, f"{rec.id} was kept without a judge verdict"
        assert judge["passed"] is True and judge["score"] >= THRESHOLD, judge
        parents = rec.provenance.parents
        assert parents, f"{rec.id} has no parents"
        # Parents are human seeds, or records kept in an earlier round (so earlier lines).
        strays = [p for p in parents if p not in seeds and p not in earlier]
        assert not strays, f"{rec.id} descends from {strays}: neither a seed nor kept before it"
        earlier.add(rec.id)
    m = manifest(run_dir)
    counts = m["counts"]
    assert counts["kept"] == target
    assert counts["candidates"] == counts["kept"] + total_dropped(counts["dropped"])
    assert counts["dropped"] == ledger_counts(run_dir)
    assert m["status"] == "complete" and m["exit_code"] == 0
    verify_ok(run_dir)
    return recs

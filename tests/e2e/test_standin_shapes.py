"""The stand-in's outputs take the task's shape (JSON like the seeds' outputs, or SQL) so the
bundled configs' rule filters pass most of them, while a few stay off shape to be caught."""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.helpers import expand_args, read_jsonl, run
from support.paths import REPO

from synthgen import prompts
from synthgen.records import Seed
from synthgen.stages.expand.strategies import format_example, tasks_schema
from synthgen.standin import StandinHandle
from synthgen.standin.shapes import OFF_SHAPE_RATE

TRIAGE = REPO / "seeds" / "support_triage.jsonl"
SQL = REPO / "seeds" / "text_to_sql.jsonl"
# What configs/text-to-sql.yaml's output_regex asks of an output's start.
SQL_START = re.compile(r"\s*(SELECT|WITH|INSERT|UPDATE|DELETE)\b", re.I)
MIN_SHARE = 0.85  # of outputs that must have the task's shape


def _triage_checker() -> Callable[[str], bool]:
    """conforms(output) for the triage task: the seeds' keys, label values from the seeds."""
    outs = [json.loads(s["output"]) for s in read_jsonl(TRIAGE)]
    keys = set(outs[0])
    labels = {k: {o[k] for o in outs} for k in keys if all(" " not in o[k] for o in outs)}
    assert set(labels) == {"category", "urgency"}  # the closed sets the seeds README names

    def conforms(text: str) -> bool:
        try:
            value = json.loads(text)
        except ValueError:
            return False
        return (
            isinstance(value, dict)
            and set(value) == keys
            and all(value[k] in allowed for k, allowed in labels.items())
            and all(isinstance(value[k], str) and value[k].strip() for k in keys)
        )

    return conforms


def _share(outputs: list[str], conforms: Callable[[str], bool]) -> float:
    return sum(1 for o in outputs if conforms(o)) / len(outputs)


def _expand(standin: StandinHandle, seeds: Path, out: Path) -> list[str]:
    r = run(expand_args(seeds, out, standin.base_url, "-n", "40"))
    assert r.code == 0, r.stderr
    records = read_jsonl(out)
    assert len(records) == 40
    return [str(x["output"]) for x in records]


def test_triage_outputs_are_json_with_the_seed_keys_and_labels(
    standin: StandinHandle, tmp_path: Path
) -> None:
    conforms = _triage_checker()
    outputs = _expand(standin, TRIAGE, tmp_path / "triage.jsonl")
    share = _share(outputs, conforms)
    assert share >= MIN_SHARE, f"{share:.0%} JSON-shaped: {outputs[:3]}"


def test_sql_outputs_start_like_sql(standin: StandinHandle, tmp_path: Path) -> None:
    outputs = _expand(standin, SQL, tmp_path / "sql.jsonl")
    share = _share(outputs, lambda o: bool(SQL_START.match(o)))
    assert share >= MIN_SHARE, f"{share:.0%} SQL-shaped: {outputs[:3]}"
    # The seeds end their statements with ";", and so do the placeholders.
    assert all(o.rstrip().endswith(";") for o in outputs if SQL_START.match(o))


def _post(standin: StandinHandle, body: dict[str, Any]) -> dict[str, Any]:
    req = urllib.request.Request(
        standin.base_url + "/chat/completions",
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json", "authorization": "Bearer test"},
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        data: dict[str, Any] = json.loads(resp.read())
    return data


def test_a_few_outputs_stay_off_shape_and_replies_are_deterministic(
    standin: StandinHandle,
) -> None:
    """The real self-instruct prompt: ~OFF_SHAPE_RATE of outputs stay word salad, always the
    same ones for the same request."""
    conforms = _triage_checker()
    seeds = [Seed.model_validate(s) for s in read_jsonl(TRIAGE)[:3]]
    examples = "\n\n".join(format_example(s, i + 1) for i, s in enumerate(seeds))
    body = {
        "model": "standin-fake",
        "messages": prompts.load("self_instruct").render(task="triage", examples=examples, k="5"),
        "n": 128,
        "seed": 3,
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "tasks", "schema": tasks_schema(5, True), "strict": True},
        },
    }
    first, again = _post(standin, body), _post(standin, body)
    contents = [c["message"]["content"] for c in first["choices"]]
    assert contents == [c["message"]["content"] for c in again["choices"]]
    outputs = [t["output"] for text in contents for t in json.loads(text)["tasks"]]
    assert len(outputs) == 640
    off = 1 - _share(outputs, conforms)
    assert 0 < off <= 2.5 * OFF_SHAPE_RATE, f"{off:.1%} off shape"


@pytest.mark.parametrize(
    ("config", "stage", "rule"),
    [
        ("support-triage.yaml", "rules", "output_not_json"),
        ("text-to-sql.yaml", "checks", "sql_error"),  # its sql check runs every query
    ],
)
def test_run_with_a_bundled_config_reaches_its_target(
    standin: StandinHandle, tmp_path: Path, config: str, stage: str, rule: str
) -> None:
    # Judge scores grow with the judged response's length (1 + one per 30 characters on the
    # rubrics' 1-5 scale), so the human seeds pass calibration at threshold 4, as in the demo.
    standin.set_faults(judge_score_by_length=30)
    out, state = tmp_path / "out", tmp_path / "state"
    args = ["run", str(REPO / "configs" / config), "--base-url", standin.base_url]
    r = run([*args, "--count", "60", "--out", str(out), "--state-dir", str(state), "--json"])
    assert r.code == 0, r.stderr
    lines = (out / "data.jsonl").read_text().splitlines()
    assert len(lines) == 60
    # The off-shape few are still there, and the config's format rule (or check) catches them.
    caught = sum(rnd["dropped"].get(stage, {}).get(rule, 0) for rnd in r.json()["rounds"])
    assert caught >= 1, r.json()["rounds"]

"""`personas sample`: a seeded, spread-out subset in the file's own format; persona files as
an axis source; axes on conversation and preference-pair jobs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.paths import REPO

from synthgen.api import personas_sample
from synthgen.config import GenerationConfig
from synthgen.errors import InputError
from synthgen.stages.dedup.spread import spread_sample
from synthgen.stages.expand.axes import HEADING, load_axes, with_axes
from synthgen.stages.expand.strategies import PoolView, make_job

EXAMPLE = REPO / "examples" / "personas" / "personas.jsonl"


def test_spread_takes_one_of_each_kind_before_a_second_of_any() -> None:
    kinds = ["a night nurse who hikes in the alps", "a retired sailor who fixes clocks"]
    kinds += ["a teenage gamer who streams at night", "a baker who sells sourdough at markets"]
    texts = [f"{k} number {i}" for k in kinds for i in range(40)]
    picked = spread_sample(texts, 4, seed=3)
    assert sorted(i // 40 for i in picked) == [0, 1, 2, 3]
    assert picked == spread_sample(texts, 4, seed=3)
    assert spread_sample(texts, 500, seed=3) == spread_sample(texts, 500, seed=3)
    assert sorted(spread_sample(texts, 500, seed=3)) == list(range(160))


def test_personas_sample_writes_jsonl_and_csv_rows_as_they_were(tmp_path: Path) -> None:
    done = personas_sample(EXAMPLE, 5, tmp_path / "few.jsonl", seed=1)
    lines = (tmp_path / "few.jsonl").read_text().splitlines()
    originals = set(EXAMPLE.read_text().splitlines())
    assert done.rows == 16 and done.sampled == 5 and len(lines) == 5
    assert set(lines) <= originals and len(set(lines)) == 5
    src = tmp_path / "people.csv"
    src.write_text("name,description\nA,likes tea\nB,likes coffee a lot\nC,collects stamps\n")
    personas_sample(src, 2, tmp_path / "two.csv", field="description")
    rows = (tmp_path / "two.csv").read_text().splitlines()
    assert rows[0] == "name,description" and len(rows) == 3
    with pytest.raises(InputError, match="no row has a field"):
        personas_sample(src, 2, tmp_path / "x.csv", field="nope")


def test_the_bundled_personas_are_an_axis_source_the_prompt_states() -> None:
    gen = GenerationConfig.model_validate(
        {"axes": {"persona": {"file": str(EXAMPLE), "fields": ["occupation", "style"]}}}
    )
    (persona,) = load_axes(gen, None)
    assert len(persona.values) == 16
    assert persona.values[0].startswith("occupation: night-shift nurse; style: ")
    assert all("name" not in json.dumps(v) for v in persona.values)


@pytest.mark.parametrize(
    "changes", [{"strategy": "conversation"}, {"responses_per_instruction": 2}]
)
def test_conversations_and_preference_pairs_state_their_call_values(
    changes: dict[str, object],
) -> None:
    from synthgen.seeds.reader import read_seeds

    gen = GenerationConfig.model_validate({"per_call": 2, **changes})
    seeds = read_seeds([REPO / "seeds" / "support_chats.jsonl"])
    job = make_job(0, gen, seeds, PoolView([], 0), "support")
    out = with_axes(job, {"persona": "occupation: pharmacist"})
    assert out.request.messages[-1]["content"].endswith(
        f"{HEADING}\n- persona: occupation: pharmacist"
    )
    assert out.axes == {"persona": "occupation: pharmacist"}

"""`export --format dpo`: preference records as TRL's standard preference format, which
`datasets` loads; anything else is an error naming the record; the other formats export a
preference record as its chosen response."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from support.helpers import read_jsonl, run
from support.preference_records import pair_record, tie_break
from support.report_data import record, varied_examples, write_jsonl

from synthgen.config import Config, OutputsConfig
from synthgen.errors import InputError, UsageError
from synthgen.pipeline.outputs import export_format
from synthgen.stages.export import EXPORT_FORMATS, SFT_FORMATS, PreferenceError, export

HINT = (
    "dpo needs preference pairs: run `synthgen filter` on records from "
    "`expand --responses-per-instruction K`"
)


def pairs(n: int = 6) -> list[dict[str, Any]]:
    """n preference records: every other one with an input, one tie broken, non-ASCII text."""
    rows = []
    for i in range(n):
        responses = [f"Answer {i} a: Grüße, 東京.", f"Answer {i} b.", f"Answer {i} c, short."]
        scores = [4.0, 3.0, 2.0] if i != 2 else [4.0, 4.0, 2.0]
        rows.append(
            pair_record(
                i,
                responses,
                scores,
                input=f"context {i}" if i % 2 else "",
                tie=tie_break((0, 1)) if i == 2 else None,
            )
        )
    return rows


@pytest.fixture
def data(tmp_path: Path) -> tuple[Path, list[dict[str, Any]]]:
    rows = pairs()
    return write_jsonl(tmp_path / "pairs.jsonl", rows), rows


def trl_preference(row: Any) -> bool:
    """TRL's standard (plain text) preference type: prompt, chosen, rejected, all non-empty
    strings, and nothing else."""
    return (
        isinstance(row, dict)
        and set(row) == {"prompt", "chosen", "rejected"}
        and all(isinstance(v, str) and v.strip() for v in row.values())
    )


def test_dpo_is_a_format_everywhere_formats_are_listed() -> None:
    assert "dpo" in EXPORT_FORMATS and "dpo" not in SFT_FORMATS
    assert OutputsConfig(formats=["dpo", "alpaca"]).formats == ["dpo", "alpaca"]
    r = run(["export", "--help"])
    text = " ".join(r.stdout.split())
    assert r.code == 0 and "|dpo]" in text and "TRL preference pairs (prompt, chosen" in text


def test_dpo_writes_prompt_chosen_rejected_per_pair(
    tmp_path: Path, data: tuple[Path, list[dict[str, Any]]]
) -> None:
    src, rows = data
    out = tmp_path / "dpo.jsonl"
    r = run(["export", str(src), "-o", str(out), "--format", "dpo", "--json"])
    assert r.code == 0, r.stderr
    assert r.json()["records"] == 6 and r.json()["format"] == "dpo"
    assert "exported 6 preference pairs" in r.stderr
    got = read_jsonl(out)
    assert got == [
        {"prompt": rec["prompt"], "chosen": rec["chosen"], "rejected": rec["rejected"]}
        for rec in rows
    ]
    assert got[1]["prompt"] == f"{rows[1]['instruction']}\n\ncontext 1"  # the input after a gap
    assert got[0]["chosen"].endswith("Grüße, 東京.") and "東京" in out.read_text("utf-8")
    assert got[2]["chosen"] == rows[2]["responses"][0]["output"]  # the tie break's winner
    with_ids = tmp_path / "ids.jsonl"
    export(src, with_ids, "dpo", with_ids=True)
    lines = read_jsonl(with_ids)
    assert [next(iter(g)) for g in lines] == ["id"] * 6
    assert [g["id"] for g in lines] == [rec["id"] for rec in rows]
    assert [{k: v for k, v in g.items() if k != "id"} for g in lines] == got


def test_dpo_export_loads_with_datasets_as_trl_preference_pairs(
    tmp_path: Path, data: tuple[Path, list[dict[str, Any]]]
) -> None:
    pytest.importorskip("datasets")
    src, rows = data
    out = tmp_path / "dpo.jsonl"
    export(src, out, "dpo")
    load = textwrap.dedent(
        """
        import json, sys, datasets
        ds = datasets.load_dataset("json", data_files=sys.argv[1], split="train")
        print(json.dumps({"columns": ds.column_names, "rows": ds.to_list()}))
        """
    )
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE"))}
    # Nothing may reach the network or the user's home: offline, with caches under tmp.
    env |= {
        "HF_DATASETS_OFFLINE": "1",
        "HF_HUB_OFFLINE": "1",
        "HF_HOME": str(home / "hf"),
        "HF_DATASETS_CACHE": str(home / "hf/datasets"),
        "HOME": str(home),
        "XDG_CACHE_HOME": str(home / "cache"),
    }
    done = subprocess.run(
        [sys.executable, "-c", load, str(out)], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout)
    assert loaded["columns"] == ["prompt", "chosen", "rejected"]
    assert len(loaded["rows"]) == len(rows)
    for got, rec in zip(loaded["rows"], rows, strict=True):
        assert trl_preference(got), got
        assert got["chosen"] != got["rejected"]
        assert (got["chosen"], got["rejected"]) == (rec["chosen"], rec["rejected"])


def test_the_trl_check_itself_refuses_what_trl_refuses() -> None:
    assert trl_preference({"prompt": "p", "chosen": "c", "rejected": "r"})
    assert not trl_preference({"prompt": "p", "chosen": "c"})
    assert not trl_preference({"prompt": "p", "chosen": "c", "rejected": ""})
    assert not trl_preference({"prompt": "p", "chosen": "c", "rejected": None})
    assert not trl_preference({"prompt": "p", "chosen": "c", "rejected": "r", "id": "x"})


def test_other_formats_export_a_preference_record_as_its_chosen_response(
    tmp_path: Path, data: tuple[Path, list[dict[str, Any]]]
) -> None:
    src, rows = data
    answer_of = {
        "alpaca": lambda g: g["output"],
        "messages": lambda g: g["messages"][-1]["content"],
        "sharegpt": lambda g: g["conversations"][-1]["value"],
        "prompt-completion": lambda g: g["completion"],
    }
    answers: dict[str, list[str]] = {}
    for fmt in SFT_FORMATS:
        out = tmp_path / f"{fmt}.jsonl"
        export(src, out, fmt)
        got = read_jsonl(out)
        answers[fmt] = [answer_of[fmt](g) for g in got]
        if fmt == "prompt-completion":
            assert [g["prompt"] for g in got] == [rec["prompt"] for rec in rows]
    chosen = [rec["chosen"] for rec in rows]
    assert answers == dict.fromkeys(SFT_FORMATS, chosen)


def test_a_file_without_pairs_exits_2_naming_file_line_record_and_fix(tmp_path: Path) -> None:
    plain = [record(i, ex) for i, ex in enumerate(varied_examples(3))]
    src = write_jsonl(tmp_path / "data.jsonl", plain)
    out = tmp_path / "dpo.jsonl"
    out.write_text("old\n")
    r = run(["export", str(src), "-o", str(out), "--format", "dpo"])
    assert r.code == 2
    assert r.stderr.startswith(
        f"error: {src}:1: record {plain[0]['id']}: not a preference pair (it has no chosen and "
        "rejected)"
    )
    assert f"how to fix: {HINT}" in r.stderr
    assert out.read_text() == "old\n"  # no half-written export, the earlier one stays
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.jsonl", "dpo.jsonl"]


def test_a_plain_record_among_pairs_is_named_by_its_line(tmp_path: Path) -> None:
    rows = [*pairs(2), record(9, varied_examples(1)[0])]
    src = write_jsonl(tmp_path / "mixed.jsonl", rows)
    with pytest.raises(PreferenceError, match=r"mixed\.jsonl:3: record sg_test000009") as e:
        export(src, tmp_path / "o.jsonl", "dpo", split={"test": 0.5})
    assert e.value.exit_code == 2 and e.value.hint == HINT
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mixed.jsonl"]


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("rejected", "  ", 'field "rejected": record sg_\\w+: is empty'),
        ("chosen", None, 'field "chosen": record sg_\\w+: must be a string, not null'),
        ("rejected", ["a"], 'field "rejected": record sg_\\w+: must be a string, not an array'),
    ],
)
def test_a_broken_pair_is_an_input_error_naming_the_field(
    tmp_path: Path, field: str, value: Any, says: str
) -> None:
    rows = pairs(2)
    rows[1] = {**rows[1], field: value}
    src = write_jsonl(tmp_path / "data.jsonl", rows)
    with pytest.raises(InputError, match=rf"data\.jsonl:2: {says}"):
        export(src, tmp_path / "o.jsonl", "dpo")


def test_a_record_written_without_a_prompt_gets_the_instruction_and_input(
    tmp_path: Path,
) -> None:
    rows = pairs(2)
    rows = [{k: v for k, v in r.items() if k != "prompt"} for r in rows]
    src = write_jsonl(tmp_path / "data.jsonl", rows)
    export(src, tmp_path / "o.jsonl", "dpo")
    got = read_jsonl(tmp_path / "o.jsonl")
    assert [g["prompt"] for g in got] == [
        rows[0]["instruction"],
        f"{rows[1]['instruction']}\n\ncontext 1",
    ]


def test_dpo_splits_like_every_format_and_refuses_last_turn(
    tmp_path: Path, data: tuple[Path, list[dict[str, Any]]]
) -> None:
    src, rows = data
    a = export(src, tmp_path / "a" / "dpo.jsonl", "dpo", split={"test": 0.5}, split_seed=3)
    b = export(src, tmp_path / "b" / "dpo.jsonl", "alpaca", split={"test": 0.5}, split_seed=3)
    assert [f.records for f in a.files] == [f.records for f in b.files]
    assert sum(f.records for f in a.files) == len(rows)
    with pytest.raises(UsageError, match="dpo writes preference pairs"):
        export(src, tmp_path / "c.jsonl", "dpo", last_turn=True)


def test_a_runs_configured_dpo_export_says_what_to_set(
    tmp_path: Path, data: tuple[Path, list[dict[str, Any]]]
) -> None:
    src, rows = data
    cfg = Config(outputs=OutputsConfig(formats=["dpo"]))
    files = export_format(cfg, src, tmp_path / "dpo.jsonl", "dpo")
    assert [g["chosen"] for g in read_jsonl(files["train"])] == [r["chosen"] for r in rows]
    plain = write_jsonl(tmp_path / "plain.jsonl", [record(0, varied_examples(1)[0])])
    with pytest.raises(PreferenceError) as e:
        export_format(cfg, plain, tmp_path / "dpo2.jsonl", "dpo")
    assert e.value.exit_code == 2 and e.value.hint
    assert "generation.responses_per_instruction" in e.value.hint

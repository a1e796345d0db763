"""`synthgen export` as a user runs it: files, stderr lines, --json, and usage errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.helpers import read_jsonl, run
from support.report_data import record, varied_examples, write_jsonl


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    d = tmp_path / "run"
    d.mkdir()
    write_jsonl(d / "data.jsonl", [record(i, ex) for i, ex in enumerate(varied_examples(40))])
    return d


def test_export_a_run_dir_with_a_split(tmp_path: Path, run_dir: Path) -> None:
    out = tmp_path / "out" / "sft.jsonl"
    args = ["export", str(run_dir), "-o", str(out), "--format", "messages"]
    r = run([*args, "--split", "validation=0.25", "--with-ids", "--json"])
    assert r.code == 0, r.stderr
    body = r.json()
    files = {f["split"]: f for f in body["files"]}
    assert set(files) == {"train", "validation"}
    train, val = out.with_name("sft.train.jsonl"), out.with_name("sft.validation.jsonl")
    assert files["train"]["path"] == str(train) and files["validation"]["path"] == str(val)
    assert body["records"] == 40 == len(read_jsonl(train)) + len(read_jsonl(val))
    assert body["format"] == "messages" and body["with_ids"] is True
    assert f"wrote {val}: {files['validation']['records']} records (validation)" in r.stderr
    assert "exported 40 records" in r.stderr
    assert all(set(line) == {"id", "messages"} for line in read_jsonl(train))
    before = train.read_bytes(), val.read_bytes()
    again = run([*args, "--split", "validation=0.25", "--with-ids"])
    assert again.code == 0 and again.stdout == ""  # no --json, nothing on stdout
    assert (train.read_bytes(), val.read_bytes()) == before


def test_export_without_split_writes_output_itself(tmp_path: Path, run_dir: Path) -> None:
    out = tmp_path / "a.jsonl"
    r = run(["export", str(run_dir / "data.jsonl"), "-o", str(out), "--format", "alpaca"])
    assert r.code == 0
    assert f"wrote {out}: 40 records\n" in r.stderr
    assert all(set(line) == {"instruction", "input", "output"} for line in read_jsonl(out))


@pytest.mark.parametrize(
    ("split", "message"),
    [
        ("validation", "is not NAME=FRACTION"),
        ("validation=1.5", "between 0 and 1"),
        ("train=0.1", "'train' is reserved"),
    ],
)
def test_bad_split_exits_2_with_a_clear_message(
    tmp_path: Path, run_dir: Path, split: str, message: str
) -> None:
    out = tmp_path / "o.jsonl"
    r = run(["export", str(run_dir), "-o", str(out), "--format", "alpaca", "--split", split])
    assert r.code == 2
    assert r.stderr.startswith("error: ") and message in r.stderr and "how to fix" in r.stderr
    assert not list(tmp_path.glob("o*"))


def test_fractions_over_one_exit_2(tmp_path: Path, run_dir: Path) -> None:
    args = ["export", str(run_dir), "-o", str(tmp_path / "o.jsonl"), "--format", "alpaca"]
    r = run([*args, "--split", "validation=0.5", "--split", "test=0.5"])
    assert r.code == 2 and "add up to 1" in r.stderr


def test_output_onto_input_exits_2(run_dir: Path) -> None:
    data = run_dir / "data.jsonl"
    r = run(["export", str(data), "-o", str(data), "--format", "sharegpt"])
    assert r.code == 2 and "would overwrite what it reads" in r.stderr


def test_help_lists_the_formats_and_examples() -> None:
    r = run(["export", "--help"])
    assert r.code == 0
    for word in ("alpaca", "messages", "sharegpt", "prompt-completion", "Examples:"):
        assert word in r.stdout

"""Export: each format holds exactly the record's text, splits are deterministic and fair."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support.helpers import read_jsonl
from support.report_data import record, varied_examples, write_jsonl

from synthgen.errors import InputError, UsageError
from synthgen.seeds.dataset import iter_rows
from synthgen.stages.export import SFT_FORMATS, export, parse_splits


def records(n: int, seed: int = 1) -> list[dict[str, Any]]:
    """n synthgen records; every third has an input, one holds non-ASCII text."""
    rows = []
    for i, ex in enumerate(varied_examples(n, seed)):
        if i % 3 == 0:
            ex = {**ex, "input": f"context {i}: Grüße, 東京"}
        rows.append(record(i, ex))
    return rows


@pytest.fixture
def data(tmp_path: Path) -> tuple[Path, list[dict[str, Any]]]:
    rows = records(12)
    return write_jsonl(tmp_path / "data.jsonl", rows), rows


def prompt(rec: dict[str, Any]) -> str:
    text: str = rec["instruction"] + ("\n\n" + rec["input"] if rec["input"] else "")
    return text


def expected(rec: dict[str, Any], fmt: str) -> dict[str, Any]:
    """What one exported line must be, written out by hand for each format."""
    if fmt == "alpaca":
        return {k: rec[k] for k in ("instruction", "input", "output")}
    if fmt == "messages":
        return {
            "messages": [
                {"role": "user", "content": prompt(rec)},
                {"role": "assistant", "content": rec["output"]},
            ]
        }
    if fmt == "sharegpt":
        return {
            "conversations": [
                {"from": "human", "value": prompt(rec)},
                {"from": "gpt", "value": rec["output"]},
            ]
        }
    return {"prompt": prompt(rec), "completion": rec["output"]}


@pytest.mark.parametrize("fmt", SFT_FORMATS)
def test_each_format_holds_the_records_fields_and_nothing_else(
    tmp_path: Path, data: tuple[Path, list[dict[str, Any]]], fmt: str
) -> None:
    src, rows = data
    out = tmp_path / f"{fmt}.jsonl"
    summary = export(src, out, fmt)
    got = read_jsonl(out)
    assert got == [expected(r, fmt) for r in rows]  # same order, field for field
    assert summary.records == len(rows) and summary.format == fmt
    assert [(f.split, f.path, f.records) for f in summary.files] == [("train", str(out), 12)]
    # synthgen's own reader takes the export back as that format, text intact.
    back = list(iter_rows(out))
    assert {r.fmt for r in back} == {fmt}
    for row, rec in zip(back, rows, strict=True):
        assert row.output == rec["output"]
        if fmt == "alpaca":
            assert (row.instruction, row.input) == (rec["instruction"], rec["input"])
        else:
            assert row.instruction == prompt(rec) and row.input == ""


@pytest.mark.parametrize("fmt", SFT_FORMATS)
def test_with_ids_adds_the_record_id_first(
    tmp_path: Path, data: tuple[Path, list[dict[str, Any]]], fmt: str
) -> None:
    src, rows = data
    out = tmp_path / "out.jsonl"
    export(src, out, fmt, with_ids=True)
    got = read_jsonl(out)
    assert [g["id"] for g in got] == [r["id"] for r in rows]
    assert all(next(iter(g)) == "id" for g in got)
    assert [{k: v for k, v in g.items() if k != "id"} for g in got] == [
        expected(r, fmt) for r in rows
    ]


def test_text_is_written_as_utf8_not_escaped(
    tmp_path: Path, data: tuple[Path, list[dict[str, Any]]]
) -> None:
    out = tmp_path / "out.jsonl"
    export(data[0], out, "alpaca")
    assert "東京" in out.read_text(encoding="utf-8")


def test_a_run_directory_exports_its_data_jsonl(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    rows = records(5)
    write_jsonl(run / "data.jsonl", rows)
    write_jsonl(run / "dropped.jsonl", [{**records(1, 7)[0], "dropped": {"stage": "rules"}}])
    summary = export(run, tmp_path / "sft.jsonl", "messages")
    assert summary.source == str(run / "data.jsonl") and summary.records == 5
    assert read_jsonl(tmp_path / "sft.jsonl") == [expected(r, "messages") for r in rows]


def test_a_directory_without_data_jsonl_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"without data\.jsonl"):
        export(tmp_path, tmp_path / "out.jsonl", "alpaca")


def test_plain_dataset_files_export_too(tmp_path: Path) -> None:
    src = tmp_path / "alpaca.jsonl"
    write_jsonl(src, [{"instruction": "Add 2 and 3.", "input": "", "output": "5"}])
    export(src, tmp_path / "pc.jsonl", "prompt-completion", with_ids=True)
    (line,) = read_jsonl(tmp_path / "pc.jsonl")
    assert line["prompt"] == "Add 2 and 3." and line["completion"] == "5"
    assert line["id"].startswith("sg_")


def test_output_may_not_be_the_input(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "data.jsonl", records(3))
    before = src.read_bytes()
    with pytest.raises(UsageError, match="is the input file"):
        export(src, src, "alpaca")
    with pytest.raises(UsageError, match="is the input file"):
        export(tmp_path, tmp_path / "data.jsonl", "alpaca")  # the run dir's own data.jsonl
    assert src.read_bytes() == before


def test_unknown_format_is_a_usage_error(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "data.jsonl", records(2))
    with pytest.raises(UsageError, match="unknown export format"):
        export(src, tmp_path / "o.jsonl", "csv")


def test_a_bad_record_leaves_no_partial_and_keeps_the_old_output(tmp_path: Path) -> None:
    src = tmp_path / "data.jsonl"
    src.write_text(json.dumps(records(1)[0]) + "\n{not json\n")
    out = tmp_path / "out.jsonl"
    out.write_text("old\n")
    with pytest.raises(InputError, match=":2"):
        export(src, out, "alpaca", split={"validation": 0.5})
    with pytest.raises(InputError):
        export(src, out, "alpaca")
    assert out.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.jsonl", "out.jsonl"]


# -- splits ---------------------------------------------------------------------------------


def test_splits_are_deterministic_disjoint_covering_and_near_their_fraction(
    tmp_path: Path,
) -> None:
    rows = records(1000, seed=5)
    src = write_jsonl(tmp_path / "data.jsonl", rows)
    split = {"validation": 0.1, "test": 0.05}
    a = export(src, tmp_path / "a" / "sft.jsonl", "alpaca", with_ids=True, split=split)
    names = {f.split: Path(f.path) for f in a.files}
    assert names == {
        "train": tmp_path / "a" / "sft.train.jsonl",
        "validation": tmp_path / "a" / "sft.validation.jsonl",
        "test": tmp_path / "a" / "sft.test.jsonl",
    }
    assert not (tmp_path / "a" / "sft.jsonl").exists()
    ids = {s: [r["id"] for r in read_jsonl(p)] for s, p in names.items()}
    all_ids = [r["id"] for r in rows]
    assert sorted(i for v in ids.values() for i in v) == sorted(all_ids)  # disjoint, covering
    for v in ids.values():  # input order within each split
        assert v == [i for i in all_ids if i in set(v)]
    # 1000 draws: 4 standard deviations either side of the expected size.
    assert abs(len(ids["validation"]) - 100) < 40
    assert abs(len(ids["test"]) - 50) < 28
    assert {f.split: f.records for f in a.files} == {s: len(v) for s, v in ids.items()}

    b = export(src, tmp_path / "b" / "sft.jsonl", "alpaca", with_ids=True, split=split)
    for fa, fb in zip(a.files, b.files, strict=True):
        assert Path(fa.path).read_bytes() == Path(fb.path).read_bytes()
    other = export(
        src, tmp_path / "c" / "sft.jsonl", "alpaca", with_ids=True, split=split, split_seed=1
    )
    assert [r["id"] for r in read_jsonl(Path(other.files[1].path))] != ids["validation"]


def test_a_records_split_does_not_depend_on_the_others(tmp_path: Path) -> None:
    rows = records(200)
    full = export(
        write_jsonl(tmp_path / "all.jsonl", rows),
        tmp_path / "f.jsonl",
        "alpaca",
        with_ids=True,
        split={"validation": 0.2},
    )
    half = export(
        write_jsonl(tmp_path / "half.jsonl", rows[::-2]),
        tmp_path / "h.jsonl",
        "alpaca",
        with_ids=True,
        split={"validation": 0.2},
    )
    val_full = {r["id"] for r in read_jsonl(Path(full.files[1].path))}
    val_half = {r["id"] for r in read_jsonl(Path(half.files[1].path))}
    assert val_half == val_full & {r["id"] for r in rows[::-2]}


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (["validation"], "not NAME=FRACTION"),
        (["validation=abc"], "not NAME=FRACTION"),
        (["=0.1"], "not NAME=FRACTION"),
        (["validation=0"], "between 0 and 1"),
        (["validation=1"], "between 0 and 1"),
        (["validation=-0.1"], "between 0 and 1"),
        (["train=0.1"], "'train' is reserved"),
        (["a/b=0.1"], "cannot be used in a file name"),
        (["validation=0.6", "test=0.4"], "add up to 1"),
        (["validation=0.1", "validation=0.2"], "given twice"),
    ],
)
def test_bad_splits_are_usage_errors_with_a_hint(values: list[str], message: str) -> None:
    with pytest.raises(UsageError, match=message) as e:
        parse_splits(values)
    assert e.value.hint and e.value.exit_code == 2


def test_the_api_checks_splits_too(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "data.jsonl", records(2))
    with pytest.raises(UsageError, match="add up to"):
        export(src, tmp_path / "o.jsonl", "alpaca", split={"validation": 0.5, "test": 0.5})
    assert parse_splits(["validation=0.05", "test=.1"]) == {"validation": 0.05, "test": 0.1}

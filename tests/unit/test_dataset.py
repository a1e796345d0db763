"""Reading datasets: synthgen records and plain files, streamed, with precise errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from synthgen.errors import InputError
from synthgen.records import record_id
from synthgen.seeds.dataset import iter_rows, record_dict, to_record


def _write(path: Path, objs: list[object]) -> Path:
    path.write_text("".join(json.dumps(o) + "\n" for o in objs))
    return path


def _synthgen(i: int) -> dict[str, object]:
    return {
        "id": f"sg_{i}",
        "instruction": f"Do thing {i}",
        "input": "",
        "output": f"Done {i}",
        "meta": {"task": "t"},
        "provenance": {
            "run_id": "run_x",
            "created_at": "2026-01-01T00:00:00Z",
            "synthgen_version": "0.1.0",
            "config_sha256": "c",
            "method": "self-instruct",
            "parents": ["seed:a"],
            "usage": {"prompt_tokens": 1, "completion_tokens": 2, "cost_usd": 0.0},
        },
    }


def test_synthgen_records_pass_through(tmp_path: Path) -> None:
    p = _write(tmp_path / "d.jsonl", [_synthgen(1), _synthgen(2)])
    rows = list(iter_rows(p))
    assert [(r.line, r.id, r.fmt) for r in rows] == [
        (1, "sg_1", "synthgen"),
        (2, "sg_2", "synthgen"),
    ]
    assert record_dict(rows[0], "d.jsonl") is rows[0].raw
    assert to_record(rows[1], "d.jsonl").provenance.parents == ["seed:a"]


def test_plain_formats_get_imported_provenance(tmp_path: Path) -> None:
    p = _write(
        tmp_path / "a.jsonl",
        [
            {"id": 7, "instruction": "Sum 2 and 2", "output": "4"},
            {"instruction": "Hi", "output": "Hello"},
        ],
    )
    rows = list(iter_rows(p))
    assert rows[0].id == record_id("Sum 2 and 2", "", "4") and rows[0].fmt == "alpaca"
    rec = to_record(rows[0], "a.jsonl", "2026-11-26T00:00:00Z")
    assert rec.provenance.method == "imported"
    assert rec.provenance.source == {"path": "a.jsonl", "line": 1, "format": "alpaca", "id": "7"}
    assert rec.provenance.generator is None


def test_messages_and_json_array(tmp_path: Path) -> None:
    msgs = [
        {"messages": [{"role": "user", "content": "Q?"}, {"role": "assistant", "content": "A."}]}
    ]
    p = tmp_path / "m.json"
    p.write_text(json.dumps(msgs))
    (row,) = list(iter_rows(p))
    assert (row.instruction, row.output, row.fmt, row.line) == ("Q?", "A.", "messages", 1)


@pytest.mark.parametrize("suffix", [".json", ".jsonl"])
def test_byte_order_mark_is_ignored(tmp_path: Path, suffix: str) -> None:
    """Windows editors save UTF-8 with a BOM; both JSONL and JSON arrays must still read."""
    rec = {"instruction": "Say hello to the user.", "output": "Hello!"}
    body = json.dumps([rec]) if suffix == ".json" else json.dumps(rec) + "\n"
    p = tmp_path / f"bom{suffix}"
    p.write_bytes(b"\xef\xbb\xbf" + body.encode())
    (row,) = list(iter_rows(p))
    assert (row.instruction, row.output) == ("Say hello to the user.", "Hello!")


def test_mixed_formats_are_an_input_error(tmp_path: Path) -> None:
    p = _write(
        tmp_path / "mix.jsonl",
        [{"instruction": "a", "output": "b"}, {"prompt": "x", "completion": "y"}],
    )
    with pytest.raises(InputError) as e:
        list(iter_rows(p))
    assert e.value.line == 2 and "alpaca" in e.value.message and e.value.exit_code == 2


def test_plain_line_in_a_synthgen_file_names_the_missing_field(tmp_path: Path) -> None:
    p = _write(tmp_path / "s.jsonl", [_synthgen(1), {"instruction": "a", "output": "b"}])
    with pytest.raises(InputError) as e:
        list(iter_rows(p))
    assert e.value.line == 2 and e.value.field == "provenance"


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ('{"instruction": "a"}\n', "output"),
        ('{"instruction": "a", "output": 3}\n', "output"),
        ("not json\n", None),
        ("[1, 2]\n", None),
    ],
)
def test_bad_records(tmp_path: Path, line: str, field: str | None) -> None:
    p = tmp_path / "bad.jsonl"
    p.write_text('{"instruction": "ok", "output": "fine"}\n' + line)
    with pytest.raises(InputError) as e:
        list(iter_rows(p))
    assert e.value.line == 2 and e.value.field == field
    assert e.value.hint


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file not found"):
        list(iter_rows(tmp_path / "nope.jsonl"))


def test_public_self_instruct_sets_read(shared_data: Path) -> None:
    for name in ("seed_tasks.jsonl", "user_oriented_instructions.jsonl"):
        path = shared_data / "self-instruct" / name
        if not path.exists():
            pytest.skip(f"{name} not in {shared_data}")
        rows = list(iter_rows(path))
        assert len(rows) >= 175 and all(r.instruction.strip() for r in rows)


@pytest.mark.parametrize(
    "obj",
    [
        {"instruction": "Summarise the ticket in one line.", "output": "  "},
        {"prompt": "Summarise the ticket in one line.", "completion": ""},
        {
            "instruction": "Summarise the ticket in one line.",
            "instances": [{"input": "x", "output": ""}],
        },
        {
            "messages": [
                {"role": "user", "content": "Summarise the ticket in one line."},
                {"role": "assistant", "content": ""},
            ]
        },
        {
            "conversations": [
                {"from": "human", "value": "Summarise the ticket in one line."},
                {"from": "gpt", "value": " "},
            ]
        },
    ],
)
def test_empty_output_is_an_error_unless_a_stage_ledgers_it(
    tmp_path: Path, obj: dict[str, object]
) -> None:
    p = _write(tmp_path / "d.jsonl", [obj])
    with pytest.raises(InputError) as e:
        list(iter_rows(p))
    assert e.value.line == 1 and "empty" in str(e.value)
    (row,) = list(iter_rows(p, empty_output=True))
    assert row.instruction.startswith("Summarise") and not row.output.strip()
    # the instruction is never optional
    blank = json.loads(json.dumps(obj).replace("Summarise the ticket in one line.", " "))
    with pytest.raises(InputError):
        list(iter_rows(_write(tmp_path / "b.jsonl", [blank]), empty_output=True))


def test_any_format_reads_eval_sets_in_their_own_shapes(tmp_path: Path) -> None:
    """--decontaminate reads benchmarks as they ship: known formats as such, any other
    object as its text fields (question-like keys first)."""
    from synthgen.seeds.dataset import ANY

    items = [
        {"question": "What is 2 + 3?", "answer": "5"},  # GSM8K
        {"question": "Capital of France?", "choices": ["Paris", "Rome"], "answer": 0},  # MMLU
        {"task_id": "HE/1", "prompt": "def add(a, b):", "canonical_solution": "return a + b"},
        {"instruction": "Say hi to the user.", "output": "Hi!"},  # alpaca stays alpaca
        {"passage": "A long passage about tides and the moon.", "label": 1},  # no question key
    ]
    rows = list(iter_rows(_write(tmp_path / "eval.jsonl", items), ANY))
    assert [(r.instruction, r.output) for r in rows] == [
        ("What is 2 + 3?", "5"),
        ("Capital of France?", "Paris\nRome"),
        ("def add(a, b):", "HE/1\nreturn a + b"),
        ("Say hi to the user.", "Hi!"),
        ("A long passage about tides and the moon.", ""),
    ]
    assert rows[3].fmt == "alpaca" and rows[0].fmt == ANY
    with pytest.raises(InputError) as e:
        list(iter_rows(_write(tmp_path / "bad.jsonl", [{"id": "x", "n": 3}]), ANY))
    assert e.value.line == 1 and "no text" in str(e.value)

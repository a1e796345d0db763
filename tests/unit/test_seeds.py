"""Seed readers: every format, autodetect, JSON arrays, and a precise error for each bad input."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from synthgen.errors import InputError, UsageError
from synthgen.records import canonical_json, sha256_hex
from synthgen.seeds.reader import (
    FORMATS,
    SeedFile,
    detect_format,
    read_seed_file,
    read_seeds,
)

REPO = Path(__file__).resolve().parents[2]
ALPACA = {"instruction": "Name a prime number.", "output": "7"}


def jsonl(*records: Any) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    p = tmp_path / name
    if isinstance(content, bytes):
        p.write_bytes(content)
    else:
        p.write_text(content, encoding="utf-8")
    return p


def fails(path: Path, *, line: int | None, field: str | None = None, fmt: Any = None) -> InputError:
    """Strict read must raise a usage-class InputError naming file, line and field, with a hint."""
    with pytest.raises(InputError) as info:
        read_seed_file(path, fmt)
    err = info.value
    assert err.exit_code == 2
    assert path.name in err.message
    assert err.line == line
    if line is not None:
        assert f"{path}:{line}:" in err.message
    assert err.field == field
    if field is not None:
        assert f'"{field}"' in err.message
    assert err.hint and len(err.hint) > 10
    return err


def content_id(instruction: str, input: str, output: str) -> str:
    body = canonical_json({"instruction": instruction, "input": input, "output": output})
    return "h_" + sha256_hex(body)[:12]


# --- formats and autodetect ------------------------------------------------------------------

CASES: list[tuple[str, dict[str, Any], tuple[str, str, str], dict[str, Any]]] = [
    (
        "alpaca",
        {"instruction": "Add.", "input": "2 3", "output": "5", "category": "math"},
        ("Add.", "2 3", "5"),
        {"category": "math"},
    ),
    (
        "self-instruct",
        {
            "instruction": "Add.",
            "instances": [{"input": "2 3", "output": "5"}],
            "name": "adding",
            "is_classification": False,
        },
        ("Add.", "2 3", "5"),
        {"name": "adding", "is_classification": False},
    ),
    (
        "messages",
        {
            "messages": [
                {"role": "system", "content": "Be terse."},
                {"role": "user", "content": "Add 2 and 3."},
                {"role": "assistant", "content": "5"},
            ]
        },
        ("Add 2 and 3.", "", "5"),
        {"system": "Be terse."},
    ),
    (
        "sharegpt",
        {
            "conversations": [
                {"from": "system", "value": "Be terse."},
                {"from": "human", "value": "Add 2 and 3."},
                {"from": "gpt", "value": "5"},
            ],
            "source": "forum",
        },
        ("Add 2 and 3.", "", "5"),
        {"system": "Be terse.", "source": "forum"},
    ),
    ("prompt-completion", {"prompt": "2+3=", "completion": "5"}, ("2+3=", "", "5"), {}),
]


@pytest.mark.parametrize(("fmt", "record", "texts", "meta"), CASES, ids=[c[0] for c in CASES])
def test_autodetects_every_format(
    tmp_path: Path, fmt: str, record: dict[str, Any], texts: tuple[str, str, str], meta: Any
) -> None:
    assert detect_format(record) == fmt
    path = write(tmp_path, "s.jsonl", jsonl(record))
    sf = read_seed_file(path)
    assert isinstance(sf, SeedFile)
    assert (sf.format, sf.tasks, sf.problems) == (fmt, 1, [])
    (seed,) = sf.seeds
    assert (seed.instruction, seed.input, seed.output) == texts
    assert seed.meta == meta
    assert seed.id == content_id(*texts)
    assert seed.source["file"] == str(path)
    assert seed.source["line"] == 1
    assert seed.source["format"] == fmt


def test_formats_tuple_and_unknown_detection() -> None:
    assert FORMATS == ("alpaca", "self-instruct", "messages", "sharegpt", "prompt-completion")
    assert detect_format({"text": "hello"}) is None
    assert detect_format({"instruction": "x"}) is None


def test_alpaca_defaults_ids_and_blank_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "a.jsonl",
        jsonl({"id": 7, **ALPACA}) + "\n  \n" + jsonl({"id": "b", **ALPACA, "input": None}),
    )
    sf = read_seed_file(path)
    assert [s.id for s in sf.seeds] == ["7", "b"]
    assert [s.input for s in sf.seeds] == ["", ""]
    assert [s.source["line"] for s in sf.seeds] == [1, 4]
    assert sf.seeds[0].ref == "seed:7"


def test_self_instruct_one_seed_per_instance(tmp_path: Path) -> None:
    many = {
        "id": "t1",
        "instruction": "Classify the sentiment.",
        "instances": [
            {"input": "I love it", "output": "positive"},
            {"input": "", "output": "neutral"},
            {"input": "Awful.", "output": "negative"},
        ],
        "is_classification": True,
    }
    one = {"id": "t2", "instruction": "Say hi.", "instances": [{"input": "", "output": "Hi"}]}
    anon = {"instruction": "Count.", "instances": [{"output": "1"}, {"output": "2"}]}
    sf = read_seed_file(write(tmp_path, "si.jsonl", jsonl(many, one, anon)))
    assert sf.format == "self-instruct"
    assert sf.tasks == 3
    ids = [s.id for s in sf.seeds]
    assert ids[:4] == ["t1#1", "t1#2", "t1#3", "t2"]
    assert ids[4:] == [content_id("Count.", "", "1"), content_id("Count.", "", "2")]
    assert [s.source["instance"] for s in sf.seeds] == [1, 2, 3, 1, 1, 2]
    assert [s.source["line"] for s in sf.seeds] == [1, 1, 1, 2, 3, 3]
    assert sf.seeds[1].input == ""
    assert sf.seeds[0].meta == {"is_classification": True}


def test_a_multi_turn_seed_is_read_whole(tmp_path: Path) -> None:
    record = {
        "id": "c1",
        "messages": [
            {
                "role": "user",
                "content": [{"type": "text", "text": "Hi "}, {"type": "text", "text": "there"}],
            },
            {"role": "assistant", "content": "Hello!"},
            {"role": "user", "content": "Bye"},
            {"role": "assistant", "content": "Bye!"},
        ],
    }
    sf = read_seed_file(write(tmp_path, "m.jsonl", jsonl(record)))
    (seed,) = sf.seeds
    assert (seed.id, seed.instruction, seed.output) == ("c1", "Hi there", "Hello!")
    assert seed.messages is not None
    assert [(t.role, t.content) for t in seed.messages] == [
        ("user", "Hi there"),
        ("assistant", "Hello!"),
        ("user", "Bye"),
        ("assistant", "Bye!"),
    ]
    assert sf.problems == []


def test_a_system_prompt_is_kept_and_an_unanswered_last_turn_left_out(tmp_path: Path) -> None:
    record = {
        "conversations": [
            {"from": "system", "value": "You are a support agent."},
            {"from": "human", "value": "My card was charged twice."},
            {"from": "gpt", "value": "Sorry! Which order?"},
            {"from": "human", "value": "Order 881."},
            {"from": "gpt", "value": "Refunded the second charge."},
            {"from": "human", "value": "Thanks"},
        ]
    }
    sf = read_seed_file(write(tmp_path, "s.jsonl", jsonl(record)))
    (seed,) = sf.seeds
    assert seed.messages is not None and len(seed.messages) == 5
    assert seed.messages[0].role == "system" and seed.messages[-1].role == "assistant"
    (warning,) = sf.problems
    assert (warning.severity, warning.code) == ("warning", "unanswered_turn")


def test_a_turn_out_of_order_is_an_error_naming_it(tmp_path: Path) -> None:
    record = {
        "messages": [
            {"role": "user", "content": "a"},
            {"role": "assistant", "content": "b"},
            {"role": "assistant", "content": "c"},
        ]
    }
    sf = read_seed_file(write(tmp_path, "bad.jsonl", jsonl(record)), strict=False)
    assert sf.seeds == []
    (problem,) = sf.problems
    assert problem.field == "messages[2].role" and "expected a user turn" in problem.message


def test_forced_format(tmp_path: Path) -> None:
    both = {"instruction": "I", "output": "O", "prompt": "P", "completion": "C"}
    path = write(tmp_path, "f.jsonl", jsonl(both))
    assert read_seed_file(path).seeds[0].instruction == "I"  # autodetect: alpaca wins
    sf = read_seed_file(path, "prompt-completion")
    assert sf.format == "prompt-completion"
    assert (sf.seeds[0].instruction, sf.seeds[0].output) == ("P", "C")
    assert sf.seeds[0].meta == {"instruction": "I", "output": "O"}

    other = write(tmp_path, "g.jsonl", jsonl(ALPACA))
    err = fails(other, line=1, fmt="messages")
    assert "alpaca" in err.message and "--format messages" in err.message
    with pytest.raises(UsageError):
        read_seed_file(other, "csv")  # type: ignore[arg-type]


def test_json_array_file(tmp_path: Path) -> None:
    items = [{"instruction": f"Task {i}", "input": "", "output": f"Answer {i}"} for i in range(3)]
    path = write(tmp_path, "alpaca_data.json", json.dumps(items, indent=2))
    sf = read_seed_file(path)
    assert (sf.format, sf.tasks) == ("alpaca", 3)
    assert [s.source.get("item") for s in sf.seeds] == [1, 2, 3]
    assert "line" not in sf.seeds[0].source

    bad = write(tmp_path, "bad.json", json.dumps([*items, {"instruction": "x"}], indent=2))
    err = fails(bad, line=None, field="output")
    assert "item 4" in err.message

    broken = write(
        tmp_path, "broken.json", '[\n  {"instruction": "a", "output": "b"},\n  {oops}\n]'
    )
    err = fails(broken, line=3)
    assert "not valid JSON" in err.message


def test_bom_and_crlf(tmp_path: Path) -> None:
    text = jsonl(ALPACA, {"instruction": "Name a colour.", "output": "teal"}).replace("\n", "\r\n")
    sf = read_seed_file(write(tmp_path, "bom.jsonl", b"\xef\xbb\xbf" + text.encode()))
    assert [s.output for s in sf.seeds] == ["7", "teal"]
    arr = b"\xef\xbb\xbf" + json.dumps([ALPACA]).encode()
    assert read_seed_file(write(tmp_path, "bom.json", arr)).tasks == 1


def test_unicode_text_is_kept(tmp_path: Path) -> None:
    record = {"instruction": "Traduis « bonjour » en japonais.", "output": "こんにちは"}
    (seed,) = read_seed_file(write(tmp_path, "u.jsonl", jsonl(record))).seeds
    assert seed.output == "こんにちは"


# --- one clear error per bad input ----------------------------------------------------------


def test_missing_file_and_directory(tmp_path: Path) -> None:
    err = fails(tmp_path / "nope.jsonl", line=None)
    assert "not found" in err.message
    (tmp_path / "dir.jsonl").mkdir()
    fails(tmp_path / "dir.jsonl", line=None)


def test_empty_file(tmp_path: Path) -> None:
    for name, content in (("e.jsonl", ""), ("blank.jsonl", "\n  \n\n"), ("e.json", "[]")):
        err = fails(write(tmp_path, name, content), line=None)
        assert "no records" in err.message


def test_invalid_utf8_names_the_line(tmp_path: Path) -> None:
    data = jsonl(ALPACA).encode() + b'{"instruction": "caf\xe9", "output": "x"}\n'
    err = fails(write(tmp_path, "latin1.jsonl", data), line=2)
    assert "UTF-8" in err.message and "0xe9" in err.message


def test_invalid_json(tmp_path: Path) -> None:
    text = jsonl(ALPACA, ALPACA | {"id": "2"}) + '{"instruction": "a", "output": "b",}\n'
    err = fails(write(tmp_path, "j.jsonl", text), line=3)
    assert "not valid JSON" in err.message and "column" in err.message


@pytest.mark.parametrize(
    ("value", "kind"), [(["a", "b"], "array"), ("text", "string"), (3, "number")]
)
def test_line_not_an_object(tmp_path: Path, value: Any, kind: str) -> None:
    err = fails(write(tmp_path, "n.jsonl", jsonl(ALPACA) + json.dumps(value) + "\n"), line=2)
    assert "not a JSON object" in err.message and kind in err.message


@pytest.mark.parametrize(
    ("record", "field"),
    [
        ({"instruction": "Only a question"}, "output"),
        ({"input": "x", "output": "y"}, "instruction"),
        ({"prompt": "Only a prompt"}, "completion"),
        ({"id": "t", "instruction": "I", "instances": [{"input": "a"}]}, "instances[0].output"),
        ({"messages": [{"role": "user", "content": "hi"}]}, "messages"),
        ({"conversations": [{"from": "human"}]}, "conversations[0].value"),
    ],
)
def test_missing_required_field(tmp_path: Path, record: dict[str, Any], field: str) -> None:
    err = fails(write(tmp_path, "m.jsonl", jsonl(record)), line=1, field=field)
    assert "missing" in err.message


@pytest.mark.parametrize(
    ("record", "field", "kind"),
    [
        ({"instruction": "I", "output": 42}, "output", "number"),
        ({"instruction": "I", "output": None}, "output", "null"),
        ({"instruction": ["I"], "output": "O"}, "instruction", "array"),
        ({"instruction": "I", "input": 3, "output": "O"}, "input", "number"),
        ({"id": 1.5, "instruction": "I", "output": "O"}, "id", "number"),
        ({"instruction": "I", "instances": "O"}, "instances", "string"),
        (
            {"instruction": "I", "instances": [{"input": "", "output": 1}]},
            "instances[0].output",
            "number",
        ),
        ({"messages": "hi"}, "messages", "string"),
        (
            {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": 5}]},
            "messages[1].content",
            "number",
        ),
    ],
)
def test_wrong_field_type(tmp_path: Path, record: dict[str, Any], field: str, kind: str) -> None:
    # a blank first line: numbering must still count it
    err = fails(write(tmp_path, "t.jsonl", "\n" + jsonl(record)), line=2, field=field)
    assert kind in err.message


@pytest.mark.parametrize(
    ("record", "field"),
    [
        ({"instruction": "  ", "output": "O"}, "instruction"),
        ({"instruction": "I", "output": "\n\t "}, "output"),
        ({"prompt": "", "completion": "C"}, "prompt"),
        (
            {"conversations": [{"from": "human", "value": "Q"}, {"from": "gpt", "value": " "}]},
            "conversations[1].value",
        ),
    ],
)
def test_blank_text(tmp_path: Path, record: dict[str, Any], field: str) -> None:
    err = fails(write(tmp_path, "b.jsonl", jsonl(record)), line=1, field=field)
    assert "empty" in err.message


def test_bad_conversation_turns(tmp_path: Path) -> None:
    wrong_order = {
        "messages": [{"role": "assistant", "content": "Hi!"}, {"role": "user", "content": "Q"}]
    }
    err = fails(write(tmp_path, "o.jsonl", jsonl(wrong_order)), line=1, field="messages[0].role")
    assert "user" in err.message
    bad_role = {"conversations": [{"from": "bot", "value": "Q"}]}
    err = fails(write(tmp_path, "r.jsonl", jsonl(bad_role)), line=1, field="conversations[0].from")
    assert "human" in (err.hint or "")


def test_no_detectable_format(tmp_path: Path) -> None:
    err = fails(write(tmp_path, "x.jsonl", jsonl({"question": "Q", "answer": "A"})), line=1)
    assert "question" in err.message and "answer" in err.message
    for fmt in FORMATS:
        assert fmt in (err.hint or "")
    assert "--format" in (err.hint or "")


def test_duplicate_ids_name_both_lines(tmp_path: Path) -> None:
    text = jsonl(
        {"id": "a", **ALPACA},
        {"id": "b", **ALPACA},
        {"id": "a", "instruction": "Other", "output": "x"},
    )
    err = fails(write(tmp_path, "d.jsonl", text), line=3, field="id")
    assert '"a"' in err.message and "line 1" in err.message
    assert "synthgen seeds inspect" in (err.hint or "")


def test_identical_content_without_ids_is_a_duplicate(tmp_path: Path) -> None:
    err = fails(write(tmp_path, "c.jsonl", jsonl(ALPACA, {"x": 1} | ALPACA, ALPACA)), line=2)
    assert "line 1" in err.message and "same instruction" in err.message
    assert "remove the duplicate" in (err.hint or "")


def test_mixed_formats(tmp_path: Path) -> None:
    chat = {"messages": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}]}
    err = fails(write(tmp_path, "mix.jsonl", jsonl(ALPACA, chat)), line=2)
    assert "messages" in err.message and "alpaca" in err.message
    assert "--format" in (err.hint or "")


def test_utf16_file(tmp_path: Path) -> None:
    err = fails(write(tmp_path, "w.jsonl", jsonl(ALPACA).encode("utf-16")), line=None)
    assert "UTF-16" in err.message


# --- lenient reading ------------------------------------------------------------------------


def test_not_strict_collects_every_problem(tmp_path: Path) -> None:
    text = (
        jsonl({"id": "a", **ALPACA})
        + "{broken\n"
        + jsonl({"id": "c", "instruction": "Q"})
        + jsonl({"id": "a", "instruction": "Again", "output": "x"})
        + '["list"]\n'
        + jsonl({"id": "f", "instruction": "Fine", "output": "ok"})
    )
    sf = read_seed_file(write(tmp_path, "many.jsonl", text), strict=False)
    assert sf.format == "alpaca"
    assert [s.id for s in sf.seeds] == ["a", "f"]
    assert sf.tasks == 2
    assert [(p.line, p.field, p.severity) for p in sf.problems] == [
        (2, None, "error"),
        (3, "output", "error"),
        (4, "id", "error"),
        (5, None, "error"),
    ]
    assert [p.code for p in sf.problems] == [
        "invalid_json",
        "missing_field",
        "duplicate_id",
        "not_object",
    ]
    assert all(p.hint for p in sf.problems)
    assert sf.problems[2].describe().startswith(f"{tmp_path / 'many.jsonl'}:4:")


def test_not_strict_without_any_readable_record(tmp_path: Path) -> None:
    sf = read_seed_file(write(tmp_path, "e.jsonl", ""), strict=False)
    assert (sf.format, sf.seeds, [p.code for p in sf.problems]) == (None, [], ["empty_file"])
    sf = read_seed_file(write(tmp_path, "u.jsonl", jsonl({"q": 1}, {"q": 2})), strict=False)
    assert sf.format is None and [p.line for p in sf.problems] == [1, 2]


# --- several files --------------------------------------------------------------------------


def test_read_seeds_checks_ids_across_files(tmp_path: Path) -> None:
    a = write(tmp_path, "a.jsonl", jsonl({"id": "x", **ALPACA}))
    b = write(
        tmp_path,
        "b.jsonl",
        jsonl({"id": "y", **ALPACA}, {"id": "x", "instruction": "Q", "output": "A"}),
    )
    c = write(tmp_path, "c.jsonl", jsonl({"id": "z", **ALPACA}))
    assert [s.id for s in read_seeds([a, c])] == ["x", "z"]
    with pytest.raises(InputError) as info:
        read_seeds([a, b])
    err = info.value
    assert err.exit_code == 2
    assert (err.path, err.line, err.field) == (str(b), 2, "id")
    assert "a.jsonl line 1" in err.message and err.hint
    with pytest.raises(UsageError):
        read_seeds([a, a])
    with pytest.raises(UsageError):
        read_seeds([])


# --- real data ------------------------------------------------------------------------------


def _count(path: Path) -> tuple[int, int]:
    tasks = [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]
    return len(tasks), sum(len(t["instances"]) for t in tasks)


def test_self_instruct_seed_tasks(shared_data: Path) -> None:
    path = shared_data / "self-instruct" / "seed_tasks.jsonl"
    tasks, instances = _count(path)
    assert tasks == 175
    sf = read_seed_file(path)
    assert (sf.format, sf.tasks, len(sf.seeds), sf.problems) == (
        "self-instruct",
        175,
        instances,
        [],
    )
    first = sf.seeds[0]
    assert first.id == "seed_task_0"
    assert set(first.meta) == {"name", "is_classification"}
    assert any(s.input == "" for s in sf.seeds)


def test_self_instruct_user_oriented(shared_data: Path) -> None:
    path = shared_data / "self-instruct" / "user_oriented_instructions.jsonl"
    tasks, instances = _count(path)
    assert tasks == 252
    sf = read_seed_file(path)
    assert (sf.tasks, len(sf.seeds)) == (252, instances)
    assert "motivation_app" in sf.seeds[0].meta
    both = read_seeds([shared_data / "self-instruct" / "seed_tasks.jsonl", path])
    assert len(both) == instances + _count(shared_data / "self-instruct" / "seed_tasks.jsonl")[1]


def test_bundled_seed_sets() -> None:
    triage = read_seed_file(REPO / "seeds" / "support_triage.jsonl")
    assert (triage.format, triage.tasks, triage.problems) == ("alpaca", 25, [])
    assert [s.id for s in triage.seeds] == [f"ticket_{i:02d}" for i in range(1, 26)]
    categories = {"billing", "bug", "account", "feature_request", "shipping", "other"}
    for s in triage.seeds:
        label = json.loads(s.output)
        assert set(label) == {"category", "urgency", "summary"}
        assert label["category"] in categories
        assert label["urgency"] in {"low", "medium", "high"}
        assert s.input.strip()

    sql = read_seed_file(REPO / "seeds" / "text_to_sql.jsonl")
    assert (sql.format, sql.tasks, sql.problems) == ("alpaca", 25, [])
    assert [s.id for s in sql.seeds] == [f"sql_{i:02d}" for i in range(1, 26)]
    for s in sql.seeds:
        assert s.input.startswith("CREATE TABLE")
        db = sqlite3.connect(":memory:")
        db.executescript(s.input)
        db.execute(s.output)  # every query runs against its own schema
        db.close()

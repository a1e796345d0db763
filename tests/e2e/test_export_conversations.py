"""Exporting conversations: messages and sharegpt keep every turn, datasets reads them as TRL's
conversational format, and the one-exchange formats refuse them unless --last-turn."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import orjson
import pytest
from support.helpers import read_jsonl, run
from support.report_data import record, varied_examples, write_jsonl

from synthgen.config import Config, OutputsConfig
from synthgen.errors import InputError, UsageError
from synthgen.fingerprint import LATE, SETTINGS
from synthgen.pipeline.outputs import export_format
from synthgen.records import Turn, conversation_id
from synthgen.seeds.dataset import iter_rows
from synthgen.stages.export import ConversationError, export

SYSTEM = "You are a terse assistant for a bakery."


def conversation(i: int, exchanges: int = 3, system: bool = True) -> list[dict[str, str]]:
    """A conversation of `exchanges` user → assistant pairs, a system turn first if asked."""
    turns = [{"role": "system", "content": SYSTEM}] if system else []
    for k in range(exchanges):
        turns.append({"role": "user", "content": f"conv {i} question {k}: Grüße, 東京?"})
        turns.append({"role": "assistant", "content": f"conv {i} answer {k}."})
    return turns


def convo_record(i: int, turns: list[dict[str, str]]) -> dict[str, Any]:
    """A synthgen record holding a conversation: instruction and output are its first exchange."""
    body = [t for t in turns if t["role"] != "system"]
    first = {"instruction": body[0]["content"], "input": "", "output": body[1]["content"]}
    rid = conversation_id([Turn.model_validate(t) for t in turns])
    return {**record(i, first, rid=rid), "messages": turns}


@pytest.fixture
def mixed(tmp_path: Path) -> tuple[Path, list[dict[str, Any]]]:
    """data.jsonl: conversations (with and without a system turn) between single-turn records."""
    singles = [record(i, ex) for i, ex in enumerate(varied_examples(3), start=100)]
    singles[1] = {**singles[1], "input": "some context"}
    rows = [
        convo_record(0, conversation(0)),
        singles[0],
        convo_record(1, conversation(1, system=False)),
        singles[1],
        convo_record(2, conversation(2, exchanges=2)),
        singles[2],
    ]
    return write_jsonl(tmp_path / "data.jsonl", rows), rows


def trl_conversational(messages: Any) -> bool:
    """TRL's conversational format: role/content string dicts, an optional system turn first,
    then user and assistant turns alternating, user first."""
    if not isinstance(messages, list) or not messages:
        return False
    for t in messages:
        if not isinstance(t, dict) or set(t) != {"role", "content"}:
            return False
        if not isinstance(t["role"], str) or not isinstance(t["content"], str):
            return False
    roles = [t["role"] for t in messages]
    if roles[0] == "system":
        roles = roles[1:]
    return bool(roles) and roles == ["user", "assistant"] * (len(roles) // 2) + (
        ["user"] if len(roles) % 2 else []
    )


def single_expected(rec: dict[str, Any], fmt: str) -> dict[str, Any]:
    """A single-turn record's line, as export has always written it."""
    prompt = rec["instruction"] + ("\n\n" + rec["input"] if rec["input"] else "")
    if fmt == "messages":
        return {
            "messages": [
                {"role": "user", "content": prompt},
                {"role": "assistant", "content": rec["output"]},
            ]
        }
    if fmt == "sharegpt":
        return {
            "conversations": [
                {"from": "human", "value": prompt},
                {"from": "gpt", "value": rec["output"]},
            ]
        }
    if fmt == "alpaca":
        return {k: rec[k] for k in ("instruction", "input", "output")}
    return {"prompt": prompt, "completion": rec["output"]}


FROM = {"system": "system", "user": "human", "assistant": "gpt"}


def expected(rec: dict[str, Any], fmt: str) -> dict[str, Any]:
    """What one exported line must be: every turn of a conversation, or the single-turn line."""
    turns = rec.get("messages")
    if not turns:
        return single_expected(rec, fmt)
    if fmt == "messages":
        return {"messages": turns}
    return {"conversations": [{"from": FROM[t["role"]], "value": t["content"]} for t in turns]}


@pytest.mark.parametrize("fmt", ["messages", "sharegpt"])
def test_chat_formats_keep_every_turn_in_order(
    tmp_path: Path, mixed: tuple[Path, list[dict[str, Any]]], fmt: str
) -> None:
    src, rows = mixed
    out = tmp_path / f"{fmt}.jsonl"
    summary = export(src, out, fmt, with_ids=True)
    got = read_jsonl(out)
    assert [g.pop("id") for g in got] == [r["id"] for r in rows]
    assert got == [expected(r, fmt) for r in rows]
    assert summary.records == 6 and summary.conversations == 3
    key = "messages" if fmt == "messages" else "conversations"
    assert len(got[0][key]) == 7 and len(got[2][key]) == 6  # system + 3 exchanges; 3 exchanges
    # synthgen reads its own export back as the same conversations, ids included.
    back = list(iter_rows(out))
    for row, rec in zip(back, rows, strict=True):
        if "messages" in rec:
            assert row.messages == rec["messages"] and row.id == rec["id"]


def test_single_turn_lines_are_byte_identical_beside_conversations(
    tmp_path: Path, mixed: tuple[Path, list[dict[str, Any]]]
) -> None:
    src, rows = mixed
    singles = [r for r in rows if "messages" not in r]
    alone = write_jsonl(tmp_path / "singles.jsonl", singles)
    for fmt in ("messages", "sharegpt"):
        export(src, tmp_path / "mixed.jsonl", fmt)
        export(alone, tmp_path / "alone.jsonl", fmt)
        lines = (tmp_path / "mixed.jsonl").read_bytes().splitlines(keepends=True)
        assert b"".join(lines[1::2]) == (tmp_path / "alone.jsonl").read_bytes()
        assert lines[1::2] == [orjson.dumps(single_expected(r, fmt)) + b"\n" for r in singles]
    for fmt in ("alpaca", "prompt-completion"):
        export(alone, tmp_path / "alone.jsonl", fmt, last_turn=True)
        want = b"".join(orjson.dumps(single_expected(r, fmt)) + b"\n" for r in singles)
        assert (tmp_path / "alone.jsonl").read_bytes() == want


def test_a_conversation_read_from_a_sharegpt_file_keeps_its_system_turn(tmp_path: Path) -> None:
    turns = conversation(7)
    chat = [{"from": FROM[t["role"]], "value": t["content"]} for t in turns]
    src = write_jsonl(tmp_path / "chats.jsonl", [{"conversations": chat}])
    export(src, tmp_path / "m.jsonl", "messages")
    export(src, tmp_path / "s.jsonl", "sharegpt")
    assert read_jsonl(tmp_path / "m.jsonl") == [{"messages": turns}]
    assert read_jsonl(tmp_path / "s.jsonl") == [{"conversations": chat}]


LOAD = textwrap.dedent(
    """
    import json, sys, datasets
    ds = datasets.load_dataset("json", data_files=sys.argv[1], split="train")
    print(json.dumps({"columns": ds.column_names, "rows": ds.to_list()}))
    """
)


def test_messages_export_loads_with_datasets_as_trl_conversations(
    tmp_path: Path, mixed: tuple[Path, list[dict[str, Any]]]
) -> None:
    pytest.importorskip("datasets")
    src, rows = mixed
    out = tmp_path / "sft.jsonl"
    export(src, out, "messages")
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
        [sys.executable, "-c", LOAD, str(out)], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout)
    assert loaded["columns"] == ["messages"]
    assert len(loaded["rows"]) == len(rows)
    for got, rec in zip(loaded["rows"], rows, strict=True):
        assert trl_conversational(got["messages"]), got
        assert got == expected(rec, "messages")


def test_the_trl_check_itself_refuses_what_trl_refuses() -> None:
    assert trl_conversational(conversation(0)) and trl_conversational(conversation(0)[1:])
    assert not trl_conversational([{"role": "assistant", "content": "hi"}])
    assert not trl_conversational([{"role": "user", "content": "a"}] * 2)
    assert not trl_conversational([{"role": "user", "content": "a", "name": "x"}])
    assert not trl_conversational([{"role": "user", "content": 3}])
    assert not trl_conversational([{"role": "system", "content": "s"}])


@pytest.mark.parametrize("fmt", ["alpaca", "prompt-completion"])
def test_one_exchange_formats_refuse_a_conversation_naming_file_line_and_fix(
    tmp_path: Path, mixed: tuple[Path, list[dict[str, Any]]], fmt: str
) -> None:
    src, rows = mixed
    out = tmp_path / "out.jsonl"
    out.write_text("old\n")
    r = run(["export", str(src), "-o", str(out), "--format", fmt, "--split", "validation=0.5"])
    assert r.code == 2
    assert r.stderr.startswith(f"error: {src}:1: record {rows[0]['id']} is a conversation")
    assert f"3 exchanges, and {fmt} holds one" in r.stderr
    assert (
        "how to fix: pass --last-turn to export each conversation's last exchange, "
        "or export --to messages/sharegpt"
    ) in r.stderr
    assert out.read_text() == "old\n"  # no half-written export, the earlier one stays
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.jsonl", "out.jsonl"]


def test_last_turn_exports_each_conversations_last_exchange(
    tmp_path: Path, mixed: tuple[Path, list[dict[str, Any]]]
) -> None:
    src, rows = mixed
    for fmt in ("alpaca", "prompt-completion"):
        out = tmp_path / f"{fmt}.jsonl"
        r = run(["export", str(src), "-o", str(out), "--format", fmt, "--last-turn", "--json"])
        assert r.code == 0, r.stderr
        assert r.json()["last_turn"] is True and r.json()["conversations"] == 3
        assert "exported 6 records (3 conversations)" in r.stderr
        got = read_jsonl(out)
        for line, rec in zip(got, rows, strict=True):
            turns = rec.get("messages")
            if not turns:
                assert line == single_expected(rec, fmt)
                continue
            user, answer = turns[-2]["content"], turns[-1]["content"]
            assert user.endswith(("question 2: Grüße, 東京?", "question 1: Grüße, 東京?"))
            if fmt == "alpaca":
                assert line == {"instruction": user, "input": "", "output": answer}
            else:
                assert line == {"prompt": user, "completion": answer}


def test_last_turn_with_a_chat_format_is_a_usage_error(
    tmp_path: Path, mixed: tuple[Path, list[dict[str, Any]]]
) -> None:
    src, _ = mixed
    r = run(["export", str(src), "-o", str(tmp_path / "o.jsonl"), "--format", "messages"])
    assert r.code == 0
    r = run(
        ["export", str(src), "-o", str(tmp_path / "o.jsonl"), "--format", "sharegpt", "--last-turn"]
    )
    assert r.code == 2 and "--last-turn is for alpaca and prompt-completion" in r.stderr
    with pytest.raises(UsageError, match="keeps every turn"):
        export(src, tmp_path / "p.jsonl", "messages", last_turn=True)


def test_turns_out_of_order_are_an_input_error_naming_the_record(tmp_path: Path) -> None:
    turns = conversation(0)
    turns[3], turns[4] = turns[4], turns[3]  # an assistant turn before its question
    src = write_jsonl(
        tmp_path / "data.jsonl", [record(1, varied_examples(1)[0]), convo_record(0, turns)]
    )
    with pytest.raises(InputError, match=r"data\.jsonl:2: field \"messages\": record sg_") as e:
        export(src, tmp_path / "o.jsonl", "messages")
    assert "user, assistant, assistant, user" in str(e.value) and e.value.hint
    assert not (tmp_path / "o.jsonl").exists()


def test_a_runs_configured_alpaca_export_refuses_or_takes_the_last_turn(
    tmp_path: Path, mixed: tuple[Path, list[dict[str, Any]]]
) -> None:
    src, rows = mixed
    plain = Config(outputs=OutputsConfig(formats=["alpaca", "messages"]))
    with pytest.raises(ConversationError, match=r"data\.jsonl:1: record") as e:
        export_format(plain, src, tmp_path / "alpaca.jsonl", "alpaca")
    assert e.value.exit_code == 2 and e.value.hint and "outputs.last_turn: true" in e.value.hint
    last = Config(outputs=OutputsConfig(formats=["alpaca", "messages"], last_turn=True))
    files = export_format(last, src, tmp_path / "alpaca.jsonl", "alpaca")
    assert read_jsonl(files["train"])[0]["instruction"] == rows[0]["messages"][-2]["content"]
    files = export_format(last, src, tmp_path / "messages.jsonl", "messages")  # keeps every turn
    assert read_jsonl(files["train"])[0] == expected(rows[0], "messages")
    # The new setting is left out of the config's fingerprint while it holds its default
    # (tests/unit/test_fingerprint.py pins the hashes); the manifest shows it either way.
    assert SETTINGS["outputs.last_turn"].since == LATE
    assert plain.redacted()["outputs"]["last_turn"] is False
    assert last.redacted()["outputs"]["last_turn"] is True
    assert plain.sha256() != last.sha256()

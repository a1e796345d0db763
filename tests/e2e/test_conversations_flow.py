"""A multi-turn seed set (system prompt, three exchanges and more) through every stage over
real HTTP: expand → filter → dedup → report → export messages, every turn intact; and `run`
from the bundled support-chat config."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support.helpers import read_jsonl, run

from synthgen.standin import StandinHandle

REPO = Path(__file__).resolve().parents[2]
CHATS = REPO / "seeds" / "support_chats.jsonl"


def trl_conversational(example: dict[str, Any]) -> bool:
    """TRL's conversational format: `messages`, a list of {role, content} turns; user and
    assistant alternate after an optional leading system turn (checked as TRL's data
    utilities read it; TRL itself is not installed here)."""
    turns = example.get("messages")
    if not isinstance(turns, list) or not turns:
        return False
    if not all(isinstance(t, dict) and set(t) == {"role", "content"} for t in turns):
        return False
    roles = [t["role"] for t in turns]
    body = roles[1:] if roles[0] == "system" else roles
    return body == ["user", "assistant"] * (len(body) // 2) and len(body) >= 2


def _ok(args: list[str]) -> dict[str, Any]:
    r = run([*args, "--json"])
    assert r.code == 0, r.stderr
    return r.json()


def test_conversations_keep_every_turn_through_every_stage(
    standin: StandinHandle, tmp_path: Path
) -> None:
    standin.set_faults(judge_score=4)
    endpoint = ["--base-url", standin.base_url, "--model", "standin-fake"]
    state = ["--state-dir", str(tmp_path / "state")]
    seeds = _ok(["seeds", "inspect", str(CHATS)])
    assert seeds["conversations"]["conversations"] == 12
    assert seeds["conversations"]["with_system_prompt"] == 12

    raw, kept, unique = (tmp_path / f"{n}.jsonl" for n in ("raw", "kept", "unique"))
    s = _ok(["expand", str(CHATS), "-n", "12", "--strategy", "conversation", "--per-call", "2",
             "-o", str(raw), *endpoint, *state])  # fmt: skip
    assert s["counts"]["written"] == 12
    records = read_jsonl(raw)
    for r in records:
        turns = r["messages"]
        assert turns[0]["role"] == "system" and turns[-1]["role"] == "assistant"
        assert (r["instruction"], r["output"]) == (turns[1]["content"], turns[2]["content"])
        assert r["provenance"]["method"] == "conversation"

    f = _ok(["filter", str(raw), "-o", str(kept), "--seeds", str(CHATS), "--min-words", "1",
             *endpoint, *state])  # fmt: skip
    assert f["counts"]["input"] == 12 and f["counts"]["kept"] > 0
    judged = [e for e in standin.stats()["log"] if e["path"] == "/v1/chat/completions"]  # type: ignore[index,union-attr]
    assert judged  # the verdict requests went through the stand-in (as conversations, below)

    d = _ok(["dedup", str(kept), "-o", str(unique), *state])
    assert d["counts"]["input"] == f["counts"]["kept"]

    rep = _ok(["report", str(unique), "--seeds", str(CHATS)])
    assert rep["records"] == d["counts"]["kept"]

    out = tmp_path / "messages.jsonl"
    _ok(["export", str(unique), "--format", "messages", "-o", str(out)])
    exported = read_jsonl(out)
    by_id = {r["id"]: r for r in read_jsonl(unique)}
    assert len(exported) == len(by_id)
    assert all(trl_conversational(e) for e in exported)
    assert sorted(json.dumps(e["messages"]) for e in exported) == sorted(
        json.dumps(r["messages"]) for r in by_id.values()
    )  # every turn of every conversation, system prompt included, in order

    alpaca = run(["export", str(unique), "--format", "alpaca", "-o", str(tmp_path / "a.jsonl")])
    assert alpaca.code == 2 and "--last-turn" in alpaca.stderr


def test_the_export_loads_with_datasets(standin: StandinHandle, tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    raw = tmp_path / "raw.jsonl"
    _ok(["expand", str(CHATS), "-n", "4", "--strategy", "conversation", "--per-call", "2",
         "-o", str(raw), "--base-url", standin.base_url, "--model", "standin-fake",
         "--state-dir", str(tmp_path / "state")])  # fmt: skip
    out = tmp_path / "messages.jsonl"
    _ok(["export", str(raw), "--format", "messages", "-o", str(out)])
    ds = datasets.load_dataset("json", data_files=str(out), split="train")
    assert len(ds) == 4 and all(trl_conversational(dict(row)) for row in ds)


def test_run_delivers_exactly_n_conversations_from_the_bundled_config(tmp_path: Path) -> None:
    from support.runs import standin as judged_standin

    with judged_standin() as s:
        out = tmp_path / "run"
        summary = _ok(["run", str(REPO / "configs" / "support-chat.yaml"), "--base-url",
                       s.base_url, "--count", "10", "--out", str(out), "--state-dir",
                       str(tmp_path / "state")])  # fmt: skip
    assert summary["status"] == "complete"
    data = read_jsonl(out / "data.jsonl")
    assert len(data) == 10
    for r in data:
        n = sum(1 for t in r["messages"] if t["role"] == "assistant")
        assert 2 <= n <= 6  # the config's min_exchanges and max_exchanges
        assert r["provenance"]["judge"]["passed"]
    assert all(trl_conversational(json.loads(x))
               for x in (out / "messages.train.jsonl").read_text().splitlines())  # fmt: skip

"""Conversations and preference pairs against llama.cpp's server and SmolLM2-135M: what must
hold whatever the model writes (counts, shapes, ids, provenance)."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.llamacpp import (
    SEEDS,
    STRUCTURED_PATHS,
    LlamaServer,
    endpoint_args,
    read_jsonl,
    reasons,
    sg,
    side_files,
)

from synthgen.records import Record, conversation_id

pytestmark = [pytest.mark.realmodel, pytest.mark.timeout(300)]

CHATS = SEEDS.parent / "support_chats.jsonl"


def test_expand_conversations(llama: LlamaServer, rm_config: Path, tmp_path: Path) -> None:
    out = tmp_path / "chats.jsonl"
    r = sg(["expand", str(CHATS), "-o", str(out), "--strategy", "conversation", "-n", "2",
            "--per-call", "1", "--human-examples", "1", "--json",
            *endpoint_args(llama, rm_config, tmp_path / ".synthgen")])  # fmt: skip
    assert r.code in (0, 1), r.stderr  # 1: a 135M model's answers may yield too few
    s = r.json()
    recs, ledger = read_jsonl(out), read_jsonl(side_files(out)[0])
    assert s["counts"]["written"] == len(recs) and s["counts"]["ledgered"] == reasons(ledger)
    for x in recs:
        rec = Record.model_validate(x)
        assert rec.messages is not None and rec.id == conversation_id(rec.messages)
        roles = [t.role for t in rec.messages]
        body = roles[1:] if roles[0] == "system" else roles
        assert body == ["user", "assistant"] * (len(body) // 2) and body
        first_user = next(t.content for t in rec.messages if t.role == "user")
        first_answer = next(t.content for t in rec.messages if t.role == "assistant")
        assert (rec.instruction, rec.output) == (first_user, first_answer)
        g = rec.provenance.generator
        assert g is not None and g.structured in STRUCTURED_PATHS
        assert rec.provenance.method == "conversation"
    for e in ledger:  # what the model wrote that could not be a conversation, with why
        assert e["dropped"]["stage"] == "expand" and e["dropped"]["reason"]


def test_expand_k_responses_per_instruction(
    llama: LlamaServer, rm_config: Path, tmp_path: Path
) -> None:
    out = tmp_path / "pairs.jsonl"
    r = sg(["expand", str(SEEDS), "-o", str(out), "-n", "1", "--per-call", "1",
            "--responses-per-instruction", "2", "--machine-examples", "0", "--json",
            *endpoint_args(llama, rm_config, tmp_path / ".synthgen")])  # fmt: skip
    assert r.code in (0, 1), r.stderr
    for x in read_jsonl(out):
        rec = Record.model_validate(x)
        assert rec.responses is not None and len(rec.responses) == 2
        seeds = {resp.generator.params["seed"] for resp in rec.responses if resp.generator}
        assert len(seeds) == 2  # two calls, two seeds: two real samples of the model
        assert rec.output == rec.responses[0].output

"""Against llama.cpp's own server: the client finds its slots (GET /props) when no concurrency
is given, and a verdict cut off at max_tokens is ledgered without a repair re-ask."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.llamacpp import SEEDS, LlamaServer, read_jsonl, sg, side_files

from synthgen.llm.local import probe_slots

pytestmark = [pytest.mark.realmodel, pytest.mark.timeout(300)]


def test_props_says_the_servers_slots(llama: LlamaServer) -> None:
    # conftest starts the server with n_parallel=2: llama.cpp reports it as total_slots.
    assert probe_slots(llama.base_url) == (2, "2 slots (llama.cpp /props)")


def test_filter_without_concurrency_uses_the_slots_and_never_repairs_a_cut_off_verdict(
    llama: LlamaServer, tmp_path: Path
) -> None:
    config = tmp_path / "judge64.yaml"
    # 64 tokens (the floor) cannot hold SmolLM2's verdicts: most are cut off mid-way.
    config.write_text("filter:\n  judge:\n    max_new_tokens: 64\n")
    inp = tmp_path / "in.jsonl"
    inp.write_text("".join(SEEDS.read_text().splitlines(keepends=True)[:3]))
    out = tmp_path / "kept.jsonl"
    r = sg(
        [
            *("filter", str(inp), "-o", str(out), "--json", "--config", str(config)),
            *("--base-url", llama.base_url, "--model", llama.model),
            *("--state-dir", str(tmp_path / ".synthgen"), "--timeout", "180"),
            *("--max-attempts", "2"),  # and no --concurrency
        ]
    )
    s = r.json()
    assert s["capabilities"][llama.model]["concurrency"] == "2"
    ledger = read_jsonl(side_files(out)[0])
    truncated = [e for e in ledger if e["dropped"]["reason"] == "judge_truncated"]
    assert truncated, f"no verdict was cut off at 64 tokens: {s['counts']}"
    for e in truncated:
        assert e["dropped"]["stage"] == "judge" and e["raw"]
        assert "cut off at max_tokens=64 (finish_reason=length)" in e["dropped"]["detail"]
    # One request per judged row; only a complete but malformed verdict adds its one repair.
    # (A retry of a transient server error is counted apart, and is no repair: the server is
    # shared by the whole session, and an earlier test's long prompts may leave it busy.)
    rules = sum(s["counts"]["dropped"].get("rules", {}).values())
    judged_rows = s["counts"]["input"] - rules
    repairs = s["judge"]["parse_failures"] + s["judge"]["repaired"]
    sent = s["requests"]["sent"] - s["requests"]["retried"]
    assert sent == judged_rows + repairs, s["requests"]

"""kill -9 mid-run against the real server, then the same command: exactly N, no duplicates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.helpers import spawn, wait_until
from support.llamacpp import (
    DEBUG_ENV,
    LlamaServer,
    assert_no_crash,
    check_records,
    expand_cmd,
    read_jsonl,
    sg,
    side_files,
)

pytestmark = [pytest.mark.realmodel, pytest.mark.timeout(300)]


def test_kill_9_then_rerun_completes_exactly(
    llama: LlamaServer, rm_config: Path, tmp_path: Path
) -> None:
    out = tmp_path / "raw.jsonl"
    partial = tmp_path / "raw.jsonl.partial"
    n = 3
    # One example a call: records land job by job, so the kill falls between them.
    args = expand_cmd(llama, rm_config, out, "paraphrase", n, "--per-call", "1", "--seed", "5")
    proc = spawn(args, tmp_path, env=DEBUG_ENV)

    def landed() -> bool:
        if proc.poll() is not None:
            _, err = proc.communicate()
            pytest.fail(f"expand ended (exit {proc.returncode}) before it was killed:\n{err}")
        return partial.exists() and partial.read_bytes().count(b"\n") >= 1

    wait_until(landed, timeout=180, what=f"a first record in {partial}")
    proc.kill()  # SIGKILL: no cleanup of any kind
    _, err = proc.communicate(timeout=30)
    assert_no_crash(err)
    # Complete lines only: a kill mid-write may leave a torn last line (resume cuts it).
    # (The records are still in OUT.partial, unless the kill came as the run was finishing.)
    written = partial if partial.exists() else out
    before = [json.loads(x) for x in written.read_bytes().split(b"\n")[:-1]]
    assert 1 <= len(before) <= n

    again = sg([*args, "--json"])
    # 0: done; 1: the model's answers yielded too few usable candidates (then still no
    # duplicates, and the killed run's records first).
    assert again.code in (0, 1), again.stderr
    s = again.json()
    assert s["resumed"] is True
    recs = read_jsonl(out)
    ids = [x["id"] for x in recs]
    assert len(ids) == len(set(ids)), "duplicate ids"
    assert s["counts"]["written"] == len(recs)
    if again.code == 0:
        assert len(recs) == n
    assert ids[: len(before)] == [x["id"] for x in before]
    check_records(recs)
    assert len({x["provenance"]["run_id"] for x in recs}) == 1
    assert not partial.exists()
    ledger_path, _ = side_files(out)
    ledger_ids = [e["id"] for e in read_jsonl(ledger_path)]
    assert len(ledger_ids) == len(set(ledger_ids)), "a drop was ledgered twice"

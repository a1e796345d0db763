"""The records a bundled config makes over the stand-in, pinned by id and by what was asked:
moving how configs are fingerprinted (synthgen.fingerprint) must leave every request, and so
every record, as it was. The config hashes themselves are pinned in
tests/unit/test_fingerprint.py (these runs' hashes hold the stand-in's port)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.helpers import run

from synthgen.config import load_config
from synthgen.pipeline.stage import data_sha256
from synthgen.records import sha256_hex
from synthgen.standin import StandinHandle

REPO = Path(__file__).resolve().parents[2]

# config → the ids of the records a six-record run writes, in file order. text-to-sql's changed
# once, on purpose (issue 22): its seeds lost their two writing queries, and the stand-in now
# answers an SQL task with a schema as input and a query that runs against it.
PINNED: dict[str, list[str]] = {
    "support-chat.yaml": [
        "sg_5137452cec14ccb65882224dbd51888e",
        "sg_92bba15be163a2c2f54f5386d9c282e1",
        "sg_48ca0d9fd014554150b37f20d445f4cb",
        "sg_3ebb5d6fdeb4c5e8f930d3e79fb259c7",
        "sg_5fb7f8c5e01c3ecaf6e13fa2abd063a9",
        "sg_010e58c3caf49f0b38d614bf9dfb3e77",
    ],
    "support-triage.yaml": [
        "sg_07445b3649db30d43eac2cc8c0acc638",
        "sg_74a03e32abf98e087d121095d47e7865",
        "sg_5896f9587185480e382ab47b8a990c0c",
        "sg_729b1974fa131b26c265caf03c6facb5",
        "sg_7425f23fbe5aaf3f8e41ed336c33ffd7",
        "sg_998a7bc85424dc1358cf29cf4a6ee91b",
    ],
    "text-to-sql.yaml": [
        "sg_27e23efb02757b0d0f8ee8256a3c0575",
        "sg_4ca5efe8be10bbabffc240706b707227",
        "sg_e60ba0dec2d9f5c13624a2de3f227f4e",
        "sg_43c2e555e9bc17d8acb402211cd0f5a5",
        "sg_aec7f4ea6958f23fe96e11e9bb6bff00",
        "sg_1830baf7cc586434df4479a02af93080",
    ],
}

# config → sha256 of the sorted hashes of every request body that run sent. Changed once, on
# purpose: the judge's verdict schema v2 bounds `flags` (docs/changelog.md); the generation
# requests, and so the records above, are as they were. text-to-sql's changed with its records.
ASKED = {
    "support-chat.yaml": "6d8699ac422a7e68d84ae462fb61b0f3f9975a1a926708569334d396d770b542",
    "support-triage.yaml": "07568da8c4673ec422c145af22fe5b65c4fceef32b9289d4ddc5aeb7972c2ec5",
    "text-to-sql.yaml": "7510d6654e4ae5a95e3374f54758b17959914915026e853c59709a76bc5a645f",
}


@pytest.mark.parametrize("config", sorted(PINNED))
def test_a_bundled_configs_records_are_what_they_were(
    standin: StandinHandle, tmp_path: Path, config: str
) -> None:
    standin.set_faults(judge_score_by_length=30)  # the human seeds pass calibration at 4
    out, state = tmp_path / "out", tmp_path / "state"
    path = REPO / "configs" / config
    args = ["run", str(path), "--base-url", standin.base_url, "--count", "6", "--concurrency", "1"]
    r = run([*args, "--out", str(out), "--state-dir", str(state), "--json"])
    assert r.code == 0, r.stderr
    records = [json.loads(line) for line in (out / "data.jsonl").read_text().splitlines()]
    assert len(records) == 6
    cfg = load_config(path, {"endpoint.base_url": standin.base_url}, env={})
    assert {rec["provenance"]["config_sha256"] for rec in records} == {data_sha256(cfg)}
    assert [rec["id"] for rec in records] == PINNED[config]
    # What was asked, so the cache keys too: the stand-in logs each request body's hash (one
    # at a time, every request follows from the answers before it).
    bodies = sorted(e["body_sha256"] for e in standin.stats()["log"])  # type: ignore[index]
    assert sha256_hex("\n".join(bodies)) == ASKED[config]

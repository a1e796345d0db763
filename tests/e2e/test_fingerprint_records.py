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

# config → the ids of the records a six-record run writes, in file order. Changed on purpose:
# text-to-sql's seeds lost their two writing queries and the stand-in answers an SQL task with a
# schema as input and a query that runs against it (issue 22); and `run`'s generation is
# windowed (issue 20), so with --concurrency 1 each round asks one call and the later records
# come from later rounds; the first round's records are the old first ones.
PINNED: dict[str, list[str]] = {
    "support-chat.yaml": [
        "sg_5137452cec14ccb65882224dbd51888e",
        "sg_92bba15be163a2c2f54f5386d9c282e1",
        "sg_009dfe5a82ffdb7eb54350c37d531038",
        "sg_cdd24bd6517bfa2ddcb80e13de290814",
        "sg_d56984abd948155b37aa8178939304a3",
        "sg_e0bffb57e218c5f501395cfdd374f197",
    ],
    "support-triage.yaml": [
        "sg_07445b3649db30d43eac2cc8c0acc638",
        "sg_74a03e32abf98e087d121095d47e7865",
        "sg_5896f9587185480e382ab47b8a990c0c",
        "sg_729b1974fa131b26c265caf03c6facb5",
        "sg_fa79c1fd9bedd4d6fad44365e3d6a058",
        "sg_2badc52b1e971184ba65bf6a113a878d",
    ],
    "text-to-sql.yaml": [
        "sg_27e23efb02757b0d0f8ee8256a3c0575",
        "sg_cd5db646854cec0dd681009262ca8291",
        "sg_27f1d3aee30f733da4aeeb429b81f7f7",
        "sg_9368d04f256f29f396fb21da34f7f3cf",
        "sg_9ebff1d9ff763b4bfda29370b0fe7ccf",
        "sg_789bfba0101e7a1e95fec0004b10e9ed",
    ],
}

# config → sha256 of the sorted hashes of every request body that run sent. Changed on
# purpose: text-to-sql's with its records; the judge's verdict schema v2 bounds `flags`; and
# `run`'s generation is windowed (docs/changelog.md): the rounds' requests are the rounds' own.
ASKED = {
    "support-chat.yaml": "668297a50eff6f31fef8ca01476a0be5e4eb09f20accbbac911f65f0f0174738",
    "support-triage.yaml": "ce3092eaea71137eb589561b2da9526bf462323e73d92cac81f0a69c1aebee68",
    "text-to-sql.yaml": "3fa46d574dda8a9a5ed12eb1da3ec027ecfb86907ae92928e0c09f9382ad9122",
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

"""`expand` and `filter` stopped by Ctrl-C over HTTP: no request is sent after the first
signal, what was in flight lands in the cache and is committed in order, the partial output
stands (exit 130), and the rerun finishes sending only what was never answered."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
from support.filter_fixtures import alpaca_rows, filter_args, write_jsonl
from support.helpers import expand_args, read_jsonl, run
from support.resume import received_seqs, standin_log
from support.signals import STOPPING, Stopped, stop_midway

from synthgen.standin import StandinHandle

SLOTS = 2  # --concurrency: the most requests the client has in flight
ANSWERED = 10  # the stand-in answers this many, then holds what comes next


def _paid(endpoint: StandinHandle, state: Path) -> set[str]:
    """Bodies of the requests whose answers the stopped run received and cached."""
    body_of = {e["seq"]: e["body_sha256"] for e in standin_log(endpoint) if e["status"] == 200}
    return {body_of[s] for s in received_seqs(state)}


def _stopped_sending(end: Stopped) -> None:
    """Exit 130, said so, and nothing received after the signal but what was held then."""
    assert end.code == 130, end.stderr
    assert STOPPING in end.stderr and "Traceback" not in end.stderr and "resume" in end.stderr
    assert end.at_exit == end.at_signal == ANSWERED + SLOTS


def _rerun_sends_none_of(endpoint: StandinHandle, args: list[str], paid: set[str]) -> None:
    last = max(e["seq"] for e in standin_log(endpoint))
    again = run([*args, "--json"])
    assert again.code == 0, again.stderr
    resent = {e["body_sha256"] for e in standin_log(endpoint) if e["seq"] > last} & paid
    assert not resent, f"{len(resent)} requests answered before the stop were sent again"


@pytest.mark.timeout(120)
def test_expand_stops_sending_at_the_first_ctrl_c(
    standin: StandinHandle, triage_seeds: Path, tmp_path: Path
) -> None:
    out = tmp_path / "raw.jsonl"
    args = expand_args(triage_seeds, out, standin.base_url, "-n", "150", "--concurrency", "2")
    end = stop_midway(standin, args, tmp_path, ANSWERED, SLOTS, [signal.SIGINT])
    _stopped_sending(end)
    paid = _paid(standin, tmp_path / ".synthgen")
    assert len(paid) == ANSWERED + SLOTS, "an answer in flight at the signal was not cached"
    done = read_jsonl(out)
    assert 0 < len(done) < 150
    manifest = json.loads((tmp_path / "raw.manifest.json").read_text())
    assert (manifest["status"], manifest["exit_code"]) == ("interrupted", 130)
    _rerun_sends_none_of(standin, args, paid)
    recs = read_jsonl(out)
    assert len(recs) == 150 and [r["id"] for r in recs[: len(done)]] == [r["id"] for r in done]


@pytest.mark.timeout(120)
def test_filter_stops_sending_at_the_first_ctrl_c(standin: StandinHandle, tmp_path: Path) -> None:
    inp = write_jsonl(tmp_path / "in.jsonl", alpaca_rows(100))
    out = tmp_path / "kept.jsonl"
    args = filter_args(inp, out, standin.base_url, "--concurrency", "2")
    end = stop_midway(standin, args, tmp_path, ANSWERED, SLOTS, [signal.SIGINT])
    _stopped_sending(end)
    paid = _paid(standin, tmp_path / ".synthgen")
    assert len(paid) == ANSWERED + SLOTS
    manifest = json.loads((tmp_path / "kept.manifest.json").read_text())
    assert manifest["status"] == "interrupted"
    c = manifest["counts"]
    # Every verdict that landed, the held ones included, was committed in order.
    assert c["input"] == ANSWERED + SLOTS and c["kept"] + c["dropped_total"] == c["input"]
    _rerun_sends_none_of(standin, args, paid)
    assert len(read_jsonl(out)) + len(read_jsonl(tmp_path / "kept.ledger.jsonl")) == 100

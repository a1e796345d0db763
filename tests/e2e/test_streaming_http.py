"""Streamed answers end to end: the real SDK over real HTTP, the stand-in streaming as OpenAI
does. The timeout is the silence between chunks: a slow answer that keeps sending finishes
and is sent once; an endpoint that goes silent is cut off and asked again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from support.filter_fixtures import alpaca_rows, filter_args, write_jsonl
from support.helpers import expand_args, read_jsonl, run, wait_until

from synthgen.core.store import forget_capabilities
from synthgen.standin import StandinHandle

TIMEOUT = "2"  # seconds of silence allowed; every answer below takes longer in all
# Each margin below holds in the direction a loaded machine cannot break: a chunk gap of
# 0.1 s is 20x inside the timeout (a chunk late by 2 s is a stalled machine, not load), and
# a stall or a whole answer only ever takes longer than asked, which is past the timeout.
CHUNK_DELAY = 0.1
CHARS = 40  # content characters per chunk: about 50 chunks for one expand call


def _chats(standin: StandinHandle) -> list[dict[str, Any]]:
    log: list[dict[str, Any]] = standin.stats()["log"]  # type: ignore[assignment]
    return [e for e in log if e["path"] == "/v1/chat/completions"]


def _expand(standin: StandinHandle, out: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    r = run(expand_args(SEEDS, out, standin.base_url, "--json", "--timeout", TIMEOUT, *extra))
    assert "Traceback" not in r.stderr
    return r.code, (r.json() if r.stdout.strip() else {})


SEEDS = Path(__file__).resolve().parents[2] / "seeds" / "support_triage.jsonl"


def _records(path: Path) -> list[dict[str, Any]]:
    """The records without what tells two runs apart (run id, start, cache replay)."""
    out = []
    for r in read_jsonl(path):
        prov = {k: v for k, v in r["provenance"].items() if k not in ("run_id", "created_at")}
        prov["generator"] = {k: v for k, v in prov["generator"].items() if k != "cached"}
        out.append({**r, "provenance": prov})
    return out


def test_a_slow_answer_that_keeps_sending_completes_and_is_sent_once(
    standin: StandinHandle, tmp_path: Path
) -> None:
    standin.set_faults(chunk_delay_s=CHUNK_DELAY, stream_chunk_chars=CHARS)
    code, s = _expand(standin, tmp_path / "raw.jsonl", "-n", "5")
    assert code == 0 and len(read_jsonl(tmp_path / "raw.jsonl")) == 5
    assert s["requests"]["sent"] == 1 and s["requests"]["retried"] == 0
    (chat,) = _chats(standin)
    # 0.1 s before each of 40+ chunks: over twice the 2 s timeout in all, never 2 s silent.
    assert chat["stream"] and chat["completed"]
    assert chat["chunks"] * CHUNK_DELAY > 2 * float(TIMEOUT)
    # The same slow endpoint answering in one piece is cut off at the timeout, every time.
    standin.reset()
    standin.set_faults(reject_stream=True)
    code, s = _expand(standin, tmp_path / "whole" / "raw.jsonl", "-n", "5", "--max-attempts", "1")
    assert code == 1 and s["requests"]["fallbacks"] == ["stream->none"]
    # A request is logged once its whole answer is made, after the client has given up on it.
    wait_until(lambda: len(_chats(standin)) == 1 + s["requests"]["failed"], what="the answers")
    refused, *whole = [(c["stream"], c["status"]) for c in _chats(standin)]
    assert refused == (True, 400)  # learned at once, then asked in one piece ...
    assert whole == [(False, 200)] * s["requests"]["failed"]  # ... and every one timed out


def test_an_endpoint_that_goes_silent_mid_stream_is_cut_off_and_asked_again(
    standin: StandinHandle, tmp_path: Path
) -> None:
    # The first request stalls 6 s (> the 2 s timeout) after 3 chunks; its retry does not.
    standin.set_faults(stall_after_chunks=3, stall_s=6.0, stall_first=1, stream_chunk_chars=CHARS)
    code, s = _expand(standin, tmp_path / "raw.jsonl", "-n", "5")
    assert code == 0 and len(read_jsonl(tmp_path / "raw.jsonl")) == 5
    assert s["requests"]["sent"] == 2 and s["requests"]["retried"] == 1
    cut, again = _chats(standin)
    assert cut["body_sha256"] == again["body_sha256"]  # the very same request, asked again
    assert (cut["chunks"], cut["completed"]) == (3, False)
    assert again["completed"] and again["chunks"] > 3
    # No request was answered twice: one completed answer per distinct request.
    done = [c["body_sha256"] for c in _chats(standin) if c["completed"]]
    assert len(done) == len(set(done)) == 1


def test_a_state_dir_written_without_streaming_replays_with_nothing_sent(
    standin: StandinHandle, tmp_path: Path
) -> None:
    out = tmp_path / "raw.jsonl"
    standin.set_faults(reject_stream=True)  # every answer of the first run comes in one piece
    code, first = _expand(standin, out, "-n", "10")
    assert code == 0 and first["requests"]["fallbacks"] == ["stream->none"]
    assert not any(c["stream"] for c in _chats(standin) if c["status"] == 200)
    written = _records(out)
    # Forget what was learned, so the rerun asks to stream: the cache keys must not care.
    forget_capabilities(tmp_path / ".synthgen")
    standin.reset()
    standin.set_faults(reject_stream=False)
    again_out = tmp_path / "again.jsonl"  # a new run over the same state dir
    code, again = _expand(standin, again_out, "-n", "10")
    assert code == 0 and again["requests"]["sent"] == 0 and _chats(standin) == []
    assert again["requests"]["cached"] == first["requests"]["sent"] - 1  # all but the 400
    assert _records(again_out) == written  # the same records, from the same answers
    assert all(r["provenance"]["generator"]["cached"] for r in read_jsonl(again_out))
    # Asked for more, it replays the old answers and streams only the new requests.
    code, more = _expand(standin, again_out, "-n", "20")
    assert code == 0 and len(read_jsonl(again_out)) == 20
    chats = _chats(standin)
    assert more["requests"]["sent"] == len(chats) > 0
    assert all(c["stream"] and c["completed"] for c in chats)
    assert more["requests"]["cached"] == again["requests"]["cached"]


def test_filter_shows_the_judge_calibrating_on_the_seeds(
    standin: StandinHandle, triage_seeds: Path, tmp_path: Path
) -> None:
    inp = write_jsonl(tmp_path / "in.jsonl", alpaca_rows(4))
    n = len(triage_seeds.read_text().splitlines())
    standin.set_faults(judge_score=4)  # every seed passes: the progress lines are under test
    args = filter_args(inp, tmp_path / "kept.jsonl", standin.base_url, "--seeds", str(triage_seeds))
    r = run([*args, "--threshold", "2"])
    assert r.code == 0, r.stderr
    assert "filter: calibrating: 0/" in r.stderr
    assert f"filter: calibrating: {n}/{n} seeds judged" in r.stderr
    assert all(c["stream"] and c["completed"] for c in _chats(standin))


def test_stream_options_refused_or_usage_never_sent_fall_back_and_are_recorded(
    standin: StandinHandle, tmp_path: Path
) -> None:
    standin.set_faults(reject_stream_options=True)
    code, s = _expand(standin, tmp_path / "a" / "raw.jsonl", "-n", "10", "--concurrency", "1")
    assert code == 0 and s["requests"]["fallbacks"] == ["stream_options->none"]
    chats = _chats(standin)
    assert chats[0]["status"] == 400 and all(c["completed"] for c in chats[1:])
    standin.reset()
    standin.set_faults(reject_stream_options=False, stream_usage=False)
    code, s = _expand(standin, tmp_path / "b" / "raw.jsonl", "-n", "10", "--concurrency", "1")
    assert code == 0 and s["requests"]["fallbacks"] == ["stream_usage->estimate"]
    assert s["requests"]["sent"] == len(_chats(standin))  # nothing asked twice
    assert s["usage"]["completion_tokens"] > 0  # estimated from the streamed text


def test_a_first_token_slower_than_the_timeout_is_waited_for_not_asked_again(
    standin: StandinHandle, tmp_path: Path
) -> None:
    # The first request is silent 3 s before its first chunk, as a local model is while it
    # processes the prompt: past the 2 s timeout, but within the first-token allowance its
    # prompt gets (prompt tokens ÷ the rate), so it is answered once, not cut off and re-sent.
    standin.set_faults(stall_after_chunks=0, stall_s=3.0, stall_first=1, stream_chunk_chars=CHARS)
    code, s = _expand(standin, tmp_path / "raw.jsonl", "-n", "5", "--max-attempts", "1")
    assert code == 0 and len(read_jsonl(tmp_path / "raw.jsonl")) == 5
    assert s["requests"]["sent"] == 1 and s["requests"]["retried"] == 0
    (chat,) = _chats(standin)
    assert chat["completed"]
    # The summary (and the manifest) say what was allowed and how long the first token took.
    (waits,) = s["first_token"].values()
    assert waits["longest_first_token_s"] >= 3.0 - 0.05
    assert waits["longest_allowance_s"] > waits["longest_first_token_s"]
    assert waits["measured_answers"] == 1 and waits["prompt_tokens_per_s"] > 0
    manifest = tmp_path / "raw.manifest.json"
    assert '"first_token"' in manifest.read_text()

"""Grounded conversations over real HTTP: conversation seeds over the bundled documents,
the stand-in writing conversations whose assistant turns quote the chunk, a fault on one
turn of some chunks; every kept turn's quotes are in its chunk, every span verifies, and
each fault ends under its reason naming the turn."""

from __future__ import annotations

import json
from pathlib import Path

from support.helpers import expand_args, read_jsonl, run

from synthgen.records import sha256_hex
from synthgen.standin import StandinHandle
from synthgen.text.quotes import normalise

ROOT = Path(__file__).resolve().parents[2]
SEEDS = ROOT / "seeds" / "documents_chat.jsonl"
DOCUMENTS = ROOT / "examples" / "documents"


def test_kept_conversations_quote_their_chunk_on_every_turn_and_faults_name_the_turn(
    standin: StandinHandle, tmp_path: Path
) -> None:
    standin.set_faults(grounded_faults=["fabricated", "number"])
    out = tmp_path / "out.jsonl"
    args = expand_args(SEEDS, out, standin.base_url, "-n", "6", "--per-call", "1")
    args += ["--documents", str(DOCUMENTS), "--verdict-model", "judge-x"]
    got = run(args)
    assert got.code == 0, got.stderr
    recs = read_jsonl(out)
    assert len(recs) == 6
    store = tmp_path / "out.jsonl.documents"
    for r in recs:
        assert r["provenance"]["method"] == "grounded_conversation"
        assert r["provenance"]["grounded_verdict"]["model"] == "judge-x"
        assistants = [t for t in r["messages"] if t["role"] == "assistant"]
        assert len(assistants) >= 2  # the seeds' shape: 2-3 exchanges
        src, evidence = r["provenance"]["source"], r["provenance"]["evidence"]
        text = (store / f"{src['text_sha256']}.txt").read_text(encoding="utf-8")
        start, end = src["chunk_span"]
        chunk = text[start:end]
        assert sha256_hex(chunk) == src["chunk_sha256"]
        # every assistant turn has its own quotes, each in this record's chunk
        assert {ev["turn"] for ev in evidence} == set(range(1, len(assistants) + 1))
        for ev in evidence:
            assert start <= ev["start"] < ev["end"] <= end
            assert normalise(ev["quote"]).text in normalise(chunk).text
            assert text[ev["start"] : ev["end"]] == ev["quote"]
    drops = {
        (d["dropped"]["reason"], d["dropped"]["detail"].split(":")[0])
        for d in read_jsonl(tmp_path / "out.ledger.jsonl")
    }
    assert ("quote_not_found", "turn 2") in drops, drops
    assert ("unsupported_entity", "turn 2") in drops, drops
    verified = run(["verify", str(out)])
    assert verified.code == 0, verified.stdout + verified.stderr
    # a rerun replays every answer (the verdicts too) from the cache: same bytes, nothing sent
    before, sent = out.read_bytes(), standin.stats()["requests_total"]
    assert run(args).code == 0 and out.read_bytes() == before
    assert standin.stats()["requests_total"] == sent
    # a moved span of a second turn is caught and its record named
    recs[0]["provenance"]["evidence"][-1]["start"] += 1
    out.write_text("".join(json.dumps(r) + "\n" for r in recs), encoding="utf-8")
    broken = run(["verify", str(out)])
    assert broken.code == 1 and recs[0]["id"] in broken.stdout + broken.stderr


def test_run_keeps_exactly_n_grounded_conversations_judged_and_verified(
    standin: StandinHandle, tmp_path: Path
) -> None:
    standin.set_faults(grounded_faults=["fabricated"], judge_score_by_length=30)
    cfg = tmp_path / "chat.yaml"
    cfg.write_text(
        f"task: manual-chat\nseeds: [{SEEDS}]\ndocuments: [{DOCUMENTS}]\n"
        "endpoint: {model: standin-fake, concurrency: 2}\n"
        "generation: {strategy: grounded, per_call: 1, seed: 3}\n"
        "target: {count: 4}\nfilter: {judge: {threshold: 1}}\n"
        "dedup: {method: exact}\noutputs: {dir: out, formats: []}\nstate_dir: .sg\n",
        encoding="utf-8",
    )
    got = run(["run", str(cfg), "--base-url", standin.base_url, "--json"])
    assert got.code == 0, got.stderr
    recs = read_jsonl(tmp_path / "out" / "data.jsonl")
    assert len(recs) == 4
    for r in recs:
        assert r["provenance"]["method"] == "grounded_conversation"
        assert r["provenance"]["judge"]["score"] >= 1  # the judge saw what the checks passed
        turns = sum(t["role"] == "assistant" for t in r["messages"])
        assert {ev["turn"] for ev in r["provenance"]["evidence"]} == set(range(1, turns + 1))
    assert run(["verify", str(tmp_path / "out")]).code == 0

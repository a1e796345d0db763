"""Grounded generation over real HTTP: the stand-in answers from the chunk it is given,
with every fault on; each fault ends under its own ledger reason and what is kept holds."""

from __future__ import annotations

import json
import signal
from pathlib import Path

from support.helpers import expand_args, read_jsonl, run, spawn, wait_until
from support.resume import received_seqs, standin_log

from synthgen.records import sha256_hex
from synthgen.standin import StandinHandle
from synthgen.standin.grounded import FAULTS
from synthgen.text.quotes import normalise

TOWNS = [
    "Ashford",
    "Bexley",
    "Carlow",
    "Dunmore",
    "Elgin",
    "Fenwick",
    "Galway",
    "Hexham",
    "Ilkley",
    "Jarrow",
    "Kendal",
    "Ludlow",
]
# The reason each stand-in fault must end under ("short" quotes prove nothing either).
REASONS = {
    "empty": "no_questions",
    "malformed": "invalid_json",
    "fabricated": "quote_not_found",
    "short": "quote_not_found",
    "elsewhere": "quote_from_elsewhere",
    "number": "unsupported_entity",
    "unanswerable": "unanswerable",
    "copy": "copies_source",
}


def _documents(root: Path) -> Path:
    """A handbook of twelve sections, one chunk each, every one with its own facts."""
    parts = ["# Regional rail handbook\n"]
    for i, town in enumerate(TOWNS):
        parts.append(
            f"## {town} station\n\n"
            f"The station at {town} opened in {1840 + 3 * i} with {2 + i % 4} platforms. "
            f"Trains to the coast leave every {15 + i} minutes during the morning peak. "
            f"A footbridge built by {town} masons joins the northern and southern platforms. "
            f"The ticket hall keeps a small archive of timetables printed since {1900 + i}.\n"
        )
    doc = root / "handbook.md"
    doc.write_text("\n".join(parts), encoding="utf-8")
    return doc


def _seeds(root: Path) -> Path:
    rows = [
        {
            "instruction": "When did the station at Ashford open?",
            "output": "It opened in 1840.",
            "quotes": ["The station at Ashford opened in 1840 with 2 platforms."],
        },
        {
            "instruction": "How often do morning trains to the coast leave Ashford?",
            "output": "Every 15 minutes in the morning peak.",
            "quotes": ["Trains to the coast leave every 15 minutes during the morning"],
        },
    ]
    path = root / "seeds.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _args(root: Path, base_url: str, n: int, *extra: str) -> list[str]:
    seeds, doc = _seeds(root), _documents(root)
    return [
        *expand_args(seeds, root / "out.jsonl", base_url, "-n", str(n), "--per-call", "3"),
        *("--documents", str(doc), "--concurrency", "2", *extra),
    ]


def test_every_fault_ends_under_its_reason_and_what_is_kept_holds(
    standin: StandinHandle, tmp_path: Path
) -> None:
    standin.set_faults(grounded_faults=list(FAULTS))
    args = _args(tmp_path, standin.base_url, 30)  # enough calls to visit every chunk
    first = run([*args, "--json"])
    assert first.code == 0, first.stderr
    out = tmp_path / "out.jsonl"
    recs = read_jsonl(out)
    assert len(recs) == 30 and len({r["id"] for r in recs}) == 30
    drops = read_jsonl(tmp_path / "out.ledger.jsonl")
    reasons = {d["dropped"]["reason"] for d in drops}
    assert set(REASONS.values()) <= reasons, reasons
    assert any(d["dropped"]["detail"].startswith("too short") for d in drops)
    store = tmp_path / "out.jsonl.documents"
    for r in recs:
        src, evidence = r["provenance"]["source"], r["provenance"]["evidence"]
        text = (store / f"{src['text_sha256']}.txt").read_text(encoding="utf-8")
        start, end = src["chunk_span"]
        chunk = text[start:end]
        assert sha256_hex(chunk) == src["chunk_sha256"]
        assert src["document"].endswith("handbook.md") and src["parser"] == "markdown"
        assert 1 <= len(evidence) <= 3
        for ev in evidence:
            assert start <= ev["start"] < ev["end"] <= end
            assert normalise(ev["quote"]).text in normalise(chunk).text  # in ITS chunk
            assert text[ev["start"] : ev["end"]] == ev["quote"] and ev["match"] == "exact"
    verified = run(["verify", str(out)])
    assert verified.code == 0, verified.stdout + verified.stderr
    # A rerun replays every answer from the cache and writes the same bytes.
    before = out.read_bytes()
    sent = standin.stats()["requests_total"]
    again = run([*args, "--json"])
    assert again.code == 0 and out.read_bytes() == before
    assert standin.stats()["requests_total"] == sent


def test_verify_names_the_record_whose_span_does_not_hold(
    standin: StandinHandle, tmp_path: Path
) -> None:
    assert run(_args(tmp_path, standin.base_url, 3)).code == 0
    out = tmp_path / "out.jsonl"
    recs = read_jsonl(out)
    recs[1]["provenance"]["evidence"][0]["start"] += 1
    out.write_text("".join(json.dumps(r) + "\n" for r in recs), encoding="utf-8")
    got = run(["verify", str(out)])
    assert got.code == 1
    assert f"record {recs[1]['id']}" in got.stdout + got.stderr
    assert recs[0]["id"] not in got.stdout + got.stderr


def test_kill_9_then_rerun_repays_nothing(standin: StandinHandle, tmp_path: Path) -> None:
    # The stand-in answers 10 requests and holds the next: the kill lands mid-run on an
    # event (every answer given is cached), not after a sleep. The judge's verdicts too.
    standin.reset()
    standin.set_faults(hold_after=10, grounded_faults=list(FAULTS))
    args = _args(tmp_path, standin.base_url, 16, "--verdict-model", "judge-x")
    try:
        proc = spawn(args, tmp_path)

        def held_or_ended() -> bool:
            return bool(standin.stats()["held"]) or proc.poll() is not None

        try:
            wait_until(held_or_ended, timeout=60, what="the 11th request to be held")
        finally:
            proc.kill()
            _, err = proc.communicate(timeout=30)
    finally:
        standin.set_faults(hold_after=None)
    assert proc.returncode == -signal.SIGKILL, f"the run ended before the kill:\n{err}"
    assert not (tmp_path / "out.jsonl").exists(), "killed before it finished"
    first_log = standin_log(standin)
    received = received_seqs(tmp_path / ".synthgen")
    assert received
    body_of = {e["seq"]: e["body_sha256"] for e in first_log if e["status"] == 200}
    paid = {body_of[s] for s in received}
    again = run([*args, "--json"])
    assert again.code == 0, again.stderr
    assert len(read_jsonl(tmp_path / "out.jsonl")) == 16
    later = [e for e in standin_log(standin) if e["seq"] > max(e["seq"] for e in first_log)]
    assert not {e["body_sha256"] for e in later} & paid


def test_multi_hop_questions_rest_on_two_chunks_of_one_document(
    standin: StandinHandle, tmp_path: Path
) -> None:
    cfg = tmp_path / "grounding.yaml"
    cfg.write_text("grounding:\n  hops: 2\n", encoding="utf-8")
    got = run([*_args(tmp_path, standin.base_url, 4), "--config", str(cfg)])
    assert got.code == 0, got.stderr
    for r in read_jsonl(tmp_path / "out.jsonl"):
        src = r["provenance"]["source"]
        assert src["hop"]["chunk_id"] != src["chunk_id"]
        spans = [src["chunk_span"], src["hop"]["chunk_span"]]
        for ev in r["provenance"]["evidence"]:
            assert any(s <= ev["start"] < ev["end"] <= e for s, e in spans)
    assert run(["verify", str(tmp_path / "out.jsonl")]).code == 0


def _run_config(root: Path, n: int, extra: str = "") -> Path:
    _seeds(root)
    _documents(root)
    cfg = root / "grounded.yaml"
    cfg.write_text(
        "task: rail-qa\nseeds: [seeds.jsonl]\ndocuments: [handbook.md]\n"
        "endpoint: {model: standin-fake, concurrency: 2}\n"
        "generation: {strategy: grounded, per_call: 3, seed: 5}\n"
        f"target: {{count: {n}}}\nfilter: {{judge: {{enabled: false}}}}\n"
        # exact dedup: the handbook's sections are alike by design, word for word
        "dedup: {method: exact}\noutputs: {dir: out, formats: []}\nstate_dir: .sg\n" + extra,
        encoding="utf-8",
    )
    return cfg


def test_run_spreads_over_chunks_reports_coverage_and_verifies(
    standin: StandinHandle, tmp_path: Path
) -> None:
    standin.set_faults(grounded_faults=list(FAULTS))
    cfg = _run_config(tmp_path, 20)
    got = run(["run", str(cfg), "--base-url", standin.base_url, "--json"])
    assert got.code == 0, got.stderr
    run_dir = tmp_path / "out"
    recs = read_jsonl(run_dir / "data.jsonl")
    assert len(recs) == 20
    cov = got.json()["coverage"]
    assert cov["chunks"] == 12  # the title joins the first station's chunk
    # Round robin, fewest kept first: no chunk gets far ahead; the chunks whose every reply
    # is empty or malformed yield none, and are the ones listed as yielding nothing.
    kept = {c["chunk_id"]: c["kept"] for c in cov["per_chunk"]}
    assert cov["empty_chunks"] == [c for c, k in kept.items() if not k]
    assert len(cov["empty_chunks"]) == 4 and max(kept.values()) <= 3
    assert cov["chunk_coverage"] == round(8 / 12, 4) and 0 < cov["evidence_coverage"] < 1
    empty = {c["chunk_id"]: c["dropped"] for c in cov["per_chunk"] if not c["kept"]}
    assert {r for d in empty.values() for r in d} == {"no_questions", "invalid_json"}
    assert cov["documents"][0]["kept"] == 20
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert any(name.startswith("documents/") for name in manifest["files"])
    assert run(["verify", str(run_dir)]).code == 0
    reported = run(["report", str(run_dir), "--json"])  # every chunk, from the run dir alone
    assert reported.code == 0, reported.stderr
    assert reported.json()["grounding"]["empty_chunks"] == cov["empty_chunks"]
    assert reported.json()["grounding"]["per_chunk"] == cov["per_chunk"]
    before = (run_dir / "data.jsonl").read_bytes()
    again = run(["run", str(cfg), "--base-url", standin.base_url, "--offline"])
    assert again.code == 0, again.stderr
    assert (run_dir / "data.jsonl").read_bytes() == before


def test_chunk_coverage_gate_stops_with_3(standin: StandinHandle, tmp_path: Path) -> None:
    standin.set_faults(grounded_faults=list(FAULTS))
    cfg = _run_config(tmp_path, 4, "grounding: {min_chunk_coverage: 0.9}\n")
    got = run(["run", str(cfg), "--base-url", standin.base_url, "--json"])
    assert got.code == 3, got.stderr
    assert "min_chunk_coverage" in got.stderr


def test_dry_run_shows_a_grounded_prompt_and_sends_nothing(tmp_path: Path) -> None:
    args = [*_args(tmp_path, "http://127.0.0.1:9/v1", 6), "--dry-run"]
    got = run(args)
    assert got.code == 0, got.stderr
    assert '<chunk id="' in got.stderr and "shape, not facts" in got.stderr
    assert not (tmp_path / "out.jsonl").exists()


def _verdict_models(standin: StandinHandle) -> set[str]:
    """The models the stand-in answered a grounded verdict's request as."""
    log = standin_log(standin)
    return {e["model"] for e in log if e.get("schema") == "grounded_verdict"}


def test_expand_asks_the_verdict_of_verdict_model_never_the_generator(
    standin: StandinHandle, tmp_path: Path
) -> None:
    got = run([*_args(tmp_path, standin.base_url, 4), "--verdict-model", "judge-x"])
    assert got.code == 0, got.stderr
    assert _verdict_models(standin) == {"judge-x"}  # calibration and verdicts alike
    for r in read_jsonl(tmp_path / "out.jsonl"):
        said = r["provenance"]["grounded_verdict"]
        assert said["model"] == "judge-x" and said["supported"] and not said["contradicts"]
    standin.reset()
    plain = tmp_path / "plain"
    plain.mkdir()
    got = run(_args(plain, standin.base_url, 4))  # no --verdict-model: no verdict at all
    assert got.code == 0, got.stderr
    assert "not asked" in got.stderr and _verdict_models(standin) == set()
    assert all("grounded_verdict" not in r["provenance"] for r in read_jsonl(plain / "out.jsonl"))


def test_run_asks_the_verdict_of_its_judge(standin: StandinHandle, tmp_path: Path) -> None:
    cfg = _run_config(tmp_path, 4)
    text = cfg.read_text(encoding="utf-8")
    cfg.write_text(
        text.replace("{judge: {enabled: false}}", "{judge: {models: [judge-x], threshold: 1}}"),
        encoding="utf-8",
    )
    got = run(["run", str(cfg), "--base-url", standin.base_url])
    assert got.code == 0, got.stderr
    assert _verdict_models(standin) == {"judge-x"}
    recs = read_jsonl(tmp_path / "out" / "data.jsonl")
    assert len(recs) == 4
    assert {r["provenance"]["grounded_verdict"]["model"] for r in recs} == {"judge-x"}


def test_k_responses_to_a_grounded_question_are_each_checked_then_paired(
    standin: StandinHandle, tmp_path: Path
) -> None:
    standin.set_faults(judge_score_by_length=20)  # a pair needs a margin between its answers
    args = _args(tmp_path, standin.base_url, 4, "--responses-per-instruction", "2")
    got = run([*args, "--verdict-model", "judge-x", "--json"])
    assert got.code == 0, got.stderr
    out, store = tmp_path / "out.jsonl", tmp_path / "out.jsonl.documents"
    recs = read_jsonl(out)
    assert len(recs) == 4
    asked = [e for e in standin_log(standin) if e.get("schema") == "grounded_response"]
    assert len(asked) >= 4  # response 2 of each kept question, asked on its own
    for r in recs:
        src = r["provenance"]["source"]
        text = (store / f"{src['text_sha256']}.txt").read_text(encoding="utf-8")
        start, end = src["chunk_span"]
        assert len(r["responses"]) == 2 and r["output"] == r["responses"][0]["output"]
        for resp in r["responses"]:  # every response's quotes, in ITS chunk at their spans
            assert resp["evidence"]
            for ev in resp["evidence"]:
                assert start <= ev["start"] < ev["end"] <= end
                assert text[ev["start"] : ev["end"]] == ev["quote"]
    # the verdict asked of every answer, both of each question
    verdicts = [e for e in standin_log(standin) if e.get("schema") == "grounded_verdict"]
    assert len(verdicts) >= 2 * len(recs)
    assert run(["verify", str(out)]).code == 0
    kept = tmp_path / "pairs.jsonl"
    tampered = tmp_path / "tampered.jsonl"  # a second response's span that does not hold
    bad = [*recs]
    bad[0]["responses"][1]["evidence"][0]["start"] += 1
    tampered.write_text("".join(json.dumps(r) + "\n" for r in bad), encoding="utf-8")
    (tmp_path / "tampered.jsonl.documents").symlink_to(store)
    assert run(["verify", str(tampered)]).code == 1
    filtered = run(["filter", str(out), "-o", str(kept), "--base-url", standin.base_url,
                    "--model", "standin-fake", "--state-dir", str(tmp_path / ".synthgen"),
                    "--threshold", "1", "--json"])  # fmt: skip
    assert filtered.code == 0, filtered.stderr
    counts = filtered.json()["counts"]
    # which pairs keep a margin depends on the stand-in's lengths; each is decided either way
    assert counts["pairs"] == 4 and counts["kept"] + counts["dropped_total"] == 4
    for p in read_jsonl(kept):
        assert p["chosen"] in {x["output"] for x in p["responses"]}

"""`synthgen filter` end to end: real openai SDK, real HTTP, the stand-in as judge."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest
from support.filter_fixtures import (
    alpaca_rows,
    counts_add_up,
    filter_args,
    synthgen_record,
    write_jsonl,
)
from support.helpers import expand_args, read_jsonl, run

from synthgen.standin import StandinHandle


def _filter(
    standin: StandinHandle, inp: Path, tmp: Path, *extra: str
) -> tuple[int, dict, list, list, str]:  # type: ignore[type-arg]
    out = tmp / "kept.jsonl"
    r = run(filter_args(inp, out, standin.base_url, "--json", *extra))
    assert "Traceback" not in r.stderr
    summary = r.json() if r.stdout.strip() else {}
    kept = read_jsonl(out) if out.exists() else []
    ledger_path = tmp / "kept.ledger.jsonl"
    ledger = read_jsonl(ledger_path) if ledger_path.exists() else []
    return r.code, summary, kept, ledger, r.stderr


def test_verdicts_go_into_provenance_of_kept_and_dropped(
    standin: StandinHandle, tmp_path: Path
) -> None:
    standin.set_faults(judge_score=5, judge_low_marker="LOWQ")
    inp = write_jsonl(tmp_path / "in.jsonl", alpaca_rows(24, marker_every=4))
    code, s, kept, ledger, _ = _filter(standin, inp, tmp_path)
    assert code == 0
    assert len(kept) == 18 and len(ledger) == 6
    assert all("LOWQ" not in k["output"] for k in kept)
    assert all("LOWQ" in e["output"] for e in ledger)
    counts_add_up(s, ledger, 18)
    assert s["counts"]["dropped"] == {"judge": {"below_threshold": 6}}
    for k in kept:
        j = k["provenance"]["judge"]
        assert j["models"] == ["standin-judge"] and j["score"] == 5 and j["passed"] is True
        assert j["scores"] == {"correctness": 5, "instruction_following": 5, "clarity": 5}
        assert j["rubric_sha256"] == s["judge"]["rubric_sha256"] and j["threshold"] == 3.5
        assert isinstance(j["rationale"], str) and isinstance(j["flags"], list)
        assert k["provenance"]["method"] == "imported"
    for e in ledger:
        assert (
            e["provenance"]["judge"]["score"] == 1 and e["provenance"]["judge"]["passed"] is False
        )
        assert e["dropped"]["detail"] == "score 1 < threshold 3.5"
    j = s["judge"]
    assert j["judged"] == 24 and j["passed"] == 18 and j["score_histogram"] == {"1": 6, "5": 18}
    assert j["mean_score"] == pytest.approx((18 * 5 + 6) / 24)
    # the stand-in is local and no --concurrency was given: the client chose a small default
    assert s["requests"]["sent"] == 24
    # the stand-in marks its answers, so they are known for placeholder text
    assert s["capabilities"]["standin-judge"] == {"concurrency": "4", "standin": "1"}
    manifest = json.loads((tmp_path / "kept.manifest.json").read_text())
    assert manifest["counts"] == s["counts"] and manifest["command"] == "filter"
    assert manifest["inputs"][0]["sha256"]
    # The order of the input is kept.
    assert [k["instruction"] for k in kept] == [
        r["instruction"] for i, r in enumerate(alpaca_rows(24)) if i % 4
    ]
    # A rerun replays every verdict from the cache.
    code, s2, kept2, _, _ = _filter(standin, inp, tmp_path)
    assert s2["requests"]["sent"] == 0 and s2["requests"]["cached"] == 24
    assert [k["id"] for k in kept2] == [k["id"] for k in kept]


@pytest.mark.parametrize(
    ("faults", "path", "fallbacks"),
    [
        ({}, "json_schema", []),
        ({"reject_json_schema": True}, "json_object", ["json_schema->json_object"]),
        (
            {"reject_json_schema": True, "reject_json_object": True},
            "prompted",
            ["json_object->prompted", "json_schema->json_object"],
        ),
    ],
)
def test_verdicts_parse_on_every_structured_output_path(
    standin: StandinHandle,
    tmp_path: Path,
    faults: dict,
    path: str,
    fallbacks: list,  # type: ignore[type-arg]
) -> None:
    standin.set_faults(judge_score=2, **faults)
    inp = write_jsonl(tmp_path / "in.jsonl", alpaca_rows(10))
    code, s, kept, ledger, _ = _filter(standin, inp, tmp_path, "--threshold", "2")
    assert code == 0
    assert len(kept) == 10 and s["judge"]["parse_failures"] == 0
    assert all(k["provenance"]["judge"]["score"] == 2 for k in kept)
    assert s["capabilities"]["standin-judge"].get("structured", "json_schema") == path
    # each verdict says which path it came back on, and the summary counts them
    assert {k["provenance"]["judge"]["structured"]["standin-judge"] for k in kept} == {path}
    assert s["judge"]["structured"] == {f"standin-judge: {path}": 10}
    assert s["requests"]["fallbacks"] == fallbacks
    code, s, kept, ledger, _ = _filter(standin, inp, tmp_path, "--threshold", "2.5")
    assert len(kept) == 0 and len(ledger) == 10


def test_unparseable_verdicts_are_ledgered_never_scored(
    standin: StandinHandle, tmp_path: Path
) -> None:
    standin.set_faults(p_malformed=1.0, fault_seed=5, judge_score=5)
    inp = write_jsonl(tmp_path / "in.jsonl", alpaca_rows(60))
    code, s, kept, ledger, _ = _filter(standin, inp, tmp_path)
    assert code == 0
    failures = [e for e in ledger if e["dropped"]["reason"] == "judge_parse_failure"]
    # Each reply is cut short with p = 0.4 (else fenced or chatty, which parses), so about
    # one record in six fails twice: 60 records without one would happen 3 times in 100000.
    assert failures, "some malformed verdicts survive even the repair"
    assert s["judge"]["parse_failures"] == len(failures)
    assert len(kept) + len(failures) == 60  # fenced or chatty JSON still parses
    for e in failures:
        assert e["dropped"]["stage"] == "judge"
        assert "after one repair" in e["dropped"]["detail"]
        assert e["raw"] and "judge" not in e["provenance"]
    assert 0 not in s["judge"]["score_histogram"]
    assert s["judge"]["judged"] == len(kept)
    # a reply cut short whose repair parsed is kept and marked repaired (about 14 of 60)
    repaired = sum(k["provenance"]["judge"]["repaired"] for k in kept)
    assert 0 < repaired < len(kept) and s["judge"]["repaired"] == repaired
    counts_add_up(s, ledger, len(kept))
    # Every failure was re-asked once: more requests than records.
    assert s["requests"]["sent"] > 60


def test_panel_takes_the_median_and_records_the_spread(
    standin: StandinHandle, tmp_path: Path
) -> None:
    inp = write_jsonl(tmp_path / "in.jsonl", alpaca_rows(20))
    models = ["judge-a", "judge-b", "judge-c"]
    code, s, kept, ledger, _ = _filter(
        standin, inp, tmp_path, *[x for m in models for x in ("--judge-model", m)]
    )
    assert code == 0 and s["judge"]["models"] == models
    assert s["requests"]["sent"] == 60  # each judge scores each record, cached per model
    spreads = []
    for rec in [*kept, *ledger]:
        j = rec["provenance"]["judge"]
        panel = j["panel"]
        assert [p["model"] for p in panel] == models
        assert j["score"] == statistics.median(p["score"] for p in panel)
        assert j["spread"] == max(p["score"] for p in panel) - min(p["score"] for p in panel)
        assert j["passed"] == (j["score"] >= 3.5)
        for crit, value in j["scores"].items():
            assert value == statistics.median(p["scores"][crit] for p in panel)
        spreads.append(j["spread"])
    assert max(spreads) > 0, "the three stand-in judges disagree somewhere"
    assert len(kept) == sum(1 for k in kept if k["provenance"]["judge"]["passed"])
    assert s["judge"]["panel_spread_max"] == max(spreads)
    counts_add_up(s, ledger, len(kept))


def test_same_family_judge_is_warned_and_recorded(
    standin: StandinHandle, triage_seeds: Path, tmp_path: Path
) -> None:
    raw = tmp_path / "raw.jsonl"
    gen = expand_args(triage_seeds, raw, standin.base_url, "-n", "10")
    gen[gen.index("--model") + 1] = "gpt-4o-mini"
    assert run(gen).code == 0
    code, s, _, _, err = _filter(standin, raw, tmp_path, "--judge-model", "gpt-4o")
    assert code == 0
    assert "warning: judge gpt-4o and generator gpt-4o-mini are the same family (gpt-4o)" in err
    assert s["judge"]["independence"] == [
        {
            "judge": "gpt-4o",
            "generator": "gpt-4o-mini",
            "relation": "same_family",
            "family": "gpt-4o",
        }
    ]
    manifest = json.loads((tmp_path / "kept.manifest.json").read_text())
    assert manifest["judge"]["independence"] == s["judge"]["independence"]
    assert any("same family" in w for w in manifest["warnings"])
    code, s, _, _, err = _filter(standin, raw, tmp_path, "--judge-model", "llama-3.1-70b")
    assert s["judge"]["independence"] == [] and "same family" not in err


def test_calibration_on_seeds_stops_with_3_before_judging(
    standin: StandinHandle, triage_seeds: Path, tmp_path: Path
) -> None:
    inp = write_jsonl(tmp_path / "in.jsonl", alpaca_rows(30))
    standin.set_faults(judge_score=2)
    code, s, kept, ledger, err = _filter(standin, inp, tmp_path, "--seeds", str(triage_seeds))
    n_seeds = len(triage_seeds.read_text().splitlines())
    assert code == 3
    assert f"the judge failed {n_seeds} of {n_seeds} human seeds" in err
    assert "cannot be trusted" in err and "no candidate was judged" in err
    assert s["status"] == "stopped_calibration"
    assert s["judge"]["seeds"]["pass_rate"] == 0 and s["judge"]["seeds"]["trusted"] is False
    assert s["counts"]["input"] == 0 and kept == [] and ledger == []
    log = standin.stats()["log"]
    chats = [e for e in log if e["path"] == "/v1/chat/completions"]  # type: ignore[union-attr]
    assert len(chats) == n_seeds  # the seeds, nothing else (besides the GET /props probe)
    # At a threshold the seeds pass, the judge goes on to the candidates; the seeds'
    # verdicts come from the cache.
    code, s, kept, _, err = _filter(
        standin, inp, tmp_path, "--seeds", str(triage_seeds), "--threshold", "2"
    )
    assert code == 0 and len(kept) == 30
    assert s["judge"]["seeds"]["pass_rate"] == 1.0 and "passed" in err
    assert s["requests"] == {**s["requests"], "sent": 30, "cached": n_seeds}


def test_anchors_agreement_and_grounding(standin: StandinHandle, tmp_path: Path) -> None:
    standin.set_faults(judge_score=5, judge_low_marker="LOWQ")
    anchors = tmp_path / "anchors.jsonl"
    lines = [
        {**r, "id": f"a{i}", "verdict": "reject" if "LOWQ" in r["output"] else "accept"}
        for i, r in enumerate(alpaca_rows(12, marker_every=3))
    ]
    write_jsonl(anchors, lines)
    facts = tmp_path / "facts.txt"
    facts.write_text("Refunds are paid within five working days.\n")
    inp = write_jsonl(tmp_path / "in.jsonl", alpaca_rows(6))
    code, s, kept, _, _ = _filter(
        standin, inp, tmp_path, "--anchors", str(anchors), "--reference", str(facts)
    )
    assert code == 0
    a = s["judge"]["anchors"]
    assert a["n"] == 12 and a["kappa_quadratic"] == 1.0 and a["spearman"] == 1.0
    assert s["judge"]["grounded"] is True
    assert all(len(k["provenance"]["judge"]["reference_sha256"]) == 64 for k in kept)


def test_length_bias_is_flagged(standin: StandinHandle, tmp_path: Path) -> None:
    rows = [
        {
            "instruction": f"Describe topic number {i} for a new reader.",
            "output": "word " * (3 + i * 4),
        }
        for i in range(20)
    ]
    inp = write_jsonl(tmp_path / "in.jsonl", rows)
    standin.set_faults(judge_score_by_length=100)
    code, s, _, _, err = _filter(standin, inp, tmp_path)
    lb = s["judge"]["length_bias"]
    assert lb["flagged"] and lb["spearman"] > 0.9 and lb["n"] == 20
    assert "length bias" in err
    standin.set_faults(judge_score_by_length=None, judge_score=4)
    fresh = ("--state-dir", str(tmp_path / "fresh"))  # not the length-paying verdicts
    code, s, _, _, err = _filter(standin, inp, tmp_path, "--threshold", "4", *fresh)
    assert code == 0
    assert s["judge"]["length_bias"]["spearman"] is None and "length bias" not in err


def test_self_instruct_and_alpaca_files_from_shared_data(
    standin: StandinHandle, shared_data: Path, tmp_path: Path
) -> None:
    src = shared_data / "self-instruct" / "seed_tasks.jsonl"
    code, s, kept, ledger, _ = _filter(standin, src, tmp_path, "--concurrency", "32")
    assert code == 0
    tasks = [json.loads(x) for x in src.read_text().splitlines() if x.strip()]
    n = sum(len(t["instances"]) for t in tasks)
    assert s["counts"]["input"] == n
    counts_add_up(s, ledger, len(kept))
    assert s["counts"]["dropped"]["rules"]  # real data trips some rules (e.g. "file", "plot")
    assert kept and all(k["provenance"]["source"]["format"] == "self-instruct" for k in kept)
    # The same tasks as a plain alpaca JSON array.
    alpaca = [
        {"instruction": t["instruction"], "input": inst["input"], "output": inst["output"]}
        for t in tasks[:60]
        for inst in t["instances"][:1]
    ]
    arr = tmp_path / "alpaca.json"
    arr.write_text(json.dumps(alpaca))
    sub = tmp_path / "a"
    sub.mkdir()
    code, s, kept, ledger, _ = _filter(standin, arr, sub)
    assert code == 0 and s["counts"]["input"] == 60
    counts_add_up(s, ledger, len(kept))
    assert {k["provenance"]["source"]["format"] for k in kept} == {"alpaca"}


def test_empty_outputs_in_plain_files_are_ledgered_not_judged(
    standin: StandinHandle, tmp_path: Path
) -> None:
    standin.set_faults(judge_score=5)
    rows = alpaca_rows(4)
    rows[1]["output"], rows[3]["output"] = "", " \n "
    inp = write_jsonl(tmp_path / "in.jsonl", rows)
    code, s, kept, ledger, err = _filter(standin, inp, tmp_path)
    assert code == 0, err
    assert [e["dropped"]["reason"] for e in ledger] == ["empty_output", "empty_output"]
    assert [e["provenance"]["source"]["line"] for e in ledger] == [2, 4]
    assert len(kept) == 2 and s["requests"]["sent"] == 2  # no judge call for an empty output
    counts_add_up(s, ledger, 2)
    # An OpenAI messages file whose assistant turn is blank, too.
    chat = [
        {
            "messages": [
                {"role": "user", "content": r["instruction"]},
                {"role": "assistant", "content": o},
            ]
        }
        for r, o in zip(alpaca_rows(2), ["", "Step one, then step two."], strict=True)
    ]
    sub = tmp_path / "m"
    sub.mkdir()
    code, s, kept, ledger, err = _filter(standin, write_jsonl(sub / "chat.jsonl", chat), sub)
    assert code == 0, err
    assert [e["dropped"]["reason"] for e in ledger] == ["empty_output"] and len(kept) == 1
    counts_add_up(s, ledger, 1)


def test_token_budget_stops_with_3_then_resumes(standin: StandinHandle, tmp_path: Path) -> None:
    standin.set_faults(judge_score=4)
    inp = write_jsonl(tmp_path / "in.jsonl", alpaca_rows(30))
    # Each verdict reserves ~700 prompt + 800 max tokens.
    code, s, kept, _, err = _filter(
        standin, inp, tmp_path, "--max-tokens", "12000", "--concurrency", "1"
    )
    assert code == 3 and s["status"] == "stopped_budget" and "--max-tokens" in err
    assert 0 < len(kept) < 30 and s["counts"]["input"] == len(kept)
    code, s2, kept2, _, _ = _filter(standin, inp, tmp_path, "--max-tokens", "10000000")
    assert code == 0 and len(kept2) == 30 and s2["resumed"] is True
    assert s2["requests"]["cached"] >= s["requests"]["sent"]
    assert [k["id"] for k in kept2[: len(kept)]] == [k["id"] for k in kept]


def test_dry_run_sends_nothing(standin: StandinHandle, tmp_path: Path) -> None:
    rows = [*alpaca_rows(8), {"instruction": "Draw a map of the old town.", "output": "ok"}]
    inp = write_jsonl(tmp_path / "in.jsonl", rows)
    r = run(
        filter_args(
            inp,
            tmp_path / "k.jsonl",
            standin.base_url,
            "--dry-run",
            "--json",
            "--judge-model",
            "gpt-4o",
            "--judge-model",
            "gpt-4o-mini",
        )
    )
    assert r.code == 0, r.stderr
    p = r.json()
    assert p["input_records"] == 9 and p["to_judge"] == 8 and p["requests"] == 16
    assert p["dropped_by_rules"] == {"blacklisted_keyword": 1}
    assert p["cost_usd"] > 0 and p["prompt_tokens"] > 0
    # Every verdict request opens with the same system message: all but each judge's first
    # may be served it from the endpoint's prompt cache (priced at input when no cached_input).
    assert (
        p["shared_prefix_tokens"] > 0
        and p["cacheable_prompt_tokens"] == (16 - 2) * p["shared_prefix_tokens"]
    )
    assert p["cost_usd_prefix_cached"] == p["cost_usd"]
    assert standin.stats()["requests_total"] == 0
    assert not (tmp_path / "k.jsonl").exists()


def test_input_and_option_errors_exit_2(standin: StandinHandle, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"instruction": "Explain the refund policy now.", "output": "ok"}\n{"text": 1}\n'
    )
    r = run(filter_args(bad, tmp_path / "k.jsonl", standin.base_url))
    assert r.code == 2 and "bad.jsonl:2" in r.stderr and "Traceback" not in r.stderr
    good = write_jsonl(tmp_path / "in.jsonl", alpaca_rows(3))
    r = run(filter_args(good, tmp_path / "k.jsonl", standin.base_url, "--threshold", "9"))
    assert r.code == 2 and "outside the rubric's scale" in r.stderr
    r = run(
        filter_args(
            good, tmp_path / "k.jsonl", standin.base_url, "--no-judge", "--seeds", str(good)
        )
    )
    assert r.code == 2 and "need the judge" in r.stderr
    r = run(filter_args(tmp_path / "missing.jsonl", tmp_path / "k.jsonl", standin.base_url))
    assert r.code == 2 and "missing.jsonl" in r.stderr
    # The outputs may not overwrite the input, nor share one file.
    before = good.read_bytes()
    for extra in (
        ["-o", str(good)],
        ["--rejected", str(good)],
        ["--rejected", str(tmp_path / "k.jsonl")],
    ):
        args = filter_args(good, tmp_path / "k.jsonl", standin.base_url, "--no-judge")
        r = run([*args, *extra])
        assert r.code == 2 and "Traceback" not in r.stderr, (extra, r.stderr)
        assert "is the input file" in r.stderr or "are the same file" in r.stderr
    assert good.read_bytes() == before and not (tmp_path / "k.jsonl").exists()
    rec = synthgen_record("Explain the refund policy now.", "ok")
    rec["provenance"]["usage"] = "lots"
    write_jsonl(bad, [rec])
    r = run(filter_args(bad, tmp_path / "k.jsonl", standin.base_url))
    assert r.code == 2 and "bad.jsonl:1" in r.stderr and "usage" in r.stderr


def test_refused_judge_requests_are_ledgered(standin: StandinHandle, tmp_path: Path) -> None:
    standin.set_faults(p_400=0.5, fault_seed=2, judge_score=4)
    inp = write_jsonl(tmp_path / "in.jsonl", alpaca_rows(20))
    code, s, kept, ledger, _ = _filter(standin, inp, tmp_path)
    assert code == 0
    refused = [e for e in ledger if e["dropped"]["reason"] == "judge_request_rejected"]
    assert refused and s["judge"]["request_rejected"] == len(refused)
    assert all("maximum context length" in e["dropped"]["detail"] for e in refused)
    assert len(kept) + len(refused) == 20
    counts_add_up(s, ledger, len(kept))


def test_failing_endpoint_exits_1_and_resumes(standin: StandinHandle, tmp_path: Path) -> None:
    inp = write_jsonl(tmp_path / "in.jsonl", alpaca_rows(12))
    standin.set_faults(p_500=1.0, judge_score=4)
    code, s, kept, _, err = _filter(standin, inp, tmp_path, "--max-attempts", "2")
    assert code == 1 and s["status"] == "failed"
    assert "failed after retries" in err and "rerun" in err
    assert kept == [] and s["counts"]["input"] == 0
    standin.set_faults(p_500=0.0)
    code, s, kept, _, _ = _filter(standin, inp, tmp_path)
    assert code == 0 and len(kept) == 12 and s["resumed"] is True


def test_output_to_stdout(standin: StandinHandle, tmp_path: Path) -> None:
    standin.set_faults(judge_score=5, judge_low_marker="LOWQ")
    inp = write_jsonl(tmp_path / "in.jsonl", alpaca_rows(10, marker_every=2))
    args = filter_args(inp, tmp_path / "x", standin.base_url)
    args[args.index("-o") + 1] = "-"
    r = run(args)
    assert r.code == 0, r.stderr
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert len(lines) == 5 and all("LOWQ" not in x["output"] for x in lines)
    assert "5/10 kept" in r.stderr


def test_budget_stop_during_calibration_exits_3(
    standin: StandinHandle, triage_seeds: Path, tmp_path: Path
) -> None:
    standin.set_faults(judge_score=4)
    inp = write_jsonl(tmp_path / "in.jsonl", alpaca_rows(5))
    code, s, kept, _, err = _filter(
        standin, inp, tmp_path, "--seeds", str(triage_seeds), "--max-tokens", "3000"
    )
    assert code == 3 and s["status"] == "stopped_budget" and "--max-tokens" in err
    assert kept == [] and s["counts"]["input"] == 0
    code, s, kept, _, _ = _filter(standin, inp, tmp_path, "--seeds", str(triage_seeds))
    assert code == 0 and len(kept) == 5


def test_cached_prompt_tokens_are_recorded_and_priced(
    standin: StandinHandle, tmp_path: Path
) -> None:
    # The stand-in reports the prefix a prompt shares with recent ones as cached tokens.
    standin.set_faults(judge_score=5, prompt_cache=True)
    cfg = tmp_path / "prices.yaml"
    cfg.write_text("prices:\n  standin-judge: {input: 10.0, output: 10.0, cached_input: 1.0}\n")
    inp = write_jsonl(tmp_path / "in.jsonl", alpaca_rows(6))
    out = tmp_path / "kept.jsonl"
    r = run(filter_args(inp, out, standin.base_url, "--config", str(cfg), "--concurrency", "1"))
    assert r.code == 0, r.stderr
    manifest = json.loads((tmp_path / "kept.manifest.json").read_text())
    usage = manifest["usage"]
    cached, prompt = usage["cached_tokens"], usage["prompt_tokens"]
    # The first verdict request fills the cache; the five after it share its system message.
    assert 0 < cached < prompt
    paid = (prompt - cached) * 10.0 + cached * 1.0 + usage["completion_tokens"] * 10.0
    assert manifest["cost_usd"] == pytest.approx(paid / 1e6, rel=1e-6)
    assert f"{cached:,} prompt tokens from the endpoint's cache" in r.stderr

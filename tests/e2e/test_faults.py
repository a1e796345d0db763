"""Every fault the stand-in can emulate, through the real SDK and the expand command."""

from __future__ import annotations

from pathlib import Path

from support.helpers import expand_args, read_jsonl, run

from synthgen.standin import StandinHandle


def _expand(standin: StandinHandle, seeds: Path, tmp: Path, *extra: str) -> tuple[int, dict, list]:  # type: ignore[type-arg]
    out = tmp / "raw.jsonl"
    r = run(expand_args(seeds, out, standin.base_url, "--json", *extra))
    assert "Traceback" not in r.stderr
    summary = r.json() if r.stdout.strip() else {}
    return r.code, summary, read_jsonl(out) if out.exists() else []


def _ledger(tmp: Path) -> list[dict]:  # type: ignore[type-arg]
    path = tmp / "raw.ledger.jsonl"
    return read_jsonl(path) if path.exists() else []


def test_429_with_retry_after_is_retried(
    standin: StandinHandle, triage_seeds: Path, tmp_path: Path
) -> None:
    standin.set_faults(p_429=0.4, retry_after_s=0.02, fault_seed=3)
    code, s, recs = _expand(standin, triage_seeds, tmp_path, "-n", "40")
    assert code == 0 and len(recs) == 40
    assert s["requests"]["rate_limited"] > 0 and s["requests"]["retried"] > 0
    assert s["requests"]["failed"] == 0


def test_5xx_and_fail_first_are_retried(
    standin: StandinHandle, triage_seeds: Path, tmp_path: Path
) -> None:
    standin.set_faults(p_500=0.3, fail_first=3, fault_seed=1)
    code, s, recs = _expand(standin, triage_seeds, tmp_path, "-n", "30", "--concurrency", "2")
    assert code == 0 and len(recs) == 30
    assert s["requests"]["retried"] >= 3


def test_endpoint_that_keeps_failing_exits_1_with_reason(
    standin: StandinHandle, triage_seeds: Path, tmp_path: Path
) -> None:
    standin.set_faults(p_500=1.0)
    out = tmp_path / "raw.jsonl"
    r = run(
        expand_args(
            triage_seeds, out, standin.base_url, "-n", "10", "--max-attempts", "2", "--json"
        )
    )
    assert r.code == 1
    assert "requests in a row failed" in r.stderr and "rerun" in r.stderr
    assert r.json()["status"] == "failed"


def test_timeout_is_retried_then_succeeds(
    standin: StandinHandle, triage_seeds: Path, tmp_path: Path
) -> None:
    # Held for an hour (the stand-in stops with the test): every attempt times out however
    # loaded the machine is, not by a margin between two short durations.
    standin.set_faults(latency_s=3600.0)
    out = tmp_path / "raw.jsonl"
    args = expand_args(
        triage_seeds, out, standin.base_url, "-n", "5", "--max-attempts", "2", "--json"
    )
    r = run([*args, "--timeout", "0.5"])
    assert r.code == 1 and r.json()["requests"]["failed"] >= 1  # every attempt timed out
    assert r.json()["requests"]["retried"] >= 1
    standin.set_faults(latency_s=0.0)
    r = run(args)  # the default timeout: an answer from a loaded machine is never cut off
    assert r.code == 0 and len(read_jsonl(out)) == 5


def test_truncation_is_ledgered_never_kept(
    standin: StandinHandle, triage_seeds: Path, tmp_path: Path
) -> None:
    standin.set_faults(p_truncate=0.3, fault_seed=2)
    code, s, recs = _expand(standin, triage_seeds, tmp_path, "-n", "30")
    ledger = _ledger(tmp_path)
    assert code == 0 and len(recs) == 30
    truncated = [e for e in ledger if e["dropped"]["reason"] == "truncated"]
    assert truncated and s["counts"]["ledgered"]["truncated"] == len(truncated)
    assert all(e["raw"] and e["dropped"]["stage"] == "expand" for e in truncated)
    assert all(r["provenance"]["generator"]["finish_reason"] == "stop" for r in recs)


def test_malformed_json_is_repaired_once_or_ledgered(
    standin: StandinHandle, triage_seeds: Path, tmp_path: Path
) -> None:
    standin.set_faults(p_malformed=0.9, fault_seed=4)
    code, _, recs = _expand(standin, triage_seeds, tmp_path, "-n", "60", "--concurrency", "1")
    assert code == 0 and len(recs) == 60
    repaired = [r for r in recs if r["provenance"]["generator"]["repaired"]]
    ledger = [e for e in _ledger(tmp_path) if e["dropped"]["reason"] == "invalid_json"]
    assert repaired, "some malformed replies should have been fixed by the repair re-ask"
    assert ledger, "with p=0.9 some repairs fail too and must be ledgered with the raw text"
    assert all(e["raw"] for e in ledger)


def test_content_filter_is_ledgered(
    standin: StandinHandle, triage_seeds: Path, tmp_path: Path
) -> None:
    standin.set_faults(p_content_filter=0.3, fault_seed=5)
    code, s, recs = _expand(standin, triage_seeds, tmp_path, "-n", "20")
    assert code == 0 and len(recs) == 20
    assert s["counts"]["ledgered"].get("content_filter", 0) > 0


def test_ignored_n_falls_back_to_separate_requests(
    standin: StandinHandle, triage_seeds: Path, tmp_path: Path
) -> None:
    standin.set_faults(ignore_n=True)
    code, s, recs = _expand(
        standin,
        triage_seeds,
        tmp_path,
        "-n",
        "9",
        "--strategy",
        "evol",
        "--per-call",
        "3",
        "--concurrency",
        "1",
    )
    assert code == 0 and len(recs) == 9
    assert s["capabilities"]["n"] == "separate"
    assert "n_ignored" in s["requests"]["fallbacks"]
    samplings = {r["provenance"]["generator"]["sampling"] for r in recs}
    assert "separate" in samplings
    # Learned once: later jobs never ask for n > 1 again.
    log = standin.stats()["log"]
    assert sum(1 for e in log if (e["n"] or 1) > 1) == 1


def test_rejected_json_schema_falls_back_to_json_object(
    standin: StandinHandle, triage_seeds: Path, tmp_path: Path
) -> None:
    standin.set_faults(reject_json_schema=True)
    code, s, recs = _expand(standin, triage_seeds, tmp_path, "-n", "10", "--concurrency", "1")
    assert code == 0 and len(recs) == 10
    assert {r["provenance"]["generator"]["structured"] for r in recs} == {"json_object"}
    assert s["capabilities"]["structured"] == "json_object"


def test_rejected_json_object_too_falls_back_to_prompted(
    standin: StandinHandle, triage_seeds: Path, tmp_path: Path
) -> None:
    standin.set_faults(reject_json_schema=True, reject_json_object=True)
    code, s, recs = _expand(standin, triage_seeds, tmp_path, "-n", "10", "--concurrency", "1")
    assert code == 0 and len(recs) == 10
    assert {r["provenance"]["generator"]["structured"] for r in recs} == {"prompted"}
    assert s["requests"]["fallbacks"] == ["json_object->prompted", "json_schema->json_object"]


def test_emulated_rpm_limit_with_headers_loses_nothing(
    standin: StandinHandle, triage_seeds: Path, tmp_path: Path
) -> None:
    standin.set_faults(rpm_limit=600, ratelimit_headers=True)
    code, s, recs = _expand(standin, triage_seeds, tmp_path, "-n", "60", "--per-call", "2")
    assert code == 0 and len(recs) == 60 and s["requests"]["failed"] == 0


def test_wrong_api_key_is_a_usage_error(
    standin: StandinHandle, triage_seeds: Path, tmp_path: Path
) -> None:
    standin.set_faults(require_api_key="sk-right")
    out = tmp_path / "raw.jsonl"
    r = run(
        expand_args(triage_seeds, out, standin.base_url, "-n", "5"),
        env={"OPENAI_API_KEY": "sk-wrong"},
    )
    assert r.code == 2 and "rejected the API key" in r.stderr and "OPENAI_API_KEY" in r.stderr
    r = run(
        expand_args(triage_seeds, out, standin.base_url, "-n", "5"),
        env={"OPENAI_API_KEY": "sk-right"},
    )
    assert r.code == 0


def test_refused_request_is_ledgered_without_losing_structured_output(
    standin: StandinHandle, triage_seeds: Path, tmp_path: Path
) -> None:
    standin.set_faults(p_400=0.3, fault_seed=6)
    code, s, recs = _expand(standin, triage_seeds, tmp_path, "-n", "30")
    assert code == 0 and len(recs) == 30
    refused = [e for e in _ledger(tmp_path) if e["dropped"]["reason"] == "request_rejected"]
    assert refused and "context length" in refused[0]["dropped"]["detail"]
    # A 400 about length is not a verdict on json_schema: no fallback was learned.
    assert {r["provenance"]["generator"]["structured"] for r in recs} == {"json_schema"}
    assert "structured" not in s["capabilities"]

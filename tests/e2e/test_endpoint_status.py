"""An endpoint answering a status the client has no special policy for (here 413, as a proxy's
body-size limit does): real HTTP, the real openai SDK, the stand-in's `status_code` fault."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import httpx2
from support.filter_fixtures import alpaca_rows, counts_add_up, filter_args, write_jsonl
from support.helpers import Ran, expand_args, read_jsonl, run

from synthgen.standin import StandinHandle

MSG = "Request Entity Too Large (stand-in proxy limit 1 MB)"
REFUSAL = f"the endpoint answered HTTP 413: {MSG}"


def _no_traceback(r: Ran) -> None:
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout
    assert "APIStatusError" not in r.stderr


def _statuses(standin: StandinHandle) -> Counter[int]:
    log: Any = standin.stats()["log"]
    return Counter(int(e["status"]) for e in log if e["path"] == "/v1/chat/completions")


def test_standin_status_fault_answers_every_kth_request(standin: StandinHandle) -> None:
    standin.set_faults(status_code=413, status_every=3, status_message=MSG)
    with httpx2.Client(base_url=standin.base_url) as http:
        body = {"model": "standin-fake", "messages": [{"role": "user", "content": "hi"}]}
        answers = [http.post("/chat/completions", json=body) for _ in range(6)]
    assert [a.status_code for a in answers] == [200, 200, 413, 200, 200, 413]
    error = answers[2].json()["error"]
    assert error["message"] == MSG and error["type"] == "invalid_request_error"


def test_standin_status_fault_by_probability_is_seeded(standin: StandinHandle) -> None:
    standin.set_faults(status_code=451, p_status=0.5, fault_seed=7)
    body = {"model": "standin-fake", "messages": [{"role": "user", "content": "hi"}]}
    runs = []
    for _ in range(2):
        standin.reset()
        with httpx2.Client(base_url=standin.base_url) as http:
            runs.append([http.post("/chat/completions", json=body).status_code for _ in range(20)])
    assert runs[0] == runs[1] and set(runs[0]) == {200, 451}
    standin.set_faults(status_code=None)
    with httpx2.Client(base_url=standin.base_url) as http:
        assert http.post("/chat/completions", json=body).status_code == 200


def test_expand_against_an_endpoint_refusing_everything_exits_1_and_says_why(
    standin: StandinHandle, triage_seeds: Path, tmp_path: Path
) -> None:
    standin.set_faults(status_code=413, status_message=MSG)
    out = tmp_path / "raw.jsonl"
    r = run(expand_args(triage_seeds, out, standin.base_url, "-n", "6", "--json"))
    _no_traceback(r)
    assert r.code == 1
    assert any("413" in line and MSG in line for line in r.stderr.splitlines()), r.stderr
    summary = r.json()  # the JSON summary is still printed
    ledger = read_jsonl(tmp_path / "raw.ledger.jsonl")
    refused = _statuses(standin)[413]
    assert refused == sum(_statuses(standin).values()) > 0
    assert summary["counts"]["written"] == 0 and not (out.exists() and read_jsonl(out))
    assert (
        summary["counts"]["ledgered"]
        == {"request_rejected": refused}
        == {"request_rejected": len(ledger)}
    )
    assert {e["dropped"]["detail"] for e in ledger} == {REFUSAL}
    assert summary["requests"]["sent"] == refused and summary["requests"]["retried"] == 0


def test_expand_with_a_third_refused_ledgers_them_and_completes(
    standin: StandinHandle, triage_seeds: Path, tmp_path: Path
) -> None:
    standin.set_faults(status_code=413, status_every=3, status_message=MSG)
    out = tmp_path / "raw.jsonl"
    # 12 records at 5 a call: requests 1, 2 and 4 answer, 3 is refused; all four are needed,
    # so none is left in flight uncommitted when the target is reached.
    args = ["-n", "12", "--per-call", "5", "--concurrency", "1", "--json"]
    r = run(expand_args(triage_seeds, out, standin.base_url, *args))
    _no_traceback(r)
    assert r.code == 0, r.stderr
    summary, records = r.json(), read_jsonl(out)
    ledger = read_jsonl(tmp_path / "raw.ledger.jsonl")
    statuses = _statuses(standin)
    # Every 3rd request was refused, none was retried, and each refusal is one ledger entry.
    assert statuses[413] == sum(statuses.values()) // 3 >= 1
    assert summary["requests"]["sent"] == sum(statuses.values())
    assert summary["requests"]["retried"] == 0 and summary["requests"]["failed"] == 0
    refused = [e for e in ledger if e["dropped"]["reason"] == "request_rejected"]
    assert len(refused) == statuses[413], "a refused request was left uncommitted"
    assert all(
        e["dropped"] == {"stage": "expand", "reason": "request_rejected", "detail": REFUSAL}
        for e in refused
    )
    # Written and ledgered add up: in the files, and against the answered requests.
    counts = summary["counts"]
    assert counts["written"] == len(records) == 12
    assert counts["ledgered"] == dict(Counter(e["dropped"]["reason"] for e in ledger))
    other_drops = len(ledger) - len(refused)
    assert counts["written"] + counts["surplus"] + other_drops == 5 * statuses[200]


def _filter(standin: StandinHandle, tmp: Path, rows: int) -> tuple[Ran, list[Any], list[Any]]:
    inp = write_jsonl(tmp / "in.jsonl", alpaca_rows(rows))
    out = tmp / "kept.jsonl"
    r = run(filter_args(inp, out, standin.base_url, "--json", "--concurrency", "1"))
    _no_traceback(r)
    kept = read_jsonl(out) if out.exists() else []
    ledger_path = tmp / "kept.ledger.jsonl"
    return r, kept, read_jsonl(ledger_path) if ledger_path.exists() else []


def test_filter_against_an_endpoint_refusing_every_judge_request(
    standin: StandinHandle, tmp_path: Path
) -> None:
    standin.set_faults(status_code=413, status_message=MSG)
    r, kept, ledger = _filter(standin, tmp_path, 6)
    summary = r.json()  # the JSON summary is still printed
    # The client turns each 413 into a refusal the judge ledgers with what the endpoint said;
    # a run where the endpoint refused every judge request exits 1 and says what it answered.
    assert r.code == 1 and summary["status"] == "exhausted"
    assert "every judge request was refused (6)" in r.stderr and REFUSAL in r.stderr
    assert "Traceback" not in r.stderr + r.stdout
    assert kept == [] and len(ledger) == 6 == _statuses(standin)[413]
    assert {e["dropped"]["reason"] for e in ledger} == {"judge_request_rejected"}
    assert {e["dropped"]["detail"] for e in ledger} == {f"standin-judge: {REFUSAL}"}
    counts_add_up(summary, ledger, 0)
    assert summary["judge"]["request_rejected"] == 6 and summary["requests"]["retried"] == 0


def test_filter_with_a_third_refused_ledgers_them_and_judges_the_rest(
    standin: StandinHandle, tmp_path: Path
) -> None:
    standin.set_faults(status_code=413, status_every=3, status_message=MSG, judge_score=5)
    r, kept, ledger = _filter(standin, tmp_path, 9)
    assert r.code == 0, r.stderr
    summary = r.json()
    assert _statuses(standin) == {200: 6, 413: 3}
    assert len(kept) == 6 and len(ledger) == 3
    assert all(
        e["dropped"]
        == {
            "stage": "judge",
            "reason": "judge_request_rejected",
            "detail": f"standin-judge: {REFUSAL}",
        }
        for e in ledger
    )
    counts_add_up(summary, ledger, 6)
    assert summary["judge"]["judged"] == 6 and summary["judge"]["request_rejected"] == 3

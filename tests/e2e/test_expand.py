"""`synthgen expand` end to end: real openai SDK, real HTTP, the stand-in endpoint."""

from __future__ import annotations

import json
from pathlib import Path

from support.helpers import expand_args, read_jsonl, run

from synthgen.records import record_id
from synthgen.standin import StandinHandle


def test_expand_writes_exact_count_with_provenance(
    standin: StandinHandle, triage_seeds: Path, tmp_path: Path
) -> None:
    out = tmp_path / "raw.jsonl"
    r = run(expand_args(triage_seeds, out, standin.base_url, "-n", "23", "--json"))
    assert r.code == 0, r.stderr
    summary = r.json()
    recs = read_jsonl(out)
    assert len(recs) == 23 and summary["counts"]["written"] == 23
    assert len({x["id"] for x in recs}) == 23
    for x in recs:
        assert x["id"] == record_id(x["instruction"], x["input"], x["output"])
        p = x["provenance"]
        assert p["method"] == "self-instruct"
        assert p["run_id"] == summary["run_id"]
        assert all(ref.startswith("seed:ticket_") for ref in p["parents"])
        assert len(p["parents"]) == 3
        assert p["prompt"]["template"] == "self_instruct"
        assert len(p["prompt"]["template_sha256"]) == 64
        g = p["generator"]
        assert g["model"] == "standin-fake"
        assert g["resolved_model"] == "standin-fake-standin-0001"
        assert g["endpoint"].startswith("127.0.0.1:")
        assert g["structured"] == "json_schema"
        assert g["finish_reason"] == "stop"
        assert g["request_id"].startswith("req_standin_")
        assert g["params"]["temperature"] == 1.0
        assert p["usage"]["prompt_tokens"] > 0
    # 23 records at 5 per call: 5 calls; nothing more was paid for.
    assert summary["requests"]["sent"] == 5
    assert summary["counts"]["surplus"] == 2
    manifest = json.loads((tmp_path / "raw.manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert manifest["counts"]["written"] == 23
    assert manifest["inputs"][0]["sha256"]
    assert not (tmp_path / "raw.jsonl.partial").exists()


def test_rerun_of_finished_job_changes_nothing(
    standin: StandinHandle, triage_seeds: Path, tmp_path: Path
) -> None:
    out = tmp_path / "raw.jsonl"
    args = expand_args(triage_seeds, out, standin.base_url, "-n", "30", "--json")
    first = run(args)
    before = out.read_bytes()
    sent = standin.stats()["requests_total"]
    second = run(args)
    assert second.code == 0 and second.json()["requests"]["sent"] == 0
    assert out.read_bytes() == before
    # Lost the output? The same command rebuilds it from the cache, record for record.
    out.unlink()
    third = run(args)
    assert third.json()["requests"]["sent"] == 0
    assert third.json()["requests"]["cached"] == first.json()["requests"]["sent"]
    assert standin.stats()["requests_total"] == sent
    ids = [x["id"] for x in read_jsonl(out)]
    assert ids == [json.loads(line)["id"] for line in before.decode().splitlines()]
    # A smaller -n keeps exactly the first records.
    run(expand_args(triage_seeds, out, standin.base_url, "-n", "12"))
    assert [x["id"] for x in read_jsonl(out)] == ids[:12]


def test_larger_count_extends_without_repaying(
    standin: StandinHandle, triage_seeds: Path, tmp_path: Path
) -> None:
    out = tmp_path / "raw.jsonl"
    run(expand_args(triage_seeds, out, standin.base_url, "-n", "20"))
    first_ids = [x["id"] for x in read_jsonl(out)]
    r = run(expand_args(triage_seeds, out, standin.base_url, "-n", "40", "--json"))
    ids = [x["id"] for x in read_jsonl(out)]
    assert ids[:20] == first_ids and len(set(ids)) == 40
    assert r.json()["requests"]["cached"] == 4 and r.json()["requests"]["sent"] == 4


def test_stdout_output(standin: StandinHandle, triage_seeds: Path, tmp_path: Path) -> None:
    args = expand_args(triage_seeds, tmp_path / "x", standin.base_url, "-n", "7")
    args[args.index("-o") + 1] = "-"
    r = run(args)
    assert r.code == 0, r.stderr
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert len(lines) == 7 and all(x["id"].startswith("sg_") for x in lines)
    assert "7/7 records" in r.stderr


def test_evol_strategy_uses_n_and_operators(
    standin: StandinHandle, triage_seeds: Path, tmp_path: Path
) -> None:
    out = tmp_path / "evol.jsonl"
    r = run(
        expand_args(
            triage_seeds,
            out,
            standin.base_url,
            "-n",
            "12",
            "--strategy",
            "evol",
            "--per-call",
            "3",
            "--json",
        )
    )
    assert r.code == 0, r.stderr
    recs = read_jsonl(out)
    ledger = read_jsonl(tmp_path / "evol.ledger.jsonl")
    assert len(recs) == 12
    assert {x["provenance"]["method"] for x in recs} == {"evol"}
    ops = {x["provenance"]["operator"] for x in recs}
    assert ops and ops <= {
        "add_constraints",
        "deepen",
        "concretize",
        "increase_reasoning",
        "complicate_input",
        "breadth",
    }
    assert all(x["provenance"]["generator"]["sampling"] == "n" for x in recs)
    assert all(x["provenance"]["prompt"]["template"].startswith("evol:") for x in recs)
    assert r.json()["counts"]["ledgered"] == _reasons(ledger)


def test_paraphrase_keeps_one_parent(
    standin: StandinHandle, triage_seeds: Path, tmp_path: Path
) -> None:
    out = tmp_path / "p.jsonl"
    r = run(
        expand_args(
            triage_seeds,
            out,
            standin.base_url,
            "-n",
            "6",
            "--strategy",
            "paraphrase",
            "--per-call",
            "2",
        )
    )
    assert r.code == 0, r.stderr
    recs = read_jsonl(out)
    assert len(recs) == 6
    # Job j paraphrases seed j (round robin): two variations each of the first three seeds.
    parents = [x["provenance"]["parents"] for x in recs]
    assert parents == [["seed:ticket_01"]] * 2 + [["seed:ticket_02"]] * 2 + [["seed:ticket_03"]] * 2
    assert {x["provenance"]["prompt"]["template"] for x in recs} == {"paraphrase"}


def test_separate_response_calls(
    standin: StandinHandle, triage_seeds: Path, tmp_path: Path
) -> None:
    out = tmp_path / "s.jsonl"
    r = run(
        expand_args(
            triage_seeds,
            out,
            standin.base_url,
            "-n",
            "6",
            "--per-call",
            "3",
            "--responses",
            "separate",
            "--json",
        )
    )
    assert r.code == 0, r.stderr
    recs = read_jsonl(out)
    assert len(recs) == 6
    for x in recs:
        rg = x["provenance"]["response_generator"]
        assert rg["structured"] == "none" and rg["finish_reason"] == "stop"
        assert x["output"]
    # 2 instruction calls + 6 response calls.
    assert r.json()["requests"]["sent"] == 8
    bad = run(
        expand_args(
            triage_seeds, out, standin.base_url, "--strategy", "evol", "--responses", "separate"
        )
    )
    assert bad.code == 2 and "self-instruct" in bad.stderr


def test_dry_run_sends_nothing(standin: StandinHandle, triage_seeds: Path, tmp_path: Path) -> None:
    r = run(
        expand_args(
            triage_seeds, tmp_path / "o.jsonl", standin.base_url, "-n", "100", "--dry-run", "--json"
        )
    )
    assert r.code == 0, r.stderr
    plan = r.json()
    assert plan["requests"] == 20
    assert plan["prompt_tokens"] > 0 and plan["completion_tokens"] > 0
    assert plan["cost_usd"] is None and plan["price_known"] is False
    assert "Task:" in plan["first_prompts"][0][-1]["content"]
    assert standin.stats()["requests_total"] == 0
    human = run(
        expand_args(
            triage_seeds,
            tmp_path / "o.jsonl",
            standin.base_url,
            "--dry-run",
            "--model",
            "gpt-4o-mini",
        )
    )
    assert "prompt 1" in human.stderr and "cost ~$" in human.stderr


def test_missing_key_for_remote_endpoint_is_usage_error(triage_seeds: Path, tmp_path: Path) -> None:
    r = run(
        [
            "expand",
            str(triage_seeds),
            "-n",
            "5",
            "-o",
            str(tmp_path / "o.jsonl"),
            "--state-dir",
            str(tmp_path / "s"),
        ]
    )
    assert r.code == 2
    assert "no API key" in r.stderr and "OPENAI_API_KEY" in r.stderr
    assert "Traceback" not in r.stderr


def test_unknown_price_with_cost_cap_is_usage_error(
    standin: StandinHandle, triage_seeds: Path, tmp_path: Path
) -> None:
    r = run(
        expand_args(
            triage_seeds, tmp_path / "o.jsonl", standin.base_url, "-n", "5", "--max-cost-usd", "1"
        )
    )
    assert r.code == 2 and "price" in r.stderr and "prices:" in r.stderr


def test_bad_seed_file_is_usage_error(standin: StandinHandle, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"instruction": "a", "output": "b"}\n{"instruction": "c"}\n')
    r = run(expand_args(bad, tmp_path / "o.jsonl", standin.base_url, "-n", "5"))
    assert r.code == 2
    assert "bad.jsonl:2" in r.stderr and "output" in r.stderr
    assert "Traceback" not in r.stderr


def test_config_file_drives_expand(standin: StandinHandle, tmp_path: Path) -> None:
    from support.paths import REPO

    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        f"task: support-triage\nseeds: [{REPO / 'seeds' / 'support_triage.jsonl'}]\n"
        f"endpoint: {{base_url: '{standin.base_url}', model: standin-fake}}\n"
        "generation: {count: 4, per_call: 2}\n"
        f"state_dir: {tmp_path / 'st'}\n"
    )
    r = run(["expand", "--config", str(cfg), "-o", str(tmp_path / "o.jsonl"), "--json"])
    assert r.code == 0, r.stderr
    recs = read_jsonl(tmp_path / "o.jsonl")
    assert len(recs) == 4 and recs[0]["meta"]["task"] == "support-triage"
    assert r.json()["requests"]["sent"] == 2


def _reasons(ledger: list[dict[str, object]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for e in ledger:
        reason = e["dropped"]["reason"]  # type: ignore[index]
        out[reason] = out.get(reason, 0) + 1
    return out

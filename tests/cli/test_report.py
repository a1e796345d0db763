"""`synthgen report`: each warning fires on data built to trigger it and stays silent otherwise."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from support.helpers import expand_args, read_jsonl, run
from support.report_data import record, seed_file, varied_examples, wrapped, write_jsonl

from synthgen.stages.report.build import Report, ReportInputs, build_report
from synthgen.stages.report.metrics import METRIC_INFO, tokens
from synthgen.stages.report.traits import TRAIT_NAMES
from synthgen.stages.report.warnings import Thresholds

if TYPE_CHECKING:
    from synthgen.standin import StandinHandle

N = 100


def report(path: Path, seeds: Path | None = None, **kw: Any) -> Report:
    inputs = ReportInputs(path, seed_files=(seeds,) if seeds else ())
    return build_report(inputs, Thresholds(**kw)).report


def codes(r: Report) -> list[str]:
    return [w.code for w in r.warnings]


def balanced(tmp_path: Path, exs: list[dict[str, str]] | None = None, **kw: Any) -> Path:
    """N varied records spread evenly over 25 seeds, judge scores unrelated to length."""
    rng = random.Random(3)
    exs = exs or varied_examples(N)
    rows = [
        record(
            i,
            e,
            parents=[f"seed:s{i % 25 + 1:02d}"],
            score=rng.choice([2, 3, 4, 5]),
            **kw,
        )
        for i, e in enumerate(exs)
    ]
    return write_jsonl(tmp_path / "data.jsonl", rows)


@pytest.fixture
def seeds(tmp_path: Path) -> Path:
    return seed_file(tmp_path / "seeds.jsonl", 25)[0]


def test_varied_balanced_set_is_silent(tmp_path: Path, seeds: Path) -> None:
    r = report(balanced(tmp_path), seeds)
    assert r.warnings == []
    assert r.format == "synthgen" and r.records == N and r.seeds == 25
    assert r.coverage is not None and r.coverage["seeds_used"] == 25
    assert r.metrics["seed_concentration"] == pytest.approx(1.0)
    assert r.judge is not None and abs(r.judge["length_spearman"]) < 0.3


def test_collapsed_set_fires_collapse(tmp_path: Path, seeds: Path) -> None:
    varied = report(balanced(tmp_path), seeds)
    path = write_jsonl(
        tmp_path / "collapsed.jsonl",
        [record(i, e) for i, e in enumerate(wrapped(varied_examples(N)))],
    )
    collapsed = report(path, seeds)
    assert {"collapse", "opener_collapse"} <= set(codes(collapsed))
    m, v = collapsed.metrics, varied.metrics
    assert m["compression_ratio"] > v["compression_ratio"]  # type: ignore[operator]
    assert m["mean_pairwise_rouge_l"] > v["mean_pairwise_rouge_l"]  # type: ignore[operator]
    assert m["opener_entropy"] < v["opener_entropy"]  # type: ignore[operator]
    w = next(w for w in collapsed.warnings if w.code == "collapse")
    assert w.value == m["mean_pairwise_rouge_l"] and w.threshold == 0.4
    assert "read alike" in w.message
    # Thresholds are the user's: raised, the same data passes.
    assert "collapse" not in codes(report(path, seeds, rouge_l_max=0.95))


def test_the_tasks_own_style_is_not_collapse(tmp_path: Path) -> None:
    # Every instruction opens "Triage ..." in the seeds too: that is the task, not a collapse.
    def triage(exs: list[dict[str, str]]) -> list[dict[str, str]]:
        return [{**e, "instruction": "Triage " + e["instruction"]} for e in exs]

    seed_rows = [{"id": f"t{i}", **e} for i, e in enumerate(triage(varied_examples(25, seed=8)))]
    seeds = write_jsonl(tmp_path / "triage_seeds.jsonl", seed_rows)
    data = write_jsonl(
        tmp_path / "triage.jsonl", [record(i, e) for i, e in enumerate(triage(varied_examples(N)))]
    )
    assert codes(report(data)) == ["opener_collapse"]
    r = report(data, seeds)
    assert codes(r) == []
    assert r.drift is not None and r.drift["top_opener"] == {
        "word": "triage",
        "data": 1.0,
        "seeds": 1.0,
    }
    cb = r.drift["common_budget"]
    seed_tokens = sum(len(tokens(f"{e['instruction']}\n\n{e['output']}")) for e in seed_rows)
    assert cb["tokens"] == seed_tokens < 10_000  # the smaller set sets the common budget


def test_seed_skew(tmp_path: Path, seeds: Path) -> None:
    # 60 of 100 records from 3 seeds, the other 40 spread over the remaining 22.
    exs = varied_examples(N)
    parents = [f"s{i % 3 + 1:02d}" if i < 60 else f"s{4 + i % 22:02d}" for i in range(N)]
    rows = [
        record(i, e, parents=[f"seed:{p}"])
        for i, (e, p) in enumerate(zip(exs, parents, strict=True))
    ]
    r = report(write_jsonl(tmp_path / "skew.jsonl", rows), seeds)
    assert codes(r) == ["seed_skew"]
    w = r.warnings[0]
    assert w.message == (
        "60% of records descend from 3 of 25 seeds (fair share 12%, 22% by chance alone)"
    )
    assert w.value == pytest.approx(0.6 / (3 / 25))
    assert [s["seed"] for s in r.coverage["per_seed"][:3]] == ["s01", "s02", "s03"]  # type: ignore[index]


def _calls(rows: list[dict[str, Any]], per_call: int) -> list[dict[str, Any]]:
    """Give rows request ids as `expand` does: per_call consecutive records share one call."""
    for i, row in enumerate(rows):
        row["provenance"]["generator"] = {"model": "m", "request_id": f"req_{i // per_call}"}
    return rows


def test_chance_is_not_seed_skew(tmp_path: Path) -> None:
    # Uniformly drawn seeds with few records per seed: the top decile is heavy by chance alone
    # (as in every small `expand` run), which is not skew. Calls of 5 records sharing one seed
    # (evol) are heavier still.
    seeds = seed_file(tmp_path / "seeds100.jsonl", 100)[0]
    rng = random.Random(5)
    exs = varied_examples(120)
    per_record = [
        record(i, e, parents=[f"seed:s{rng.randint(1, 100):02d}"]) for i, e in enumerate(exs)
    ]
    per_call = _calls(
        [
            record(i, e, parents=[f"seed:s{rng.randint(1, 100):02d}"] if i % 5 == 0 else [])
            for i, e in enumerate(exs)
        ],
        5,
    )
    for i, row in enumerate(per_call):  # records of one call descend from the call's seed
        row["provenance"]["parents"] = per_call[i - i % 5]["provenance"]["parents"]
    for name, rows in (("per_record", per_record), ("per_call", per_call)):
        r = report(write_jsonl(tmp_path / f"{name}.jsonl", rows), seeds)
        cov = r.coverage
        assert cov is not None
        assert cov["seed_concentration"] >= 2.5, name  # the old rule fired here
        assert cov["seed_concentration"] < 1.5 * cov["chance_concentration"], name
        assert "seed_skew" not in codes(r), name
    # The chance baseline is a seeded simulation: the same file gives the same numbers.
    again = report(tmp_path / "per_call.jsonl", seeds).coverage
    assert again is not None and again["chance_top_k_share"] == cov["chance_top_k_share"]
    # Grouped by call, chance alone concentrates more than record by record.
    flat = report(tmp_path / "per_record.jsonl", seeds).coverage
    assert flat is not None and cov["chance_concentration"] > flat["chance_concentration"]


def test_unused_seeds_count_only_with_the_seed_file(tmp_path: Path, seeds: Path) -> None:
    # Every record comes from one of 5 seeds, evenly: balanced among themselves, but 20 of the
    # 25 seeds are never used, which only the seed file can reveal.
    rows = [
        record(i, e, parents=[f"seed:s{i % 5 + 1:02d}"]) for i, e in enumerate(varied_examples(N))
    ]
    path = write_jsonl(tmp_path / "few.jsonl", rows)
    assert "seed_skew" not in codes(report(path))
    r = report(path, seeds)
    assert r.coverage is not None
    assert (r.coverage["seeds"], r.coverage["seeds_used"], r.coverage["top_k"]) == (25, 5, 3)
    assert codes(r) == ["seed_skew"] and r.warnings[0].value == pytest.approx(0.6 / 0.12)


def test_lineage_through_machine_parents_and_shared_credit(tmp_path: Path) -> None:
    exs = varied_examples(4)
    rows = [
        record(0, exs[0], parents=["seed:a"], rid="sg_a"),
        record(1, exs[1], parents=["sg_a"], method="evol", operator="deepen"),  # root a
        record(2, exs[2], parents=["seed:a", "seed:b"]),  # half each
        record(3, exs[3], parents=["sg_unknown"], method="evol", operator="widen"),
    ]
    r = report(write_jsonl(tmp_path / "lin.jsonl", rows))
    cov = r.coverage
    assert cov is not None
    assert {s["seed"]: s["records"] for s in cov["per_seed"]} == {"a": 2.5, "b": 0.5}
    assert (cov["records_with_lineage"], cov["unresolved_lineage"]) == (3, 1)
    assert cov["methods"] == {"self-instruct": 2, "evol": 2}
    assert cov["operators"] == {"evol/deepen": 1, "evol/widen": 1}


def test_length_bias(tmp_path: Path) -> None:
    rng = random.Random(5)
    exs = varied_examples(N)
    by_length = sorted(range(N), key=lambda i: len(exs[i]["output"].split()))
    score = {i: 1 + rank * 5 // N for rank, i in enumerate(by_length)}  # 1..5 rising with length
    tracked = [record(i, e, score=score[i]) for i, e in enumerate(exs)]
    r = report(write_jsonl(tmp_path / "bias.jsonl", tracked))
    assert codes(r) == ["length_bias"]
    assert r.warnings[0].message.startswith("judge score rises with length: Spearman 0.9")
    fair = [record(i, e, score=rng.choice([1, 2, 3, 4, 5])) for i, e in enumerate(exs)]
    assert codes(report(write_jsonl(tmp_path / "fair.jsonl", fair))) == []


def _with_traits(exs: list[dict[str, str]], every: int) -> list[dict[str, str]]:
    out = []
    for i, e in enumerate(exs):
        if i % every == 0:
            body = e["output"]
            e = {**e, "output": f"It's important to note that it depends.\n- {body}\n- more"}
        out.append(e)
    return out


def test_trait_drift(tmp_path: Path, seeds: Path) -> None:
    inflated = [record(i, e) for i, e in enumerate(_with_traits(varied_examples(N), 2))]
    r = report(write_jsonl(tmp_path / "traits.jsonl", inflated), seeds)
    drift = [w for w in r.warnings if w.code == "trait_drift"]
    assert [w.message.split(" in ")[0] for w in drift] == ["hedging", "markdown list"]
    assert drift[0].message == "hedging in 50% of outputs vs 0% of seeds (26.0×)"
    assert r.drift is not None and r.drift["traits"]["exclamation"]["ratio"] == 1.0
    # The same habits in the seeds are the task's style, not drift.
    seed_rows = [{"id": f"t{i}", **e} for i, e in enumerate(_with_traits(varied_examples(25), 2))]
    same = report(tmp_path / "traits.jsonl", write_jsonl(tmp_path / "styled.jsonl", seed_rows))
    assert "trait_drift" not in codes(same)
    assert "trait_drift" not in codes(report(tmp_path / "traits.jsonl"))  # no seeds, no ratio


def test_length_drift_and_duplicates(tmp_path: Path, seeds: Path) -> None:
    exs = varied_examples(N)
    long = [{**e, "output": " ".join([e["output"]] * 4)} for e in exs]
    r = report(
        write_jsonl(tmp_path / "long.jsonl", [record(i, e) for i, e in enumerate(long)]), seeds
    )
    assert "length_drift" in codes(r)
    assert r.drift is not None and r.drift["output_length_ratio"] > 3
    dup = [record(i, exs[i % 90]) for i in range(N)]  # 10 exact repeats
    d = report(write_jsonl(tmp_path / "dup.jsonl", dup))
    assert codes(d) == ["duplicates"] and d.metrics["exact_duplicate_share"] == 0.1


def test_any_dataset_format_is_read(tmp_path: Path) -> None:
    exs = varied_examples(30)
    msgs = [
        {
            "messages": [
                {"role": "user", "content": e["instruction"]},
                {"role": "assistant", "content": e["output"]},
            ]
        }
        for e in exs
    ]
    r = report(write_jsonl(tmp_path / "chat.jsonl", msgs))
    assert (r.format, r.records, r.coverage, r.judge) == ("messages", 30, None, None)
    assert r.metrics["distinct_2"] is not None


def test_json_lists_every_metric_and_warning(tmp_path: Path, seeds: Path) -> None:
    rows = [record(i, e, score=3) for i, e in enumerate(wrapped(varied_examples(N)))]
    path = write_jsonl(tmp_path / "c.jsonl", rows)
    res = run(["report", str(path), "--seeds", str(seeds), "--json"])
    assert res.code == 0, res.stderr
    out = res.json()
    assert set(out["metrics"]) == set(METRIC_INFO)
    assert out["warnings"] and all(
        set(w) == {"code", "message", "value", "threshold"} for w in out["warnings"]
    )
    assert "collapse" in [w["code"] for w in out["warnings"]]
    assert out["thresholds"]["rouge_l_max"] == 0.4
    assert out["judge"]["histogram"] == [{"score": 3.0, "count": N}]


def test_fail_on_is_a_quality_gate(tmp_path: Path, seeds: Path) -> None:
    good = balanced(tmp_path)
    bad = write_jsonl(
        tmp_path / "bad.jsonl", [record(i, e) for i, e in enumerate(wrapped(varied_examples(N)))]
    )
    gate = ["--seeds", str(seeds), "--fail-on", "collapse"]
    assert run(["report", str(good), *gate]).code == 0
    res = run(["report", str(bad), *gate])
    assert res.code == 3 and "quality gate: collapse" in res.stderr
    assert run(["report", str(bad), "--fail-on", "length_bias,seed_skew"]).code == 0
    assert run(["report", str(bad), "--fail-on", "any"]).code == 3
    assert run(["report", str(bad), *gate, "-t", "rouge_l_max=0.99"]).code == 0
    yaml_file = tmp_path / "gates.yaml"
    yaml_file.write_text("thresholds:\n  rouge_l_max: 0.99\n")
    assert run(["report", str(bad), *gate, "--thresholds", str(yaml_file)]).code == 0
    wrong = run(["report", str(bad), "--fail-on", "colapse"])
    assert wrong.code == 2 and "unknown warning code 'colapse'" in wrong.stderr
    typo = run(["report", str(bad), "-t", "rouge_max=1"])
    assert typo.code == 2 and "rouge_max" in typo.stderr and "rouge_l_max" in typo.stderr
    assert run(["report", str(bad), "-t", "rouge_l_max"]).code == 2
    # A bad thresholds file names the file, the line and the threshold, in plain words.
    for text, says in (
        ("thresholds: 3\n", ": must be a mapping of NAME: VALUE"),
        ("rouge_l_max: 0.5\nkappa_min: [\n", ":3: not valid YAML"),
        ("rouge_l_max: 0.5\nkappa_min: abc\n", ":2: threshold 'kappa_min': must be a number"),
        ("thresholds:\n  min_records: 2.5\n", ":2: threshold 'min_records': must be a whole"),
        ("thresholds:\n  x: 1\n  rouge_max: 1\n", ":2: threshold 'x': unknown threshold"),
    ):
        yaml_file.write_text(text)
        res = run(["report", str(bad), "--thresholds", str(yaml_file)])
        assert res.code == 2 and f"error: {yaml_file}{says}" in res.stderr, res.stderr
        assert "Traceback" not in res.stderr and "how to fix" in res.stderr
    res = run(["report", str(bad), "--thresholds", str(yaml_file), "-t", "kappa_min=high"])
    assert res.code == 2 and "--threshold kappa_min: must be a number, not 'high'" in res.stderr
    assert run(["report", str(bad), "--thresholds", str(tmp_path / "none.yaml")]).code == 2


def test_compare_shows_the_change_of_every_metric(tmp_path: Path) -> None:
    new = balanced(tmp_path)
    old = write_jsonl(
        tmp_path / "old.jsonl", [record(i, e) for i, e in enumerate(wrapped(varied_examples(N)))]
    )
    drop = {"dropped": {"stage": "dedup", "reason": "exact_duplicate", "detail": ""}}
    write_jsonl(tmp_path / "old.ledger.jsonl", [{**record(999, varied_examples(1)[0]), **drop}])
    res = run(["report", str(new), "--compare", str(old), "--json"])
    assert res.code == 0, res.stderr
    out = res.json()
    a, b = report(new).metrics, report(old).metrics
    changes = {c["metric"]: c for c in out["compare"]["changes"]}
    assert set(METRIC_INFO) <= set(changes)
    # Length quantiles and the trait fingerprint are metrics too.
    assert changes["output_words_p50"]["value"] == report(new).lengths["output_words"]["p50"]
    assert {f"trait_{t}" for t in TRAIT_NAMES} <= set(changes)
    dup = changes["duplicate_rate_dedup"]  # only the other run has a ledger
    assert (dup["value"], dup["other"], dup["change"]) == (None, pytest.approx(1 / 101), None)
    rouge = changes["mean_pairwise_rouge_l"]
    assert rouge["change"] == pytest.approx(a["mean_pairwise_rouge_l"] - b["mean_pairwise_rouge_l"])  # type: ignore[operator]
    assert rouge["change"] < 0 and changes["judge_pass_rate"]["change"] is None
    assert "collapse" in out["compare"]["other_warnings"]


def test_ledger_drops_and_duplicate_rate(tmp_path: Path) -> None:
    data = balanced(tmp_path)  # 100 kept
    drops = [("dedup", "exact_duplicate")] * 30 + [("dedup", "near_duplicate")] * 10
    drops += [("judge", "below_threshold")] * 60
    ledger = [
        {
            **record(1000 + i, {"instruction": "x", "input": "", "output": "y"}),
            "dropped": {"stage": s, "reason": r, "detail": ""},
        }
        for i, (s, r) in enumerate(drops)
    ]
    write_jsonl(tmp_path / "data.ledger.jsonl", ledger)
    r = report(data)
    assert r.ledger is not None and r.ledger["candidates"] == 200
    assert r.ledger["drops"] == {
        "dedup": {"exact_duplicate": 30, "near_duplicate": 10},
        "judge": {"below_threshold": 60},
    }
    assert r.ledger["duplicate_rate"] == {"dedup": 0.2, "judge": 0.0}


def test_judge_human_agreement_in_report(tmp_path: Path) -> None:
    exs = varied_examples(40)
    rows = [record(i, e, score=5 if i % 2 else 1) for i, e in enumerate(exs)]  # odd ids pass
    data = write_jsonl(tmp_path / "data.jsonl", rows)
    # Humans accept exactly what the judge failed: total disagreement.
    verdicts = [
        {
            "id": r["id"],
            "instruction": r["instruction"],
            "input": "",
            "output": r["output"],
            "verdict": "reject" if i % 2 else "accept",
            "note": "",
            "auditor": "t",
            "judge_score": None,
            "at": "",
        }
        for i, r in enumerate(rows)
    ]
    write_jsonl(tmp_path / "data.verdicts.jsonl", verdicts)
    r = report(data)
    assert r.human is not None and r.human["kappa"] == pytest.approx(-1.0)
    assert r.human["judge_pass_rate_on_rejected"] == 1.0 and r.human["reject_rate"] == 0.5
    assert codes(r) == ["judge_disagrees"]


def test_bad_input_is_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"instruction": "a", "output": "b"}\n{oops\n')
    path.with_name("ok.jsonl").write_text('{"instruction": "a", "output": "b"}\n')
    res = run(["report", str(path)])
    assert res.code == 2 and f"{path}:2" in res.stderr and "Traceback" not in res.stderr
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert run(["report", str(empty)]).code == 2
    assert run(["report", str(tmp_path / "missing.jsonl")]).code == 2
    for opt in ("--verdicts", "--ledger", "--seeds", "--compare"):  # a typo is not "none"
        res = run(["report", str(path.with_name("ok.jsonl")), opt, str(tmp_path / "typo.jsonl")])
        assert res.code == 2 and f"{tmp_path / 'typo.jsonl'}" in res.stderr, (opt, res.stderr)
        assert "not found" in res.stderr or "No such file" in res.stderr


def test_terminal_report_fixed_width(
    tmp_path: Path, seeds: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rich.console import Console

    from synthgen.stages.report.render import render_report

    rows = [
        record(i, e, parents=["seed:s01"] if i < 80 else [f"seed:s{i % 25 + 1:02d}"], score=4)
        for i, e in enumerate(_with_traits(wrapped(varied_examples(N)), 2))
    ]
    write_jsonl(tmp_path / "[red]data.jsonl", rows)
    # Relative paths: where the lines break must not depend on pytest's temporary directory.
    monkeypatch.chdir(tmp_path)
    r = report(Path("[red]data.jsonl"), seeds.relative_to(tmp_path))
    console = Console(record=True, width=100, color_system=None)
    render_report(r, console)
    out = console.export_text()
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 100
    assert lines[0].startswith("[red]data.jsonl: 100 records")  # literal, not markup
    assert "(synthgen) · 25 seeds from seeds.jsonl" in lines[0]
    assert any(line.split()[:3] == ["mean", "pairwise", "ROUGE-L"] for line in lines)
    assert (
        "Lineage: 100 records trace to 21 of 25 seeds; the top 3 hold 82% (fair share 12%, " in out
    )
    assert "! seed_skew: 82% of records descend from 3 of 25 seeds (fair share 12%, " in out
    assert "! collapse: records read alike" in out
    assert "! trait_drift: hedging in 50% of outputs vs 0% of seeds" in out
    assert "Judge: 100 scored · pass rate 100%" in out
    assert "No warnings" not in out


def test_report_on_expand_output(
    standin: StandinHandle, triage_seeds: Path, tmp_path: Path
) -> None:
    # Real provenance from the real pipeline: lineage and methods come from what expand wrote.
    out = tmp_path / "raw.jsonl"
    res = run(expand_args(triage_seeds, out, standin.base_url, "-n", "30", "--per-call", "5"))
    assert res.code == 0, res.stderr
    rep = run(["report", str(out), "--seeds", str(triage_seeds), "--json"]).json()
    records = read_jsonl(out)
    parents = {p.removeprefix("seed:") for r in records for p in r["provenance"]["parents"]}
    cov = rep["coverage"]
    assert rep["records"] == 30 and cov["records_with_lineage"] == 30
    assert cov["seeds"] == 25 and cov["seeds_used"] == len(parents)
    assert cov["methods"] == {"self-instruct": 30}
    assert sum(s["records"] for s in cov["per_seed"]) == pytest.approx(30, abs=0.01)  # rounded


def test_terminal_sections_for_audit_ledger_and_compare(tmp_path: Path) -> None:
    from rich.console import Console

    from synthgen.stages.report.build import compare
    from synthgen.stages.report.render import render_report

    rows = [record(i, e, score=5 if i % 2 else 1) for i, e in enumerate(varied_examples(30))]
    data = write_jsonl(tmp_path / "d.jsonl", rows)
    v = [
        {**r, "verdict": "accept", "note": "", "auditor": "t", "judge_score": 5, "at": ""}
        for r in rows[:4]
    ]
    write_jsonl(
        tmp_path / "d.verdicts.jsonl",
        [
            {
                k: x[k]
                for k in (
                    "id",
                    "instruction",
                    "input",
                    "output",
                    "verdict",
                    "note",
                    "auditor",
                    "judge_score",
                    "at",
                )
            }
            for x in v
        ],
    )
    drop = {**rows[0], "dropped": {"stage": "dedup", "reason": "near_duplicate", "detail": ""}}
    write_jsonl(tmp_path / "d.ledger.jsonl", [drop])
    r = report(data)
    r = r.model_copy(update={"compare": compare(r, report(balanced(tmp_path)))})
    console = Console(record=True, width=100, color_system=None)
    render_report(r, console)
    out = console.export_text()
    assert "Human audit (d.verdicts.jsonl): 4 decided, reject rate 0% (95% CI 0%–49%)" in out
    assert "Ledger: 31 candidates" in out and "dedup: near_duplicate 1 (duplicates 3%)" in out
    assert "Compared with" in out and "judge_pass_rate" in out


def test_plain_alpaca_without_provenance(tmp_path: Path, seeds: Path) -> None:
    rows = [{"instruction": e["instruction"], "output": e["output"]} for e in varied_examples(N)]
    path = tmp_path / "alpaca.json"
    path.write_text(json.dumps(rows), encoding="utf-8")  # a JSON array, as alpaca ships
    res = run(["report", str(path), "--seeds", str(seeds)])
    assert res.code == 0, res.stderr

    # The console wraps at 80 columns, a long temporary path anywhere: compare without spaces.
    def squash(text: str) -> str:
        return "".join(text.split())

    said = squash(res.stderr)
    assert squash(f"{path}: 100 records (alpaca) · 25 seeds") in said
    assert squash("no provenance: lineage, methods and judge sections need") in said
    out = run(["report", str(path), "--seeds", str(seeds), "--json"]).json()
    assert out["coverage"] is None and out["judge"] is None and out["drift"] is not None
    assert out["metrics"]["distinct_2"] is not None and out["warnings"] == []
    # synthgen records do not get the note
    assert "no provenance" not in run(["report", str(balanced(tmp_path))]).stderr

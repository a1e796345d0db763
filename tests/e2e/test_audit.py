"""`synthgen audit`: seeded sample, verdicts saved per answer, resume, agreement numbers, export
and import; driven end to end through a real pty."""

from __future__ import annotations

import csv
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

import pexpect
import pytest
from rich.console import Console
from support.helpers import read_jsonl, run
from support.report_data import record, varied_examples, write_jsonl

from synthgen.stages.audit.review import AuditItem, draw_sample, run_loop, summary
from synthgen.stages.audit.store import VerdictStore, read_verdicts, verdict_line

REPO = Path(__file__).resolve().parents[2]


def dataset(tmp_path: Path, n: int = 40, name: str = "data.jsonl") -> Path:
    # Judge passes records 0, 2, 4, ... (score 5) and fails the odd ones (score 1).
    rows = [record(i, e, score=1 if i % 2 else 5) for i, e in enumerate(varied_examples(n))]
    return write_jsonl(tmp_path / name, rows)


def scripted(replies: list[str]) -> tuple[list[str], Callable[[str], str | None]]:
    asked: list[str] = []
    it = iter(replies)

    def ask(prompt: str) -> str | None:
        asked.append(prompt)
        return next(it, None)

    return asked, ask


def test_sample_is_seeded_stable_and_distinct(tmp_path: Path) -> None:
    path = dataset(tmp_path)
    a = draw_sample(path, 10, seed=0)
    assert a == draw_sample(path, 10, seed=0)
    assert [i.id for i in a] != [i.id for i in draw_sample(path, 10, seed=1)]
    assert len({i.id for i in a}) == 10 and [i.line for i in a] == sorted(i.line for i in a)
    assert a[0].rationale.startswith("rationale") and a[0].judge_passed is not None
    rows = read_jsonl(path)
    dup = write_jsonl(tmp_path / "dup.jsonl", rows[:3] + rows[:3])
    assert [i.id for i in draw_sample(dup, 10, seed=0)] == [r["id"] for r in rows[:3]]


def test_include_dropped_samples_judge_rejects_from_the_ledger(tmp_path: Path) -> None:
    exs = varied_examples(24)
    kept = write_jsonl(
        tmp_path / "kept.jsonl", [record(i, e, score=5) for i, e in enumerate(exs[:10])]
    )
    drops = []
    for i, e in enumerate(exs[10:], 10):
        stage = "judge" if i < 20 else "rules"
        drop = {**record(i, e, score=1), "dropped": {"stage": stage, "reason": "x", "detail": ""}}
        drops.append({**drop, "id": f"drop_{i}", "record_id": drop["id"]})
    drops.append({**drops[0], "instruction": None, "id": "drop_raw"})  # unparsable: no text
    write_jsonl(tmp_path / "kept.ledger.jsonl", drops)
    assert len(draw_sample(kept, 30, seed=0)) == 10
    items = draw_sample(kept, 30, seed=0, ledger=tmp_path / "kept.ledger.jsonl")
    assert [i.dropped for i in items] == [False] * 10 + [True] * 10
    assert [i.id for i in items[10:]] == [f"sg_test{i:06d}" for i in range(10, 20)]
    store = VerdictStore(tmp_path / "v.jsonl")
    for item in items:
        store.add(
            verdict_line(item.record(), "reject" if item.dropped else "accept", "", "t", None)
        )
    s = summary(items, store, kept, None)
    assert s["kappa"] == 1.0 and s["judge_pass_rate_on_rejected"] == 0.0
    # Without --include-dropped, and in `report`, the dropped records' judge verdicts still
    # come from the ledger: the same verdict file gives the same agreement everywhere.
    assert summary(items[:10], store, kept, None)["paired_with_judge"] == 20
    store.close()
    res = run(["audit", str(kept), "--verdicts", str(store.path), "--summary", "--json"])
    assert res.code == 0 and (res.json()["kappa"], res.json()["paired_with_judge"]) == (1.0, 20)
    res = run(["report", str(kept), "--verdicts", str(store.path), "--json"])
    human = res.json()["human"]
    assert (human["kappa"], human["paired_with_judge"], human["judge_pass_rate_on_rejected"]) == (
        1.0,
        20,
        0.0,
    )
    res = run(["audit", str(kept), "--include-dropped", "--sample", "30", "--summary", "--json"])
    assert res.code == 0 and res.json()["sample"] == 20
    assert not (tmp_path / "kept.verdicts.jsonl").exists()  # --summary writes nothing


def test_loop_saves_each_answer_and_resumes(tmp_path: Path) -> None:
    items = draw_sample(dataset(tmp_path), 5, seed=0)
    vpath = tmp_path / "v.jsonl"
    store = VerdictStore(vpath)
    console = Console(record=True, width=100, color_system=None)
    _, ask = scripted(["a", "n", "too vague", "r", "x", "s", "q"])
    result = run_loop(items, store, ask, console, "ann")
    store.close()
    assert (result.answered, result.finished) == (3, False)
    lines = read_jsonl(vpath)
    assert [(v["id"], v["verdict"], v["note"]) for v in lines] == [
        (items[0].id, "accept", ""),
        (items[1].id, "reject", "too vague"),
        (items[2].id, "skip", ""),
    ]
    assert lines[0]["auditor"] == "ann" and lines[0]["judge_score"] == items[0].judge_score
    assert "press a, r, s, n or q" in console.export_text()
    # A new session starts at the 4th record and finishes the sample.
    store = VerdictStore(vpath)
    again = Console(record=True, width=100, color_system=None)
    _, ask = scripted(["a", "r"])
    assert run_loop(items, store, ask, again, "ann").finished
    store.close()
    shown = again.export_text()
    assert "record 4 of 5" in shown and "record 1 of 5" not in shown
    assert len(read_verdicts(vpath)) == 5


def test_summary_numbers_by_hand(tmp_path: Path) -> None:
    path = dataset(tmp_path, 10)
    items = draw_sample(path, 10, seed=0)
    assert [i.judge_passed for i in items] == [True, False] * 5
    store = VerdictStore(tmp_path / "v.jsonl")
    # judge pass/fail → human: 4× pass/accept, 2× pass/reject, 2× fail/reject,
    # 1× fail/accept, 1× fail/skip (ignored).
    passed = [i for i in items if i.judge_passed]
    failed = [i for i in items if not i.judge_passed]
    plan = [(i, "accept") for i in passed[:4]] + [(i, "reject") for i in passed[4:]]
    plan += [(failed[0], "reject"), (failed[1], "reject"), (failed[2], "accept")]
    plan += [(failed[3], "skip"), (failed[4], "accept"), (failed[4], "reject")]  # re-answered
    for item, verdict in plan:
        store.add(verdict_line(item.record(), verdict, "", "t", item.judge_score))
    s = summary(items, store, path, None)
    store.close()
    # failed[4]'s last answer (reject) is the one that counts.
    assert s["counts"] == {"accept": 5, "reject": 4, "skip": 1}
    assert s["decided"] == 9 and s["rejected"] == 4
    assert s["reject_rate"] == pytest.approx(4 / 9)
    assert s["reject_rate_ci95"] == pytest.approx([0.18878, 0.73335], abs=1e-4)
    # judge pass: 4 accepted, 1 rejected; judge fail: 3 rejected (failed 0, 1, 4), 1 accepted.
    po = (4 + 3) / 9
    pe = (5 / 9) * (5 / 9) + (4 / 9) * (4 / 9)
    assert s["kappa"] == pytest.approx((po - pe) / (1 - pe))
    assert s["judge_pass_rate_on_rejected"] == pytest.approx(1 / 4)


def test_export_and_import_round_trip(tmp_path: Path) -> None:
    path = dataset(tmp_path)
    for ext in ("jsonl", "csv"):
        out = tmp_path / f"review.{ext}"
        res = run(["audit", str(path), "--sample", "6", "--export", str(out)])
        assert res.code == 0, res.stderr
        assert not (tmp_path / "data.verdicts.jsonl").exists()  # export asks nothing
    rows = list(csv.DictReader((tmp_path / "review.csv").open(encoding="utf-8")))
    assert [r["id"] for r in rows] == [r["id"] for r in read_jsonl(tmp_path / "review.jsonl")]
    assert len(rows) == 6 and rows[0]["verdict"] == "" and rows[0]["judge_score"] in ("1.0", "5.0")
    for r, v in zip(rows, ["accept", "r", "", "Reject", "s", "accept"], strict=True):
        r["verdict"] = v
    rows[1]["note"] = "wrong answer"
    with (tmp_path / "review.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    res = run(
        ["audit", str(path), "--sample", "6", "--import", str(tmp_path / "review.csv"), "--json"]
    )
    assert res.code == 0, res.stderr
    s = res.json()
    assert s["counts"] == {"accept": 2, "reject": 2, "skip": 1} and s["answered_in_sample"] == 5
    saved = read_verdicts(tmp_path / "data.verdicts.jsonl")
    assert saved[rows[1]["id"]]["note"] == "wrong answer"
    assert saved[rows[1]["id"]]["instruction"]  # text filled from the data, for anchors


def test_import_errors_are_exit_2(tmp_path: Path) -> None:
    path = dataset(tmp_path)
    bad = write_jsonl(
        tmp_path / "bad.jsonl", [{"id": "x", "verdict": ""}, {"id": "y", "verdict": "maybe"}]
    )
    res = run(["audit", str(path), "--import", str(bad)])
    assert res.code == 2 and f"{bad}:2" in res.stderr and "unknown verdict 'maybe'" in res.stderr
    stranger = write_jsonl(tmp_path / "s.jsonl", [{"id": "sg_nope", "verdict": "accept"}])
    res = run(["audit", str(path), "--import", str(stranger)])
    assert res.code == 2 and "not in the audit sample" in res.stderr
    assert not (tmp_path / "data.verdicts.jsonl").exists() or not read_verdicts(
        tmp_path / "data.verdicts.jsonl"
    )
    assert run(["audit", str(path), "--export", str(tmp_path / "x.xlsx")]).code == 2
    assert run(["audit", str(path), "--sample", "0"]).code == 2
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    res = run(["audit", str(empty)])
    assert res.code == 2 and "holds no records to audit" in res.stderr
    assert not (tmp_path / "empty.verdicts.jsonl").exists()


def test_torn_last_verdict_line_is_cut_not_fatal(tmp_path: Path) -> None:
    vpath = tmp_path / "v.jsonl"
    item = AuditItem(1, "sg_1", "i", "", "o")
    line = json.dumps(verdict_line(item.record(), "accept", "", "t", None))
    vpath.write_text(line + "\n" + line[:20])  # killed mid-write
    store = VerdictStore(vpath)
    store.close()
    assert list(store.latest) == ["sg_1"] and vpath.read_text() == line + "\n"


def test_verdicts_are_filter_anchors(tmp_path: Path) -> None:
    calibration = pytest.importorskip("synthgen.stages.filter.calibration")
    path = dataset(tmp_path)
    items = draw_sample(path, 4, seed=0)
    store = VerdictStore(tmp_path / "v.jsonl")
    for item, v in zip(items, ["accept", "reject", "skip", "accept"], strict=True):
        store.add(verdict_line(item.record(), v, "", "t", item.judge_score))
    store.close()
    anchors = calibration.read_anchors(tmp_path / "v.jsonl")
    assert len(anchors) == 3  # skips are ignored


def spawn_audit(data: Path, *extra: str) -> pexpect.spawn:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "SYNTHGEN_"))}
    env["NO_COLOR"] = "1"
    return pexpect.spawn(
        sys.executable,
        ["-m", "synthgen", "audit", str(data), "--sample", "5", *extra],
        cwd=str(REPO),
        env=env,
        encoding="utf-8",
        timeout=30,
        dimensions=(50, 120),
    )


def answer(child: pexpect.spawn, k: int, key: str, note: str | None = None) -> None:
    child.expect(f"record {k} of 5")
    child.expect_exact("[q]uit > ")
    if note is not None:
        child.sendline("n")
        child.expect_exact("note > ")
        child.sendline(note)
        child.expect_exact("[q]uit > ")
    child.sendline(key)


def test_audit_in_a_real_terminal_quit_resume_finish(tmp_path: Path) -> None:
    data = dataset(tmp_path)
    vpath = tmp_path / "data.verdicts.jsonl"
    sample = draw_sample(data, 5, seed=0)

    child = spawn_audit(data, "--auditor", "ann")
    answer(child, 1, "a")
    answer(child, 2, "r", note="made-up fact")
    child.expect("record 3 of 5")
    child.expect_exact("[q]uit > ")
    child.sendline("q")
    child.expect("rerun to resume")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert [v["verdict"] for v in read_jsonl(vpath)] == ["accept", "reject"]

    # Ctrl-C mid-record: exit 130, nothing answered so far is lost.
    child = spawn_audit(data, "--auditor", "ann")
    answer(child, 3, "s")
    child.expect("record 4 of 5")
    child.expect_exact("[q]uit > ")
    child.sendintr()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130
    assert [v["verdict"] for v in read_jsonl(vpath)] == ["accept", "reject", "skip"]

    child = spawn_audit(data, "--auditor", "ann")
    answer(child, 4, "r")
    answer(child, 5, "a")
    child.expect(pexpect.EOF)
    out = child.before
    child.close()
    assert child.exitstatus == 0
    lines = read_jsonl(vpath)
    assert [v["id"] for v in lines] == [i.id for i in sample]
    assert lines[1]["note"] == "made-up fact" and {v["auditor"] for v in lines} == {"ann"}
    assert "5 of 5 sampled records answered · accept 2 · reject 2 · skip 1" in out
    assert "human reject rate 50.0% (95% Wilson CI 15.0%–85.0%, n=4)" in out
    # Hand-computed agreement over the 4 decided records.
    judge = [i.judge_passed for i in sample]
    human = [True, False, None, False, True]
    rejected = [bool(j) for j, h in zip(judge, human, strict=True) if h is False]
    assert f"judge passed {sum(rejected) / len(rejected) * 100:.1f}% of the records humans" in out

    # A second auditor keeps a file of their own and starts from the first record.
    child = spawn_audit(data, "--auditor", "bob", "--verdicts", str(tmp_path / "bob.jsonl"))
    answer(child, 1, "q")
    child.expect(pexpect.EOF)
    child.close()
    assert not (tmp_path / "bob.jsonl").exists() and len(read_jsonl(vpath)) == 5

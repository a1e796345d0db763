"""Verify: a constructed run directory checks out, and each kind of tampering is named."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from support.helpers import run
from support.report_data import record, varied_examples, write_jsonl

from synthgen.core.verify import verify_run
from synthgen.errors import InputError

DROPS = {"rules": {"too_short": 2, "refusal": 1}, "dedup": {"near_duplicate": 1}}
LISTED = ("data.jsonl", "dropped.jsonl", "report.html", "README.md")


def write_manifest(run_dir: Path, counts: dict[str, Any]) -> None:
    files = {
        name: hashlib.sha256((run_dir / name).read_bytes()).hexdigest()
        for name in LISTED
        if (run_dir / name).exists()
    }
    (run_dir / "manifest.json").write_text(json.dumps({"files": files, "counts": counts}))


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """A run that kept 5 records and dropped 4, as `synthgen run` leaves it."""
    d = tmp_path / "run"
    d.mkdir()
    exs = varied_examples(9, seed=4)
    write_jsonl(d / "data.jsonl", [record(i, ex) for i, ex in enumerate(exs[:5])])
    why = [(s, r) for s, reasons in DROPS.items() for r, n in reasons.items() for _ in range(n)]
    drops = [
        {**record(10 + i, ex), "dropped": {"stage": s, "reason": r, "detail": ""}}
        for i, (ex, (s, r)) in enumerate(zip(exs[5:], why, strict=True))
    ]
    write_jsonl(d / "dropped.jsonl", drops)
    (d / "report.html").write_text("<html><body>report of the run</body></html>\n")
    (d / "README.md").write_text("# A dataset card\n\nKept 5 of 9 candidates.\n")
    write_manifest(d, {"candidates": 9, "kept": 5, "dropped": DROPS})
    return d


def named_files(problems: list[str]) -> set[str]:
    """The files the problems are about (each problem starts with its file)."""
    return {p.split(":")[0].split(" ")[0] for p in problems}


def flip_one_byte(path: Path) -> None:
    """Change one letter in the middle of the file into another letter."""
    data = bytearray(path.read_bytes())
    i = next(j for j in range(len(data) // 2, len(data)) if chr(data[j]).isalpha())
    data[i] = ord("q") if data[i] != ord("q") else ord("z")
    path.write_bytes(bytes(data))


def test_a_whole_run_verifies(run_dir: Path) -> None:
    result = verify_run(run_dir)
    assert result.ok and result.problems == [] and result.files_checked == 4


@pytest.mark.parametrize("name", LISTED)
def test_one_changed_byte_names_exactly_that_file(run_dir: Path, name: str) -> None:
    flip_one_byte(run_dir / name)
    result = verify_run(run_dir)
    assert not result.ok
    assert f"{name}: sha256 differs from the manifest (changed after the run)" in result.problems
    assert named_files(result.problems) == {name}


def test_a_missing_file_is_named(run_dir: Path) -> None:
    (run_dir / "report.html").unlink()
    result = verify_run(run_dir)
    assert result.problems == ["report.html: missing (the manifest lists it)"]


def test_candidates_that_do_not_add_up_are_named(run_dir: Path) -> None:
    write_manifest(run_dir, {"candidates": 10, "kept": 5, "dropped": DROPS})
    result = verify_run(run_dir)
    assert result.problems == ["manifest.json: counts.candidates = 10, but kept 5 + dropped 4 = 9"]


def test_a_kept_count_that_differs_from_data_jsonl_is_named(run_dir: Path) -> None:
    write_manifest(run_dir, {"candidates": 10, "kept": 6, "dropped": DROPS})
    result = verify_run(run_dir)
    assert result.problems == ["data.jsonl: 5 records, but the manifest counts kept = 6"]


def test_dropped_counts_per_stage_and_reason_are_checked(run_dir: Path) -> None:
    drops = {"rules": {"too_short": 3}, "dedup": {"near_duplicate": 1}}
    write_manifest(run_dir, {"candidates": 9, "kept": 5, "dropped": drops})
    result = verify_run(run_dir)
    assert result.problems == [
        "dropped.jsonl: 1 dropped at rules/refusal, but the manifest counts 0",
        "dropped.jsonl: 2 dropped at rules/too_short, but the manifest counts 3",
    ]


def test_a_repeated_id_is_named(run_dir: Path) -> None:
    lines = (run_dir / "data.jsonl").read_text().splitlines()
    (run_dir / "data.jsonl").write_text("\n".join([*lines[:4], lines[0]]) + "\n")
    write_manifest(run_dir, {"candidates": 9, "kept": 5, "dropped": DROPS})
    result = verify_run(run_dir)
    assert result.problems == ["data.jsonl:5: id sg_test000000 repeats (first at line 1)"]


def test_a_malformed_count_is_a_problem_not_a_crash(run_dir: Path) -> None:
    write_manifest(run_dir, {"candidates": 9, "kept": "5", "dropped": DROPS})
    assert verify_run(run_dir).problems == ["manifest.json: counts.kept is '5', not a count"]


def test_a_listed_path_outside_the_run_is_a_problem(run_dir: Path) -> None:
    (run_dir.parent / "elsewhere.txt").write_text("x")
    doc = json.loads((run_dir / "manifest.json").read_text())
    doc["files"]["../elsewhere.txt"] = hashlib.sha256(b"x").hexdigest()
    (run_dir / "manifest.json").write_text(json.dumps(doc))
    assert verify_run(run_dir).problems == [
        "../elsewhere.txt: listed in the manifest but outside the run directory"
    ]


def test_a_file_the_manifest_does_not_list_is_named(run_dir: Path) -> None:
    (run_dir / "extra.jsonl").write_text('{"id": "sg_smuggled"}\n')
    (run_dir / "sub").mkdir()
    (run_dir / "sub" / "notes.txt").write_text("x")
    result = verify_run(run_dir)
    assert not result.ok
    assert result.problems == [
        "extra.jsonl: not listed in the manifest (added after the run?)",
        "sub/notes.txt: not listed in the manifest (added after the run?)",
    ]


def test_a_leftover_partial_file_is_named(run_dir: Path) -> None:
    (run_dir / "data.jsonl.partial").write_text("")
    assert verify_run(run_dir).problems == [
        "data.jsonl.partial: not listed in the manifest (added after the run?)"
    ]


def test_an_audits_verdicts_beside_a_listed_file_are_noted_not_a_problem(run_dir: Path) -> None:
    (run_dir / "data.verdicts.jsonl").write_text('{"id": "sg_x", "verdict": "accept"}\n')
    (run_dir / "other.verdicts.jsonl").write_text("")  # beside no listed file
    result = verify_run(run_dir)
    note = "data.verdicts.jsonl: audit verdicts for data.jsonl, not part of the run"
    assert result.notes == [note]
    assert result.problems == [
        "other.verdicts.jsonl: not listed in the manifest (added after the run?)"
    ]
    r = run(["verify", str(run_dir)])
    assert r.code == 1 and "data.verdicts.jsonl: audit verdicts for data.jsonl" in r.stderr


def test_cli_exits_1_on_an_unlisted_file(run_dir: Path) -> None:
    (run_dir / "extra.txt").write_text("x")
    r = run(["verify", str(run_dir)])
    assert r.code == 1
    assert "extra.txt: not listed in the manifest (added after the run?)" in r.stderr


def test_no_manifest_is_an_input_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"manifest\.json: not found") as e:
        verify_run(tmp_path)
    assert e.value.exit_code == 2


def test_a_manifest_without_files_is_not_a_run_manifest(run_dir: Path) -> None:
    (run_dir / "manifest.json").write_text(json.dumps({"counts": {}}))
    with pytest.raises(InputError, match='no "files" object'):
        verify_run(run_dir)


# -- the command ----------------------------------------------------------------------------


def test_cli_ok_says_so_on_stderr(run_dir: Path) -> None:
    r = run(["verify", str(run_dir)])
    assert r.code == 0 and r.stdout == ""
    assert r.stderr.strip() == "verified: 4 files, counts add up"


def test_cli_lists_each_problem_and_exits_1(run_dir: Path) -> None:
    flip_one_byte(run_dir / "report.html")
    write_manifest(run_dir, {"candidates": 10, "kept": 5, "dropped": DROPS})  # rehashes
    flip_one_byte(run_dir / "README.md")
    r = run(["verify", str(run_dir), "--json"])
    assert r.code == 1
    lines = r.stderr.strip().splitlines()
    assert lines[:2] == [
        "README.md: sha256 differs from the manifest (changed after the run)",
        "manifest.json: counts.candidates = 10, but kept 5 + dropped 4 = 9",
    ]
    assert lines[2] == f"not verified: 2 problems in {run_dir}"
    body = r.json()
    assert body["ok"] is False and body["files_checked"] == 4 and len(body["problems"]) == 2


def test_cli_without_a_manifest_exits_2_naming_it(tmp_path: Path) -> None:
    r = run(["verify", str(tmp_path)])
    assert r.code == 2
    assert f"{tmp_path / 'manifest.json'}: not found" in r.stderr
    assert "how to fix" in r.stderr

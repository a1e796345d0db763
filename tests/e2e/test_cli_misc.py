"""The CLI around expand: seeds inspect, real public seeds end to end, help and version."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from support.helpers import expand_args, read_jsonl, run

from synthgen.standin import StandinHandle


def test_seeds_inspect_json_and_bad_file(tmp_path: Path, triage_seeds: Path) -> None:
    r = run(["seeds", "inspect", str(triage_seeds), "--json"])
    assert r.code == 0, r.stderr
    report = r.json()
    assert report["seeds"] == 25 and report["examples"] == 25
    assert report["format"] == {str(triage_seeds): "alpaca"}
    assert report["duplicates"] == [] and report["problems"] == []
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b'{"instruction": "x y z w", "output": "ok"}\n\xff\xfe\n')
    r = run(["seeds", "inspect", str(bad), "--json"])
    problems = r.json()["problems"]
    assert any("UTF-8" in p["message"] for p in problems)
    r = run(["seeds", "inspect", str(tmp_path / "missing.jsonl")])
    assert r.code == 2 and "missing.jsonl" in r.stderr and "Traceback" not in r.stderr


def test_expand_self_instruct_public_seed_tasks(
    standin: StandinHandle, shared_data: Path, tmp_path: Path
) -> None:
    seeds = shared_data / "self-instruct" / "seed_tasks.jsonl"
    out = tmp_path / "si.jsonl"
    r = run(expand_args(seeds, out, standin.base_url, "-n", "40", "--per-call", "8", "--json"))
    assert r.code == 0, r.stderr
    recs = read_jsonl(out)
    assert len(recs) == 40
    ids = {json.loads(line)["id"] for line in seeds.read_text().splitlines() if line.strip()}
    parents = {p for rec in recs for p in rec["provenance"]["parents"]}
    assert parents and all(p.removeprefix("seed:") in ids for p in parents)


def test_help_and_version_start_without_heavy_imports() -> None:
    code = (
        "import sys; from synthgen.cli.app import cli\n"
        "try:\n    cli(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('openai', 'pydantic', 'rich', 'httpx2') if m in sys.modules]\n"
        "print('HEAVY=' + ','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "HEAVY="
    v = subprocess.run(
        [sys.executable, "-m", "synthgen", "--version"], capture_output=True, text=True, check=True
    )
    assert "0.1.0" in v.stdout


def test_ctrl_c_in_any_command_exits_130_not_click_aborted(tmp_path: Path) -> None:
    """A command blocked on its input (report reading a FIFO) gets SIGINT: exit 130, no
    "Aborted!" and no traceback — whichever command it is, a rerun resumes."""
    import os
    import signal

    fifo = tmp_path / "in.jsonl"
    os.mkfifo(fifo)
    proc = subprocess.Popen(
        [sys.executable, "-m", "synthgen", "report", str(fifo)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    with fifo.open("w") as writer:  # blocks until report opens it: the command is running
        writer.write('{"instruction": "Say hi to the user.", "output": "hi"}\n')
        writer.flush()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err.decode()
    assert b"interrupted" in err and b"Aborted" not in err and b"Traceback" not in err


def test_records_and_json_summary_never_share_stdout(triage_seeds: Path) -> None:
    """`-o - --json` would put a summary after the records in one pipe: refused up front."""
    url = ["--base-url", "http://127.0.0.1:9/v1"]
    for args in (
        ["expand", str(triage_seeds), "-n", "3", *url],
        ["filter", str(triage_seeds), *url],
        ["dedup", str(triage_seeds)],
    ):
        r = run([*args, "-o", "-", "--json"])
        assert r.code == 2 and r.stdout == "", (args, r.stdout)
        assert "both write to stdout" in r.stderr and "Traceback" not in r.stderr
    # a dry run writes no records: its JSON estimate may use stdout
    r = run(["expand", str(triage_seeds), "-n", "3", *url, "-o", "-", "--json", "--dry-run"])
    assert r.code == 0 and r.json()["requests"] > 0, r.stderr


def test_expand_refuses_to_write_over_its_seeds(tmp_path: Path, triage_seeds: Path) -> None:
    """`-o seeds.jsonl` once truncated the seed file; now it is an input error, nothing
    touched (filter and dedup share the same check)."""
    seeds = tmp_path / "seeds.jsonl"
    seeds.write_bytes(triage_seeds.read_bytes())
    url = ["--base-url", "http://127.0.0.1:9/v1", "--max-attempts", "1"]
    for where in (["-o", str(seeds)], ["-o", str(tmp_path / "x.jsonl"), "--ledger", str(seeds)]):
        r = run(["expand", str(seeds), "-n", "3", *url, *where])
        assert r.code == 2 and "is a seed file" in r.stderr, r.stderr
        assert seeds.read_bytes() == triage_seeds.read_bytes()

"""The README's "your own task against the stand-in" runs as written, in an empty directory."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from support.paths import REPO

MARKER = re.compile(r"<!-- quickstart-own-task:[^>]*-->\n```sh\n(.*?)```", re.S)


def _own_task_block() -> str:
    m = MARKER.search((REPO / "README.md").read_text(encoding="utf-8"))
    assert m, "README.md lost its quickstart-own-task block"
    return m.group(1)


def _synthgen_on_path(bin_dir: Path) -> None:
    # A newcomer's `synthgen` is the venv's entry point; this one runs the checkout under test.
    bin_dir.mkdir()
    shim = bin_dir / "synthgen"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m synthgen "$@"\n')
    shim.chmod(0o755)


def test_block_is_what_the_readme_promises() -> None:
    block = _own_task_block()
    # The stand-in is started on a free port in the background and stopped at the end.
    assert "--port 0 --port-file" in block and block.rstrip().endswith("kill $STANDIN")
    assert re.search(r"^synthgen run my\.yaml .*--count \d+$", block, re.M)


def test_own_task_quickstart_runs_as_written(tmp_path: Path) -> None:
    block = _own_task_block()
    count = int(re.findall(r"--count (\d+)", block)[-1])
    _synthgen_on_path(tmp_path / "bin")
    work = tmp_path / "work"
    work.mkdir()
    env = {
        "PATH": f"{tmp_path / 'bin'}:/usr/bin:/bin",
        "PYTHONPATH": str(REPO),
        "HOME": str(tmp_path),
    }
    # Its own session, so that the stand-in it starts in the background goes when it fails.
    proc = subprocess.Popen(
        ["bash", "-e", "-c", block],
        cwd=work,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=120)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == 0, f"stdout:\n{out}\nstderr:\n{err}"

    run_dir = work / "my-task" / "out"
    lines = (run_dir / "data.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == count
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "complete" and manifest["counts"]["kept"] == count
    # The README's config keeps its judge apart from the generator, and the run says whose
    # answers these are.
    assert manifest["standin"] is True
    assert not [w for w in manifest["warnings"] if w.startswith("judge ")]
    assert {json.loads(line)["meta"]["task"] for line in lines} == {"plain-english"}
    # The commands listed the run dir and reported on it: both reached the screen.
    assert "data.jsonl" in out and "dropped.jsonl" in out
    assert f"{count} records" in out + err

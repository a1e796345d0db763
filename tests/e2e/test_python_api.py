"""The Python API: the example in docs/api.md runs as written, and the stages behave as the CLI."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support.paths import REPO

import synthgen
from synthgen.standin import StandinHandle


def _api_example() -> str:
    text = (REPO / "docs" / "api.md").read_text()
    m = re.search(r"<!-- python-api-example:[^>]*-->\n```python\n(.*?)```", text, re.S)
    assert m, "docs/api.md lost its Python API example"
    return m.group(1)


def test_api_example_runs_as_written(tmp_path: Path) -> None:
    shutil.copytree(REPO / "seeds", tmp_path / "seeds")
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", _api_example()],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    first, second = done.stdout.splitlines()
    status, written, sent, _cost = first.split()
    assert (status, written) == ("complete", "20") and int(sent) > 0
    kept, unique, _warnings = second.split(" ", 2)
    assert int(unique) <= int(kept) <= 20
    assert (tmp_path / "out" / "unique.manifest.json").is_file()


def test_stage_functions_return_typed_summaries_and_print_nothing(
    standin: StandinHandle,
    triage_seeds: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "raw.jsonl"
    s = synthgen.expand(
        triage_seeds, count=10, output=out, base_url=standin.base_url, state_dir=tmp_path / "st"
    )
    assert isinstance(s, synthgen.StageSummary)
    assert s.status == "complete" and s.exit_code == 0 and s.counts["written"] == 10
    assert s.output == str(out) and Path(s.manifest).is_file()
    again = synthgen.expand(
        triage_seeds, count=10, output=out, base_url=standin.base_url, state_dir=tmp_path / "st"
    )
    assert again.requests.sent == 0  # a rerun replays from the cache
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_unknown_keyword_is_a_usage_error(triage_seeds: Path, tmp_path: Path) -> None:
    with pytest.raises(synthgen.SynthgenError) as e:
        synthgen.expand(triage_seeds, output=tmp_path / "o.jsonl", temprature=0.5)
    assert e.value.exit_code == 2 and "temprature" in str(e.value)


def test_summary_json_is_what_the_cli_prints(
    standin: StandinHandle, triage_seeds: Path, tmp_path: Path
) -> None:
    from support.helpers import expand_args, run

    out = tmp_path / "cli.jsonl"
    r = run([*expand_args(triage_seeds, out, standin.base_url, "-n", "5"), "--json"])
    assert r.code == 0, r.stderr
    printed = r.json()
    s = synthgen.StageSummary.model_validate(
        {k: printed[k] for k in synthgen.StageSummary.model_fields if k in printed}
    )
    assert s.to_json() | printed == printed

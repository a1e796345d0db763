"""The state follows the config: the same config run from two working directories shares one
response cache and one run dir beside the config file, so the second run sends nothing and
writes the same bytes (records' config_sha256 and run_id do not depend on the cwd)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from support.runs import BASE, RUBRIC, SEEDS, last_seq, run_cmd, since, standin, synthgen


def test_the_same_config_from_two_directories_sends_nothing_the_second_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    (project / "rubrics").mkdir(parents=True)
    shutil.copy(SEEDS, project / "seeds.jsonl")
    shutil.copy(RUBRIC, project / "rubrics" / "triage.yaml")
    cfg = {k: v for k, v in BASE.items() if k != "outputs"}  # run dir and state dir: defaults
    cfg["seeds"] = ["seeds.jsonl"]
    cfg["filter"] = {
        **BASE["filter"],
        "judge": {**BASE["filter"]["judge"], "rubric": "rubrics/triage.yaml"},
    }
    cfg["filter"]["judge"]["seeds"] = ["seeds.jsonl"]
    (project / "task.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    first, second = tmp_path / "a", tmp_path / "b" / "deeper"
    first.mkdir()
    second.mkdir(parents=True)
    data = project / "out" / "support-triage" / "data.jsonl"
    with standin() as s:
        monkeypatch.chdir(first)
        r = synthgen(*run_cmd(Path("../project/task.yaml"), s.base_url, "--count", "12"))
        assert r.code == 0, r.stderr
        written, sent = data.read_bytes(), last_seq(s)
        assert sent > 0 and (project / ".synthgen" / "state.db").exists()
        monkeypatch.chdir(second)
        r = synthgen(*run_cmd(Path("../../project/task.yaml"), s.base_url, "--count", "12"))
        assert r.code == 0, r.stderr
        assert since(s, sent) == []  # every answer came from the config's cache
    assert data.read_bytes() == written
    assert not (first / ".synthgen").exists() and not (second / ".synthgen").exists()
    assert not (first / "out").exists() and not (second / "out").exists()

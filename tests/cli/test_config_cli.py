"""`synthgen config check` and `config show`: errors at file:line, resolved settings, no secrets."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from support.helpers import run
from support.paths import REPO

CONFIGS = sorted((REPO / "configs").glob("*.yaml"))
KEY = "sk-planted-3c9e1f-DO-NOT-SHOW"
URL_SECRET = "hunter2-in-the-url"


def test_bundled_configs_check_ok() -> None:
    r = run(["config", "check", *map(str, CONFIGS), "--json"])
    assert r.code == 0, r.stderr
    for path in CONFIGS:
        target = 40 if path.stem in ("support-chat", "documents-qa") else 200
        assert f"{path}: ok (task {path.stem}, target {target} records, budget $" in r.stderr
    data = r.json()
    assert data["ok"] and [c["task"] for c in data["configs"]] == [p.stem for p in CONFIGS]


def test_check_names_a_missing_seed_file_by_key_and_line(tmp_path: Path) -> None:
    f = tmp_path / "c.yaml"
    f.write_text("task: t\ntarget: {count: 5}\nseeds:\n  - missing.jsonl\n")
    r = run(["config", "check", str(f)])
    assert r.code == 2
    assert f"{f}:4: seeds[0]: no such file: {tmp_path / 'missing.jsonl'}" in r.stderr
    assert "how to fix:" in r.stderr


def test_check_reports_every_bad_file_and_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("task: t\nendpoint:\n  modle: x\n")
    r = run(["config", "check", str(CONFIGS[0]), str(bad), "--json"])
    assert r.code == 2
    assert f"{CONFIGS[0]}: ok" in r.stderr
    assert f"{bad}:3: endpoint.modle: unknown key" in r.stderr
    assert "valid keys in endpoint:" in r.stderr and "1 of 2 config files have errors" in r.stderr
    assert [c["ok"] for c in r.json()["configs"]] == [True, False]


def test_show_round_trips_and_hides_secrets(tmp_path: Path) -> None:
    f = tmp_path / "c.yaml"
    f.write_text(
        "task: t\ngeneration: {temperature: 0.3}\n"
        f"filter: {{judge: {{base_url: 'http://judge:{URL_SECRET}@judge.example/v1?k=1'}}}}\n"
    )
    env = {
        "OPENAI_API_KEY": KEY,
        "SYNTHGEN_API_KEY": KEY,
        "OPENAI_BASE_URL": f"http://alice:{URL_SECRET}@gen.example:8000/v1",
        "SYNTHGEN_MODEL": "from-env",
    }
    as_yaml = run(["config", "show", str(f)], env=env)
    as_json = run(["config", "show", str(f), "--json"], env=env)
    for r in (as_yaml, as_json):
        assert r.code == 0, r.stderr
        for needle in (KEY, "sk-", URL_SECRET, "alice"):
            assert needle not in r.stdout + r.stderr
    data = yaml.safe_load(as_yaml.stdout)
    assert data == json.loads(as_json.stdout)
    assert data["generation"]["temperature"] == 0.3 and data["endpoint"]["model"] == "from-env"
    assert data["endpoint"]["base_url"] == "http://gen.example:8000/v1"
    assert data["filter"]["judge"]["base_url"] == "http://judge.example/v1"
    assert data["target"] == {"count": 100}  # defaults are shown too


def test_show_refuses_a_bad_config_with_its_line(tmp_path: Path) -> None:
    f = tmp_path / "c.yaml"
    f.write_text("task: t\nbudget:\n  max_cost_usd: -1\n")
    r = run(["config", "show", str(f)])
    assert r.code == 2 and r.stdout == ""
    assert f"{f}:3: budget.max_cost_usd: Input should be greater than 0" in r.stderr


def test_help_ends_with_examples() -> None:
    for cmd in ("check", "show"):
        r = run(["config", cmd, "--help"])
        assert r.code == 0 and "Examples:" in r.stdout and f"synthgen config {cmd}" in r.stdout

"""No API key, Authorization header or credentialed URL in anything synthgen writes."""

from __future__ import annotations

import signal
from pathlib import Path

from support.helpers import expand_args, run, spawn, wait_until

from synthgen.config import load_config
from synthgen.standin import StandinHandle

KEY = "sk-planted-7f3a9c1e5b-DO-NOT-LEAK"
URL_SECRET = "hunter2-url-password"


def _all_bytes(root: Path) -> list[tuple[Path, bytes]]:
    return [(p, p.read_bytes()) for p in root.rglob("*") if p.is_file()]


def test_planted_key_never_reaches_disk_or_output(
    standin: StandinHandle, triage_seeds: Path, tmp_path: Path
) -> None:
    standin.set_faults(
        require_api_key=KEY, p_malformed=0.2, p_truncate=0.1, p_429=0.1, retry_after_s=0.01
    )
    work = tmp_path / "work"
    work.mkdir()
    host = standin.base_url.split("//", 1)[1]
    cred_url = f"http://alice:{URL_SECRET}@{host}"
    args = expand_args(triage_seeds, work / "raw.jsonl", standin.base_url, "-n", "30", "--json")
    r = run(args, env={"OPENAI_API_KEY": KEY})
    assert r.code == 0, r.stderr
    # A URL with credentials in it (user info goes out as basic auth, so the stand-in stops
    # checking the bearer key), interrupted: partial files and its manifest must be clean too.
    standin.set_faults(latency_s=0.05, require_api_key=None)
    proc = spawn(
        expand_args(triage_seeds, work / "more.jsonl", cred_url, "-n", "200", "--concurrency", "2"),
        work,
        env={"OPENAI_API_KEY": KEY},
    )
    partial = work / "more.jsonl.partial"
    wait_until(
        lambda: (partial.exists() and partial.stat().st_size) or proc.poll() is not None,
        timeout=20,
        what="the run to start writing its partial output",
    )
    assert proc.poll() is None, "the run ended before it could be interrupted mid-way"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    files = _all_bytes(work)
    assert any(p.name == "state.db" for p, _ in files)
    assert any(p.name == "raw.manifest.json" for p, _ in files)
    for needle in (KEY, URL_SECRET, "Bearer", "Authorization", "alice:"):
        for path, data in files:
            assert needle.encode() not in data, f"{needle!r} found in {path}"
        for stream in (r.stdout, r.stderr, out, err):
            assert needle not in stream
    manifest = (work / "more.manifest.json").read_text()
    assert f'"base_url": "http://{host}"' in manifest


def test_config_file_with_a_key_is_refused(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("endpoint:\n  api_key: sk-oops\n")
    import pytest

    from synthgen.errors import ConfigError

    with pytest.raises(ConfigError) as e:
        load_config(cfg, {})
    assert "must not hold API keys" in e.value.render()
    assert "sk-oops" not in e.value.render()

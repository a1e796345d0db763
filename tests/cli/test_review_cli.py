"""`synthgen review` as a command: the URL on stdout, Ctrl-C stops it cleanly, and user
errors (another host without a token, a missing extra) are exit 2 with a hint."""

from __future__ import annotations

import signal
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from support.helpers import run, spawn
from support.review_data import review_run


def test_review_prints_its_url_serves_it_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    data = review_run(tmp_path)
    proc = spawn(["review", str(data), "--no-open", "--sample", "5"], cwd=tmp_path)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and "/audit?token=" in url
        with urllib.request.urlopen(url, timeout=30) as r:
            assert r.status == 200 and b"synthgen review" in r.read()
        with pytest.raises(urllib.error.HTTPError) as denied:
            urllib.request.urlopen(url.split("?")[0], timeout=30)
        assert denied.value.code == 403
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Ctrl-C stops it" in err and "Traceback" not in err


def test_another_host_needs_a_token_and_a_missing_extra_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = review_run(tmp_path)
    r = run(["review", str(data), "--no-open", "--host", "0.0.0.0"])
    assert r.code == 2 and "needs an explicit --token" in r.stderr
    r = run(["review", str(data), "--no-open", "--token", "short"])
    assert r.code == 2 and "too short" in r.stderr
    r = run(["review", str(tmp_path / "missing"), "--no-open"])
    assert r.code == 2 and "does not exist" in r.stderr
    import synthgen.webui.server as server

    monkeypatch.setattr(server, "NEEDS", ("starlette", "not_installed_here"))
    r = run(["review", str(data), "--no-open"])
    assert r.code == 2 and "synthgen[review]" in r.stderr and "Traceback" not in r.stderr

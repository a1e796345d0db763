"""`synthgen standin-server` as a user runs it: a busy port is a usage error naming the
port (exit 2), and SIGTERM stops it promptly even with an answer stalled mid-stream."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from support.helpers import run, spawn, wait_until

pytestmark = pytest.mark.timeout(60)
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port something else is listening on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield int(s.getsockname()[1])


def test_a_busy_port_is_exit_2_naming_the_port(busy_port: int) -> None:
    r = run(["standin-server", "--port", str(busy_port)])
    assert r.code == 2, r.stderr
    assert f"cannot listen on 127.0.0.1:{busy_port}: the port is already in use" in r.stderr
    assert "--port" in r.stderr and "this is a bug" not in r.stderr
    assert "Traceback" not in r.stderr and "OSError" not in r.stderr


def test_a_busy_port_is_exit_2_from_python_m_synthgen_standin(busy_port: int) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "synthgen.standin", "--port", str(busy_port)],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert done.returncode == 2, done.stderr
    assert f"127.0.0.1:{busy_port}: the port is already in use" in done.stderr


def test_sigterm_stops_it_with_an_answer_stalled_mid_stream(tmp_path: Path) -> None:
    port_file = tmp_path / "port"
    faults = '{"stall_after_chunks": 1, "stall_s": 600}'
    proc = spawn(
        ["standin-server", "--port", "0", "--port-file", str(port_file), "--faults", faults],
        tmp_path,
    )
    try:
        wait_until(lambda: port_file.exists() or proc.poll() is not None, what="listening")
        assert proc.poll() is None, proc.communicate()
        url = f"http://127.0.0.1:{port_file.read_text()}/v1/chat/completions"
        body = {
            "model": "standin-fake",
            "stream": True,
            "messages": [{"role": "user", "content": "Write three long paragraphs."}],
        }
        with httpx2.Client(timeout=30) as http, http.stream("POST", url, json=body) as resp:
            lines = resp.iter_lines()
            assert next(lines).startswith("data:")  # the answer has begun, then stalls
            proc.send_signal(signal.SIGTERM)
            # bounded by pytest's timeout, not a wall-clock assertion: a stand-in that
            # waited for the stall to end would take 600 s
            _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert "Traceback" not in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

"""The proxy suite's start-up check: a LiteLLM that exits is reported with its log's tail
(tests/proxy then fails with it, rather than skipping as when LiteLLM is absent)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from support.litellm import wait_ready


def test_a_proxy_that_exits_is_reported_with_its_log_tail(tmp_path: Path) -> None:
    log = tmp_path / "litellm.log"
    crash = "import sys; print('ImportError: no module named uvicorn'); sys.exit(3)"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-c", crash], stdout=out)
    proc.wait(timeout=60)  # exited: wait_ready must say so without polling the URL
    failed = wait_ready(proc, "http://127.0.0.1:9", log, timeout=60)
    assert failed is not None
    assert "litellm exited with 3" in failed
    assert "ImportError: no module named uvicorn" in failed

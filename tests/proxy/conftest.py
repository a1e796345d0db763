"""The LiteLLM proxy suite's session: the proxy and its two stand-in replicas (see
support/litellm.py); without LiteLLM installed every test here skips and says why."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import pytest
from support.litellm import (
    LITELLM_VENV,
    REPLICA_BURST,
    REPLICA_RPM,
    UPSTREAMS,
    Pool,
    StampedLog,
    free_port,
    missing,
    proxy_config,
    wait_ready,
)

from synthgen.standin import StandinConfig, run_in_thread


@pytest.fixture(scope="session")
def pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pool]:
    """LiteLLM on a free 127.0.0.1 port, routing "pool" to two rate-limited stand-ins."""
    reason = missing()
    if reason:
        pytest.skip(reason)
    replicas = []
    for _ in UPSTREAMS:
        cfg = StandinConfig(rpm_limit=REPLICA_RPM, rpm_burst=REPLICA_BURST, ratelimit_headers=True)
        handle = run_in_thread(cfg)
        handle.server._log = StampedLog(maxlen=10_000)  # timestamps for the rate measured
        replicas.append(handle)
    work = tmp_path_factory.mktemp("litellm")
    (work / "config.yaml").write_text(proxy_config(replicas))
    port, log = free_port(), work / "litellm.log"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(work),
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # no download of the price list
        "LITELLM_TELEMETRY": "False",
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                str(LITELLM_VENV / "bin" / "litellm"),
                "--config",
                str(work / "config.yaml"),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            cwd=work,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        failed = wait_ready(proc, base, log, timeout=120)
        if failed:
            pytest.skip(failed)
        yield Pool(base + "/v1", replicas)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        for r in replicas:
            r.stop()

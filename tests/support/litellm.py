"""LiteLLM's proxy in front of two stand-in replicas (tests/proxy).

`make install-proxy` puts LiteLLM (`litellm[proxy]`, pinned) in a venv of its own under .cache/;
without it every test here skips and says so; installed but failing to start, they fail
with its log's tail. The replicas are stand-ins (placeholder text,
not models) that each allow 60 requests a minute; the proxy routes one model name, "pool",
to both, at random, and retries nothing itself.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx2

from support.paths import REPO
from synthgen.standin import StandinConfig, StandinHandle, run_in_thread

LITELLM_VENV = REPO / ".cache" / "litellm-venv"
MASTER_KEY = "sk-synthgen-proxy-test-7f3a9c2e5b1d4f60"  # the proxy refuses to start without one
UPSTREAMS = ("upstream-alpha", "upstream-beta")
REPLICA_RPM = 60
# Each replica lets 5 requests through at once: a shuffling router over two buckets of one
# request loses a third of the pool to bad luck, whatever the client does.
REPLICA_BURST = 5


@dataclass
class Pool:
    """The proxy's base URL, and the replicas behind it."""

    base_url: str
    replicas: list[StandinHandle]

    def accepted(self) -> list[list[float]]:
        """When each replica answered a chat request with 200 (monotonic seconds, the
        stand-in's log stamp), one list per replica."""
        out = []
        for r in self.replicas:
            log = r.stats()["log"]
            assert isinstance(log, list)
            ok = [e for e in log if e["status"] == 200 and e["path"].endswith("chat/completions")]
            out.append([e["t"] for e in ok])
        return out

    def accepted_times(self) -> list[float]:
        """`accepted`, all replicas together, in order."""
        return sorted(t for times in self.accepted() for t in times)

    def reset(self) -> None:
        """Clear the replicas' counters and logs (and refill their buckets)."""
        for r in self.replicas:
            r.reset()


def pool_use(times: list[float]) -> float:
    """Answers ÷ what the pool allowed over their span (its replicas' burst plus their rate);
    one replica's announced 60/min would allow about half."""
    span = times[-1] - times[0] if times else 0.0
    return len(times) / (len(UPSTREAMS) * (REPLICA_BURST + REPLICA_RPM / 60 * span))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def proxy_config(replicas: list[StandinHandle]) -> str:
    models = "".join(
        f"  - model_name: pool\n"
        f"    litellm_params:\n"
        f"      model: openai/{name}\n"
        f"      api_base: {r.base_url}\n"
        f"      api_key: standin\n"
        for name, r in zip(UPSTREAMS, replicas, strict=True)
    )
    return (
        f"model_list:\n{models}"
        "litellm_settings:\n  num_retries: 0\n  request_timeout: 30\n"
        "router_settings:\n  routing_strategy: simple-shuffle\n  disable_cooldowns: true\n"
        f"general_settings:\n  master_key: {MASTER_KEY}\n"
    )


def missing() -> str | None:
    exe = LITELLM_VENV / "bin" / "litellm"
    if not exe.is_file():
        return (
            f"LiteLLM is not installed at {exe.relative_to(REPO)} "
            "(make install-proxy creates that venv: pip install 'litellm[proxy]==1.108.7')"
        )
    return None


class ProxyFailed(Exception):
    """LiteLLM is installed but did not start: a broken install the suite must not hide."""


def log_tail(log: Path, lines: int = 30) -> str:
    """The last lines LiteLLM wrote (stdout and stderr), for a failure message."""
    return "\n".join(log.read_text(errors="replace").strip().splitlines()[-lines:])


def wait_ready(proc: subprocess.Popen[bytes], url: str, log: Path, timeout: float) -> str | None:
    """None once the proxy answers; else why it did not."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return f"litellm exited with {proc.returncode}; its log ends:\n{log_tail(log)}"
        try:
            if httpx2.get(url + "/health/liveliness", timeout=2).status_code == 200:
                return None
        except httpx2.HTTPError:
            pass
        time.sleep(0.25)  # polling for readiness, not waiting a fixed time
    return f"litellm did not answer within {timeout:.0f} s; its log ends:\n{log_tail(log)}"


@contextmanager
def running_pool(work: Path, timeout: float = 120) -> Iterator[Pool]:
    """LiteLLM on a free 127.0.0.1 port, routing "pool" to two rate-limited stand-ins;
    ProxyFailed (with LiteLLM's log tail) when it is installed but does not start."""
    replicas = []
    for _ in UPSTREAMS:
        cfg = StandinConfig(rpm_limit=REPLICA_RPM, rpm_burst=REPLICA_BURST, ratelimit_headers=True)
        replicas.append(run_in_thread(cfg))
    (work / "config.yaml").write_text(proxy_config(replicas))
    port, log = free_port(), work / "litellm.log"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(work),
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # no download of the price list
        "LITELLM_TELEMETRY": "False",
    }
    exe = str(LITELLM_VENV / "bin" / "litellm")
    args = [exe, "--config", str(work / "config.yaml"), "--host", "127.0.0.1"]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*args, "--port", str(port)], cwd=work, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{port}"
    try:
        failed = wait_ready(proc, base, log, timeout=timeout)
        if failed:
            raise ProxyFailed(failed)
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

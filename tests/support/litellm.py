"""LiteLLM's proxy in front of two stand-in replicas (tests/proxy).

`make install-proxy` puts LiteLLM (`litellm[proxy]`, pinned) in a venv of its own under .cache/;
without it every test here skips and says so. The replicas are stand-ins (placeholder text,
not models) that each allow 60 requests a minute; the proxy routes one model name, "pool",
to both, at random, and retries nothing itself.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2

from support.paths import REPO
from synthgen.standin import StandinHandle

LITELLM_VENV = REPO / ".cache" / "litellm-venv"
MASTER_KEY = "sk-synthgen-proxy-test-7f3a9c2e5b1d4f60"  # the proxy refuses to start without one
UPSTREAMS = ("upstream-alpha", "upstream-beta")
REPLICA_RPM = 60
# Each replica lets 5 requests through at once: a shuffling router over two buckets of one
# request loses a third of the pool to bad luck, whatever the client does.
REPLICA_BURST = 5


class StampedLog(deque[dict[str, Any]]):
    """A stand-in's request log that notes when each entry was logged (monotonic seconds)."""

    def append(self, entry: dict[str, Any]) -> None:
        entry["t"] = time.monotonic()
        super().append(entry)


@dataclass
class Pool:
    """The proxy's base URL, and the replicas behind it."""

    base_url: str
    replicas: list[StandinHandle]

    def accepted_times(self) -> list[float]:
        """When each replica answered a chat request with 200, all replicas together."""
        out = []
        for r in self.replicas:
            log = r.stats()["log"]
            assert isinstance(log, list)
            out += [
                e["t"] for e in log if e["status"] == 200 and e["path"].endswith("chat/completions")
            ]
        return sorted(out)

    def reset(self) -> None:
        """Clear the replicas' counters and logs (and refill their buckets)."""
        for r in self.replicas:
            r.reset()


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


def wait_ready(proc: subprocess.Popen[bytes], url: str, log: Path, timeout: float) -> str | None:
    """None once the proxy answers; else why it did not."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace").strip().splitlines()[-5:]
            return f"litellm exited with {proc.returncode}: " + " / ".join(tail)
        try:
            if httpx2.get(url + "/health/liveliness", timeout=2).status_code == 200:
                return None
        except httpx2.HTTPError:
            pass
        time.sleep(0.25)  # polling for readiness, not waiting a fixed time
    return f"litellm did not answer within {timeout:.0f} s (log: {log})"

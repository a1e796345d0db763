"""Helpers for driving the CLI the way a user does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from synthgen.cli.app import cli


@dataclass
class Ran:
    code: int
    stdout: str
    stderr: str

    def json(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.stdout)
        return data


def run(args: list[str], env: dict[str, str] | None = None) -> Ran:
    """Run the CLI in-process (click's runner), as `synthgen ARGS`."""
    result = CliRunner().invoke(cli, args, env=env, catch_exceptions=False)
    return Ran(result.exit_code, result.stdout, result.stderr)


def spawn(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """Start `python -m synthgen ARGS` as a real process (for kill -9 and Ctrl-C tests)."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "SYNTHGEN_"))}
    full_env.update(env or {})
    return subprocess.Popen(
        [sys.executable, "-m", "synthgen", *args],
        cwd=cwd,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def expand_args(seeds: Path, out: Path, base_url: str, *extra: str) -> list[str]:
    return [
        "expand",
        str(seeds),
        "-o",
        str(out),
        "--base-url",
        base_url,
        "--model",
        "standin-fake",
        "--state-dir",
        str(out.parent / ".synthgen"),
        *extra,
    ]


def wait_until(
    predicate: Callable[[], object], timeout: float = 10.0, what: str = "the condition"
) -> object:
    """Poll `predicate` until it returns something truthy (returned); fail after `timeout`.

    For waiting on a condition the test can observe, instead of sleeping a fixed time and
    hoping it has happened. The poll interval is only how often it looks.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.01)

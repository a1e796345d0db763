"""People-facing output on stderr: progress that suits a terminal or a CI log."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import TextIO

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
        self.open = False  # a redrawn line is on screen, not yet ended

    def rate(self, done: int) -> float:
        """Items per second since the line was made."""
        return done / max(1e-9, self.clock() - self.start)

    def show(self, text: str, final: bool = False) -> None:
        """Show `text`, at most once per interval unless it is the final state."""
        now = self.clock()
        if now - self.last < self.interval and not final:
            return
        self.last = now
        if self.tty:
            self.stream.write("\r\x1b[2K" + text)
            self.open = True
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def done(self) -> None:
        """End a redrawn line so the next message starts on a line of its own."""
        if self.open:
            self.stream.write("\n")
            self.stream.flush()
            self.open = False


def say(message: str) -> None:
    """Tell the person running the command something, on stderr so stdout stays data only."""
    sys.stderr.write(message + "\n")
    sys.stderr.flush()

"""People-facing output on stderr: progress that suits a terminal or a CI log."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from synthgen.llm.stream import LiveRequests

CI_INTERVAL_S = 5.0
RATE_WINDOW_S = 10.0  # tokens/s is measured over this much recent time


class Console:
    """One command's talk to people on stderr: its messages, the progress line redrawn in
    place now (so a message never lands on its end), and its clients' live counters. The
    command makes one and passes it down, as rich passes its `Console`."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.open_line: ProgressLine | None = None  # the line redrawn in place now, if any
        self._requests: LiveRequests | None = None

    @property
    def requests(self) -> LiveRequests:
        """The live counters the command hands to the API and its line reads (made on first
        use: a command that sends nothing never loads the client engine)."""
        if self._requests is None:
            from synthgen.llm.stream import LiveRequests

            self._requests = LiveRequests()
        return self._requests

    def say(self, message: str) -> None:
        """Tell the person running the command something; stdout stays data only."""
        if self.open_line is not None:
            self.open_line.done()  # a message never lands on the end of a redrawn line
        self.stream.write(message + "\n")
        self.stream.flush()

    def progress(
        self, clock: Callable[[], float] = time.monotonic, interval: float | None = None
    ) -> ProgressLine:
        """A progress line on this console."""
        return ProgressLine(self.stream, clock, interval, self)

    def request_line(self, line: ProgressLine, text: str) -> LiveLine:
        """A live line that shows this console's requests in flight and tokens per second."""
        live = self.requests
        return LiveLine(line, Pulse(live.totals, line.clock, sent=live.sent).text, text)


class ProgressLine:
    """One line redrawn in place on a TTY; in CI, a plain line every few seconds."""

    def __init__(
        self,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
        interval: float | None = None,
        console: Console | None = None,
    ) -> None:
        """`console`: the one whose messages must not land on this line's end."""
        self.console = console
        self.stream = stream or (console.stream if console else sys.stderr)
        self.tty = self.stream.isatty() and not os.environ.get("CI")
        # NO_COLOR or a dumb terminal: no escape codes; "\r" and padding redraw the line.
        self.plain = bool(os.environ.get("NO_COLOR")) or os.environ.get("TERM") == "dumb"
        self.width = 0  # the longest text drawn in place, which padding must cover
        self.clock = clock
        self.interval = interval if interval is not None else (0.2 if self.tty else CI_INTERVAL_S)
        self.last = -1e9
        self.start = clock()
        self.open = False  # a redrawn line is on screen, not yet ended
        self.lock = threading.Lock()  # the event loop and the ticker both draw

    def rate(self, done: int) -> float:
        """Items per second since the line was made."""
        return done / max(1e-9, self.clock() - self.start)

    def show(self, text: str, final: bool = False) -> None:
        """Show `text`, at most once per interval unless it is the final state."""
        with self.lock:
            now = self.clock()
            if now - self.last < self.interval and not final:
                return
            self.last = now
            if self.tty:
                pad = " " * max(0, self.width - len(text)) if self.plain else ""
                self.width = max(self.width, len(text))
                self.stream.write(("\r" if self.plain else "\r\x1b[2K") + text + pad)
                self.open = True
                if self.console is not None:
                    self.console.open_line = self
            else:
                self.stream.write(text + "\n")
            self.stream.flush()

    def done(self) -> None:
        """End a redrawn line so the next message starts on a line of its own."""
        with self.lock:
            if self.open:
                self.stream.write("\n")
                self.stream.flush()
                self.open = False


class Pulse:
    """Requests in flight and tokens per second, read from live counters over recent time."""

    def __init__(
        self,
        read: Callable[[], tuple[int, int]],
        clock: Callable[[], float] = time.monotonic,
        window: float = RATE_WINDOW_S,
        sent: Callable[[], int] | None = None,
    ) -> None:
        """`read` gives (requests in flight, tokens received so far); `sent`, the requests
        sent so far, which move even when no answer streams."""
        self.read, self.clock, self.window, self.sent = read, clock, window, sent
        self.samples: deque[tuple[float, int]] = deque()

    def text(self) -> str:
        """What is going on now ("3 in flight · 41 tok/s"); "" while nothing is."""
        in_flight, tokens = self.read()
        now = self.clock()
        self.samples.append((now, tokens))
        # Keep one sample older than the window, so the rate always spans the whole window.
        while len(self.samples) > 2 and now - self.samples[1][0] >= self.window:
            self.samples.popleft()
        t0, k0 = self.samples[0]
        # When an answer ends, its streamed estimate becomes the endpoint's count, which may be
        # smaller: the counter can step back, and a rate is never negative.
        rate = max(0.0, (tokens - k0) / (now - t0)) if now > t0 else 0.0
        if not in_flight and rate <= 0:
            return ""
        sent = f" · {self.sent()} sent" if self.sent is not None else ""
        return f"{in_flight} in flight · {rate:.0f} tok/s{sent}"


class LiveLine:
    """A progress line that stays alive between events: the last text a stage reported plus
    what `extra` says now, redrawn by a ticker while nothing else happens."""

    def __init__(self, line: ProgressLine, extra: Callable[[], str], text: str = "") -> None:
        self.line, self.extra, self.text = line, extra, text
        self.stopped = threading.Event()
        self.lock = threading.Lock()  # `extra` may keep state (Pulse does)

    def update(self, text: str, final: bool = False) -> None:
        """A stage's news: remember it and show it with the live numbers."""
        with self.lock:
            self.text = text
            self.line.show(self.compose(), final)

    def tick(self) -> None:
        """Redraw the last news with fresh live numbers (the ticker calls this)."""
        with self.lock:
            if self.text:
                self.line.show(self.compose())

    def compose(self) -> str:
        """The line as shown: the stage's text, then the live numbers if there are any."""
        extra = self.extra()
        return f"{self.text} · {extra}" if extra else self.text

    @contextmanager
    def ticking(self, wait: Callable[[float], bool] | None = None) -> Iterator[None]:
        """Redraw on a thread while the block runs, so a long wait still shows life: on a
        terminal several times a second, in a CI log every few seconds (the line's interval).
        `wait(seconds)` is the timer (True: stop); tests give one that moves a fake clock."""
        timer = wait or self.stopped.wait
        thread = threading.Thread(
            target=self._run, args=(timer,), name="synthgen-progress", daemon=True
        )
        thread.start()
        try:
            yield
        finally:
            self.stopped.set()
            thread.join()

    def _run(self, wait: Callable[[float], bool]) -> None:
        # Twice per interval: the line's own throttle keeps it to one draw per interval.
        while not wait(self.line.interval / 2) and not self.stopped.is_set():
            self.tick()


def say(message: str) -> None:
    """A message on stderr, for a command that draws no progress line (else `Console.say`)."""
    sys.stderr.write(message + "\n")
    sys.stderr.flush()

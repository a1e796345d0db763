"""The live progress line ticks on its own: several times a second on a terminal, every few
seconds in a CI log, and its numbers move between a stage's reports. Time is a fake clock
moved by the ticker's injected timer: nothing here sleeps or reads the wall clock."""

from __future__ import annotations

import io
import re
import threading

import pytest

from synthgen.core.console import CI_INTERVAL_S, Console, LiveLine, ProgressLine, Pulse


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class World:
    """A fake clock, and requests that go on being sent while the stage reports nothing."""

    def __init__(self, steps: int) -> None:
        self.t, self.sent, self.tokens, self.steps = 0.0, 0, 0, steps
        self.finished = threading.Event()

    def clock(self) -> float:
        return self.t

    def counters(self) -> tuple[int, int]:
        return 4, self.tokens

    def wait(self, seconds: float) -> bool:
        """The ticker's timer: `seconds` pass, a request a second is answered."""
        if self.steps == 0:
            self.finished.set()
            return True
        self.steps -= 1
        self.t += seconds
        self.sent, self.tokens = int(self.t), int(self.t) * 30
        return False


def tick_for(live: LiveLine, world: World) -> None:
    with live.ticking(world.wait):
        assert world.finished.wait(timeout=60)  # the ticker's own thread runs the fake time


def test_in_a_ci_log_a_plain_line_every_few_seconds_whose_numbers_move(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CI", "1")
    world, out = World(steps=24), io.StringIO()  # 24 half-intervals: 60 fake seconds
    line = ProgressLine(out, world.clock)
    assert line.interval == CI_INTERVAL_S
    live = LiveLine(line, Pulse(world.counters, world.clock, sent=lambda: world.sent).text)
    live.update("run: 0/200 kept · round 1 expand")
    tick_for(live, world)
    lines = out.getvalue().splitlines()
    assert len(lines) == 1 + 12  # the report, then one line per 5 s
    sent = [int(m.group(1)) for m in (re.search(r"· (\d+) sent", x) for x in lines[1:]) if m]
    assert sent == list(range(5, 65, 5))  # it moves, though the stage reported nothing new
    assert all(x.startswith("run: 0/200 kept · round 1 expand · 4 in flight") for x in lines)
    assert "\x1b" not in out.getvalue() and "\r" not in out.getvalue()


def test_on_a_terminal_the_line_is_redrawn_more_than_once_a_second(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    world, term = World(steps=100), Terminal()
    console = Console(term)
    line = console.progress(world.clock)
    assert line.interval <= 1.0
    live = LiveLine(line, Pulse(world.counters, world.clock, sent=lambda: world.sent).text)
    live.update("expand: 0/20 records")
    tick_for(live, world)
    draws = term.getvalue().split("\r\x1b[2K")[1:]
    seconds = world.t
    assert len(draws) >= seconds  # at least one redraw per second of fake time
    assert draws[-1].endswith(f"· {int(seconds)} sent") and "· 0 sent" not in draws[-1]


def test_no_color_redraws_without_escape_codes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    world, term = World(steps=0), Terminal()
    line = ProgressLine(term, world.clock, interval=0.2)
    line.show("filter: 10/100 rows judged")
    world.t += 1
    line.show("filter: 11/100")
    assert "\x1b" not in term.getvalue()
    assert term.getvalue() == "\rfilter: 10/100 rows judged\rfilter: 11/100" + " " * 12

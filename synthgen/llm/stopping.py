"""The one "stop sending" flag of a command: the first Ctrl-C or SIGTERM sets it, and every
client reads it before it starts a request. A stopping run so pays for nothing new, while
what is already in flight lands in the cache for the rerun; the second signal aborts."""

from __future__ import annotations

from synthgen.errors import Interrupted

# How long requests already in flight may take to land once stopping (a slow answer past it
# is cancelled, and paid again by the rerun).
GRACE_S = 10.0


class Stopping(Interrupted):
    """A request not sent because the command is stopping (the first Ctrl-C or SIGTERM)."""


class StopFlag:
    """Set once per command by its first stop signal; an abort follows the second."""

    def __init__(self, grace_s: float = GRACE_S) -> None:
        self.grace_s = grace_s
        self.requested = False  # no client starts a new request
        self.aborted = False  # everything in flight was cancelled

    def request(self) -> bool:
        """Stop sending; True the first time (the caller says so), False once already set."""
        first = not self.requested
        self.requested = True
        return first

    def check(self) -> None:
        """Raise Stopping if no new request may start."""
        if self.requested:
            raise Stopping(
                "interrupted; what was done is written", hint="run the same command to resume"
            )

"""Where the expand engine puts what it commits: a Sink (files, for `expand`), or the caller
(`run` screens and judges each round's candidates as they come, with no file between: its
RoundStream in pipeline/expand_round.py)."""

from __future__ import annotations

from typing import Protocol

from synthgen.records import LedgerEntry, Record


class Consumer(Protocol):
    """What the expand engine needs of a sink: a count, records in, drops in, a flush."""

    @property
    def count(self) -> int:
        """Records taken so far."""
        ...

    def add(self, rec: Record) -> bool:
        """Take a new record; False for an id already taken."""
        ...

    def drop(self, entry: LedgerEntry) -> None:
        """Take a dropped candidate's ledger entry."""
        ...

    def flush(self) -> None:
        """Make what was taken durable (nothing to do in memory)."""
        ...

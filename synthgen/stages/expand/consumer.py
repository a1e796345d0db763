"""Where the expand engine puts what it commits: a Sink (files, for `expand`), or the memory
of the caller (`run` screens each round's candidates as they are, with no file between)."""

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


class Collected:
    """A Consumer in memory, deduplicating as a Sink does: each record id and drop id once."""

    def __init__(self) -> None:
        self.records: list[Record] = []
        self.drops: list[LedgerEntry] = []
        self._ids: set[str] = set()
        self._drop_ids: set[str] = set()

    @property
    def count(self) -> int:
        """Records taken so far."""
        return len(self.records)

    def add(self, rec: Record) -> bool:
        """Take a new record; False for an id already taken."""
        if rec.id in self._ids:
            return False
        self._ids.add(rec.id)
        self.records.append(rec)
        return True

    def drop(self, entry: LedgerEntry) -> None:
        """Take a drop once, however often it is ledgered."""
        if entry.id not in self._drop_ids:
            self._drop_ids.add(entry.id)
            self.drops.append(entry)

    def flush(self) -> None:
        """Nothing to write: the caller holds everything."""

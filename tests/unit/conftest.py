"""Fixtures the unit tests share."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest

from synthgen.core.store import migrate


@pytest.fixture
def db() -> Iterator[sqlite3.Connection]:
    """An empty state database in memory, migrated: a client's cache and capabilities."""
    conn = sqlite3.connect(":memory:", isolation_level=None)
    migrate(conn)
    yield conn
    conn.close()

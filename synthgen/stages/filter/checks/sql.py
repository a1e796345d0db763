"""The `sql` check: the output query runs in an in-memory SQLite built from its schema.

An authorizer allows reads only (a write, ATTACH or PRAGMA fails to prepare, so nothing is
ever changed); a progress handler stops a query after a number of virtual-machine steps
(deterministic: the same query stops at the same point on every machine) or a wall-clock
backstop; at most `max_rows` rows are fetched.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any

from synthgen.errors import UsageError
from synthgen.records import Seed
from synthgen.settings.checks import SqlCheck
from synthgen.stages.filter.checks.outcome import CheckFailure, Subject

# Progress handler granularity: SQLite calls it every this many VM instructions.
_STEP = 1000
# What a read-only query may do: read tables, call functions, select, recurse.
_ALLOWED = frozenset(
    {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE}
)
# The authorizer's action codes (SQLite's), named as the drop's detail says them.
_ACTION_NAMES = [
    "CREATE_INDEX",
    "CREATE_TABLE",
    "CREATE_TEMP_INDEX",
    "CREATE_TEMP_TABLE",
    "CREATE_TEMP_TRIGGER",
    "CREATE_TEMP_VIEW",
    "CREATE_TRIGGER",
    "CREATE_VIEW",
    "DELETE",
    "DROP_INDEX",
    "DROP_TABLE",
    "DROP_TEMP_INDEX",
    "DROP_TEMP_TABLE",
    "DROP_TEMP_TRIGGER",
    "DROP_TEMP_VIEW",
    "DROP_TRIGGER",
    "DROP_VIEW",
    "INSERT",
    "PRAGMA",
    "READ",
    "SELECT",
    "TRANSACTION",
    "UPDATE",
    "ATTACH",
    "DETACH",
    "ALTER_TABLE",
    "REINDEX",
    "ANALYZE",
    "CREATE_VTABLE",
    "DROP_VTABLE",
    "FUNCTION",
    "SAVEPOINT",
    "RECURSIVE",
]
_ACTIONS = {
    getattr(sqlite3, f"SQLITE_{n}"): n.lower().replace("_", " ")
    for n in _ACTION_NAMES
    if hasattr(sqlite3, f"SQLITE_{n}")
}
_FENCE_RE = re.compile(r"^\s*```(?:sql)?\s*\n?(.*?)\n?```\s*$", re.S | re.I)


def _translate(sql: str, dialect: str | None) -> str:
    if not dialect:
        return sql
    import sqlglot

    try:
        return ";\n".join(sqlglot.transpile(sql, read=dialect, write="sqlite"))
    except sqlglot.errors.SqlglotError as e:
        raise _Untranslatable(f"{dialect} → sqlite: {str(e).splitlines()[0]}"[:300]) from None


class _Untranslatable(Exception):
    """sqlglot could not read the statement in the configured dialect."""


def query_of(output: str) -> str:
    """The statement an output holds: a fenced block's body, without the closing ';'."""
    m = _FENCE_RE.match(output)
    text = (m.group(1) if m else output).strip()
    return text[:-1].rstrip() if text.endswith(";") else text


class SqlExecutor:
    """Runs output queries against the subject's schema (`input`, or the configured file)."""

    name = "sql"

    def __init__(self, cfg: SqlCheck, seeds: Sequence[Seed] = ()) -> None:
        self.cfg = cfg
        self.executor = f"sqlite {sqlite3.sqlite_version}"
        self.schema = _read(cfg.schema_file, "filter.checks.sql.schema_file")
        self.fixtures = _read(cfg.fixtures, "filter.checks.sql.fixtures")
        if cfg.dialect:
            try:
                import sqlglot
            except ImportError:
                raise UsageError(
                    "filter.checks.sql.dialect needs the sqlglot library",
                    hint="pip install 'synthgen[checks]'",
                ) from None

            try:
                sqlglot.Dialect.get_or_raise(cfg.dialect)
            except ValueError as e:
                raise UsageError(
                    f"filter.checks.sql.dialect: {e}", hint="a dialect sqlglot knows, e.g. postgres"
                ) from None
            self.executor += f" via sqlglot {version('sqlglot')} from {cfg.dialect}"
        # sql_empty_result's yardstick: per schema, the first seed whose query returns rows
        # on the fixtures (a schema whose seeds all return nothing flags nothing).
        self.seed_rows: dict[str, str] = {}
        if self.fixtures:
            for seed in seeds:
                key = _schema_key(self.schema if self.schema is not None else seed.input)
                if key not in self.seed_rows and self._returns_rows(seed.input, seed.output):
                    self.seed_rows[key] = seed.id

    def run(self, subject: Subject) -> CheckFailure | None:
        """Prepare and run the query; None when it runs (and returns rows on fixtures)."""
        schema = self.schema if self.schema is not None else subject.input
        try:
            query = _translate(query_of(subject.output), self.cfg.dialect)
            con, seeded = self._database(_translate(schema, self.cfg.dialect))
        except _Untranslatable as e:
            return CheckFailure("sql_error", str(e))
        except sqlite3.Error as e:
            return CheckFailure("sql_error", f"the schema does not build: {e}"[:300])
        try:
            got = self._query(con, query)
        finally:
            con.close()
        if isinstance(got, CheckFailure):
            return got
        witness = self.seed_rows.get(_schema_key(schema)) if seeded else None
        if witness is not None and not got:
            return CheckFailure(
                "sql_empty_result", f"no rows on the fixtures' data, where seed {witness} has rows"
            )
        return None

    def _returns_rows(self, input: str, output: str) -> bool:
        schema = self.schema if self.schema is not None else input
        try:
            con, _ = self._database(_translate(schema, self.cfg.dialect))
        except (_Untranslatable, sqlite3.Error):
            return False
        try:
            got = self._query(con, _translate(query_of(output), self.cfg.dialect))
        except _Untranslatable:
            return False
        finally:
            con.close()
        return not isinstance(got, CheckFailure) and bool(got)

    def _database(self, schema: str) -> tuple[sqlite3.Connection, bool]:
        con = sqlite3.connect(":memory:", isolation_level=None)
        try:
            con.executescript(schema)
        except sqlite3.Error:
            con.close()
            raise
        seeded = False
        if self.fixtures:
            for stmt in _statements(self.fixtures):
                try:
                    seeded |= con.execute(stmt).rowcount > 0
                except sqlite3.Error:
                    continue  # rows for tables this schema does not have
        return con, seeded

    def _query(self, con: sqlite3.Connection, query: str) -> CheckFailure | list[Any]:
        """The rows the query returns (at most max_rows), or why it cannot run."""
        denied: list[str] = []

        def authorize(
            action: int, a: str | None, b: str | None, db: str | None, _t: str | None
        ) -> int:
            if action in _ALLOWED:
                return sqlite3.SQLITE_OK
            what = _ACTIONS.get(action, f"action {action}")
            denied.append(f"{what} {a or ''}".strip())
            return sqlite3.SQLITE_DENY

        budget = [self.cfg.max_steps // _STEP]
        deadline = time.monotonic() + self.cfg.timeout_ms / 1000

        def progress() -> int:
            budget[0] -= 1
            return 1 if budget[0] < 0 or time.monotonic() > deadline else 0

        con.set_authorizer(authorize)
        con.set_progress_handler(progress, _STEP)
        try:
            rows = con.execute(query).fetchmany(self.cfg.max_rows)
        except sqlite3.Error as e:
            if denied:  # the statement's own action, rather than its schema-table edits
                what = next((d for d in denied if "sqlite_master" not in d), denied[0])
                return CheckFailure("sql_not_readonly", f"not a read-only query: {what}")
            if budget[0] < 0 or str(e) == "interrupted":
                limit = f"{self.cfg.max_steps} steps or {self.cfg.timeout_ms} ms"
                return CheckFailure("sql_timeout", f"the query was stopped after {limit}")
            return CheckFailure("sql_error", str(e)[:300])
        finally:
            con.set_progress_handler(None, 0)
            con.set_authorizer(None)
        return rows


def _schema_key(schema: str) -> str:
    """A schema as sql_empty_result matches a record to its seeds: whitespace and case aside."""
    return " ".join(schema.split()).lower()


def _statements(script: str) -> list[str]:
    """A script's statements, split where SQLite says one is complete."""
    out, buf = [], ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            out.append(buf.strip())
            buf = ""
    return [s for s in out if s] + ([buf.strip()] if buf.strip() else [])


def _read(path: Path | None, key: str) -> str | None:
    if path is None:
        return None
    try:
        return path.read_text(encoding="utf-8")
    except OSError as e:
        raise UsageError(
            f"{key}: cannot read {path}: {e.strerror}", hint="check the path"
        ) from None

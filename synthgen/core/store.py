"""The state directory (.synthgen/): one SQLite database with a small migration runner."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import orjson

from synthgen.errors import UsageError
from synthgen.records import Frozen

DB_NAME = "state.db"


def m001_initial(db: sqlite3.Connection) -> None:
    """The first schema: cached responses, learned endpoint capabilities and run status."""
    db.executescript(
        """
        CREATE TABLE responses (
            key TEXT PRIMARY KEY,
            created_at TEXT NOT NULL,
            endpoint TEXT NOT NULL,
            model TEXT NOT NULL,
            body BLOB NOT NULL,
            prompt_tokens INTEGER NOT NULL,
            completion_tokens INTEGER NOT NULL,
            cost_usd REAL NOT NULL
        );
        CREATE TABLE capabilities (
            endpoint TEXT NOT NULL,
            model TEXT NOT NULL,
            name TEXT NOT NULL,
            value TEXT NOT NULL,
            detail TEXT NOT NULL,
            learned_at TEXT NOT NULL,
            PRIMARY KEY (endpoint, model, name)
        );
        CREATE TABLE runs (
            run_key TEXT PRIMARY KEY,
            run_id TEXT NOT NULL,
            job_sha256 TEXT NOT NULL,
            status TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        """
    )


def m002_loopback_hosts(db: sqlite3.Connection) -> None:
    """localhost, [::1] and 0.0.0.0 are 127.0.0.1 (the port stays): learned capabilities
    move there. Cached answers keep their keys (hashes of the host as typed, which cannot be
    rewritten) and their `endpoint` column, which says so; the cache moves each to its new
    key when it is first read."""
    for (endpoint,) in db.execute("SELECT DISTINCT endpoint FROM capabilities").fetchall():
        text = str(endpoint)
        if text.startswith("["):
            host, _, rest = text.partition("]")
            host += "]"
        else:
            host, sep, port = text.rpartition(":")
            host, rest = (host, sep + port) if sep else (text, "")
        if host.lower() in ("localhost", "[::1]", "0.0.0.0"):
            db.execute(
                "UPDATE OR REPLACE capabilities SET endpoint=? WHERE endpoint=?",
                ("127.0.0.1" + rest, text),
            )


def m003_batches(db: sqlite3.Connection) -> None:
    """Batch mode: requests waiting for the Batch API (`batch_lines`, one per request, its
    custom_id the cache key of its first sample) and the input files and batches made of
    them (`batch_chunks`), each id recorded before anything else is done with it."""
    db.executescript(
        """
        CREATE TABLE batch_chunks (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            endpoint TEXT NOT NULL,
            base_url TEXT,
            model TEXT NOT NULL,
            file_name TEXT NOT NULL,
            file_sha256 TEXT NOT NULL,
            lines INTEGER NOT NULL,
            bytes INTEGER NOT NULL,
            worst_cost_usd REAL NOT NULL,
            state TEXT NOT NULL,
            upload_started INTEGER NOT NULL DEFAULT 0,
            create_started INTEGER NOT NULL DEFAULT 0,
            input_file_id TEXT,
            batch_id TEXT,
            remote_status TEXT,
            counts TEXT,
            output_file_id TEXT,
            error_file_id TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE batch_lines (
            custom_id TEXT PRIMARY KEY,
            seq INTEGER NOT NULL,
            endpoint TEXT NOT NULL,
            model TEXT NOT NULL,
            keys TEXT NOT NULL,
            req_n INTEGER NOT NULL,
            body BLOB NOT NULL,
            path TEXT NOT NULL,
            prompt_est INTEGER NOT NULL,
            state TEXT NOT NULL,
            chunk INTEGER REFERENCES batch_chunks(id),
            attempts INTEGER NOT NULL DEFAULT 0,
            error TEXT
        );
        CREATE INDEX batch_lines_state ON batch_lines (state, endpoint, model, seq);
        CREATE INDEX batch_lines_chunk ON batch_lines (chunk);
        """
    )


# Append only; never edit a shipped migration.
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [
    m001_initial,
    m002_loopback_hosts,
    m003_batches,
]


def migrate(db: sqlite3.Connection) -> None:
    """Bring an existing state database up to date by running each migration it has not had."""
    db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY)")
    done = {row[0] for row in db.execute("SELECT name FROM _migrations")}
    for fn in MIGRATIONS:
        if fn.__name__ in done:
            continue
        with db:
            fn(db)
            db.execute("INSERT INTO _migrations (name) VALUES (?)", (fn.__name__,))


def open_state(state_dir: Path) -> sqlite3.Connection:
    """Open (creating if needed) the state database in WAL mode, migrated to the latest schema."""
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(
            f"cannot create state directory {state_dir}: {e.strerror}",
            hint="pass a writable --state-dir",
        ) from e
    db = sqlite3.connect(state_dir / DB_NAME, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    # NORMAL in WAL mode: a committed transaction survives a killed process (not power loss).
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA busy_timeout=10000")
    migrate(db)
    return db


def run_status(db: sqlite3.Connection, run_key: str) -> tuple[str, str, str] | None:
    """(run_id, job_sha256, status) of the last run that wrote to this output, if any."""
    row = db.execute(
        "SELECT run_id, job_sha256, status FROM runs WHERE run_key=?", (run_key,)
    ).fetchone()
    return (str(row[0]), str(row[1]), str(row[2])) if row else None


def set_run_status(
    db: sqlite3.Connection, run_key: str, run_id: str, job_sha256: str, status: str, now: str
) -> None:
    """Upsert the status of the run writing to an output, so the next run can resume it."""
    db.execute(
        "INSERT INTO runs (run_key, run_id, job_sha256, status, updated_at) VALUES (?,?,?,?,?) "
        "ON CONFLICT(run_key) DO UPDATE SET run_id=excluded.run_id, "
        "job_sha256=excluded.job_sha256, status=excluded.status, updated_at=excluded.updated_at",
        (run_key, run_id, job_sha256, status, now),
    )


class CachedAnswers(Frozen):
    """What a state dir's response cache holds: each answer's model, cost and the id the
    endpoint gave its request (None when it gave none)."""

    models: tuple[str, ...] = ()
    costs_usd: tuple[float, ...] = ()
    request_ids: tuple[str | None, ...] = ()

    def by_model(self) -> dict[str, tuple[int, float]]:
        """(answers, USD) per model."""
        out: dict[str, tuple[int, float]] = {}
        for model, cost in zip(self.models, self.costs_usd, strict=True):
            n, usd = out.get(model, (0, 0.0))
            out[model] = (n + 1, usd + cost)
        return out


def cached_answers(state_dir: Path) -> CachedAnswers:
    """The response cache of `state_dir`, read without writing (a run may be writing it):
    empty while there is no database yet, or it is not migrated yet, or it is busy."""
    path = state_dir / DB_NAME
    if not path.exists():
        return CachedAnswers()
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)
        try:
            rows = db.execute("SELECT model, cost_usd, body FROM responses").fetchall()
        finally:
            db.close()
    except sqlite3.OperationalError:
        return CachedAnswers()
    ids = [orjson.loads(body).get("request_id") for _, _, body in rows]
    return CachedAnswers(
        models=tuple(str(m) for m, _, _ in rows),
        costs_usd=tuple(float(c or 0.0) for _, c, _ in rows),
        request_ids=tuple(i if isinstance(i, str) else None for i in ids),
    )


def forget_capabilities(state_dir: Path) -> None:
    """Forget what every endpoint was found to support, so the next run probes it again."""
    db = open_state(state_dir)
    try:
        with db:
            db.execute("DELETE FROM capabilities")
    finally:
        db.close()

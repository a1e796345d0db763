"""Batch mode's state: requests waiting for the Batch API and the files and batches made of them.

Every step is recorded here before the next is taken (a line before it is chunked, a chunk
before its file is uploaded, the file id before the batch is created, the batch id before
anything waits on it), so a run killed at any point resumes without uploading or creating a
batch twice. Tables are made by migration m003 (core/store.py).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

# The Batch API's limits per input file, with a margin below 200 MB for the JSONL framing.
MAX_LINES = 50_000
MAX_BYTES = 190 * 1024 * 1024
MAX_ATTEMPTS = 3  # submissions of one request before it counts as failed, like online retries

# line states: queued (waits for a chunk), chunked (in a batch), answered (in the cache),
# failed (gave up after MAX_ATTEMPTS), rejected (the endpoint refused it: a 4xx line)
# chunk states: prepared (file written here), uploaded, created, joined (answers in the cache)
OPEN_CHUNKS = ("prepared", "uploaded", "created")
FINAL_REMOTE = ("completed", "expired", "cancelled", "failed")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Line:
    """One request waiting for (or answered by) the Batch API."""

    custom_id: str
    keys: list[str]  # the cache keys of the samples it asks for (n = len(keys))
    req_n: int  # the samples the whole request wants (a line may ask for the missing ones)
    body: dict[str, Any]  # what `chat.completions.create` would send
    path: str  # the structured-output path the body asks along
    prompt_est: int
    state: str
    attempts: int
    error: str | None

    def jsonl(self) -> bytes:
        """The line of a Batch API input file."""
        line = {
            "custom_id": self.custom_id,
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": self.body,
        }
        return orjson.dumps(line) + b"\n"


@dataclass(frozen=True)
class Chunk:
    """One input file and the batch made of it."""

    id: int
    endpoint: str
    base_url: str | None
    model: str
    file_name: str
    file_sha256: str
    lines: int
    bytes: int
    worst_cost_usd: float
    state: str
    upload_started: bool
    create_started: bool
    input_file_id: str | None
    batch_id: str | None
    remote_status: str | None
    counts: dict[str, int]
    output_file_id: str | None
    error_file_id: str | None
    created_at: str
    updated_at: str


_LINE_COLS = "custom_id, keys, req_n, body, path, prompt_est, state, attempts, error"
_CHUNK_COLS = (
    "id, endpoint, base_url, model, file_name, file_sha256, lines, bytes, worst_cost_usd, "
    "state, upload_started, create_started, input_file_id, batch_id, remote_status, counts, "
    "output_file_id, error_file_id, created_at, updated_at"
)


def _line(row: Any) -> Line:
    return Line(
        custom_id=str(row[0]),
        keys=orjson.loads(row[1]),
        req_n=int(row[2]),
        body=orjson.loads(row[3]),
        path=str(row[4]),
        prompt_est=int(row[5]),
        state=str(row[6]),
        attempts=int(row[7]),
        error=row[8],
    )


def _chunk(row: Any) -> Chunk:
    return Chunk(
        id=int(row[0]),
        endpoint=str(row[1]),
        base_url=row[2],
        model=str(row[3]),
        file_name=str(row[4]),
        file_sha256=str(row[5]),
        lines=int(row[6]),
        bytes=int(row[7]),
        worst_cost_usd=float(row[8]),
        state=str(row[9]),
        upload_started=bool(row[10]),
        create_started=bool(row[11]),
        input_file_id=row[12],
        batch_id=row[13],
        remote_status=row[14],
        counts=orjson.loads(row[15]) if row[15] else {},
        output_file_id=row[16],
        error_file_id=row[17],
        created_at=str(row[18]),
        updated_at=str(row[19]),
    )


class BatchStore:
    """Reads and writes batch mode's tables in the state database."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def line(self, custom_id: str) -> Line | None:
        """The line with this custom_id, if the request was ever deferred."""
        row = self.db.execute(
            f"SELECT {_LINE_COLS} FROM batch_lines WHERE custom_id=?", (custom_id,)
        ).fetchone()
        return _line(row) if row else None

    def add_line(
        self,
        custom_id: str,
        endpoint: str,
        model: str,
        keys: list[str],
        req_n: int,
        body: dict[str, Any],
        path: str,
        prompt_est: int,
    ) -> None:
        """Queue a request for the next batch (once: a request already known stays as it is)."""
        self.db.execute(
            "INSERT OR IGNORE INTO batch_lines (custom_id, seq, endpoint, model, keys, req_n, "
            "body, path, prompt_est, state) VALUES (?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM "
            "batch_lines), ?, ?, ?, ?, ?, ?, ?, 'queued')",
            (
                custom_id,
                endpoint,
                model,
                orjson.dumps(keys),
                req_n,
                orjson.dumps(body),
                path,
                prompt_est,
            ),
        )

    def queued(self, endpoint: str, model: str) -> list[Line]:
        """Lines waiting for a chunk, in the order they were deferred."""
        rows = self.db.execute(
            f"SELECT {_LINE_COLS} FROM batch_lines WHERE state='queued' AND endpoint=? "
            "AND model=? ORDER BY seq",
            (endpoint, model),
        ).fetchall()
        return [_line(r) for r in rows]

    def chunk_lines(self, chunk_id: int) -> list[Line]:
        """The lines of one chunk, in file order."""
        rows = self.db.execute(
            f"SELECT {_LINE_COLS} FROM batch_lines WHERE chunk=? ORDER BY seq", (chunk_id,)
        ).fetchall()
        return [_line(r) for r in rows]

    def new_chunk(
        self,
        endpoint: str,
        base_url: str | None,
        model: str,
        lines: list[Line],
        content: bytes,
        file_sha256: str,
        worst_cost_usd: float,
    ) -> Chunk:
        """Record a chunk and move its lines into it, in one transaction, before any upload."""
        now = _now()
        self.db.execute("BEGIN IMMEDIATE")
        try:
            cur = self.db.execute(
                "INSERT INTO batch_chunks (endpoint, base_url, model, file_name, file_sha256, "
                "lines, bytes, worst_cost_usd, state, created_at, updated_at) "
                "VALUES (?,?,?,?,?,?,?,?,'prepared',?,?)",
                (
                    endpoint,
                    base_url,
                    model,
                    f"synthgen-batch-{file_sha256[:20]}.jsonl",
                    file_sha256,
                    len(lines),
                    len(content),
                    worst_cost_usd,
                    now,
                    now,
                ),
            )
            chunk_id = int(cur.lastrowid or 0)
            self.db.executemany(
                "UPDATE batch_lines SET state='chunked', chunk=?, attempts=attempts+1 "
                "WHERE custom_id=?",
                [(chunk_id, ln.custom_id) for ln in lines],
            )
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        chunk = self.chunk(chunk_id)
        assert chunk is not None
        return chunk

    def chunk(self, chunk_id: int) -> Chunk | None:
        """One chunk by its local id."""
        row = self.db.execute(
            f"SELECT {_CHUNK_COLS} FROM batch_chunks WHERE id=?", (chunk_id,)
        ).fetchone()
        return _chunk(row) if row else None

    def update_chunk(self, chunk_id: int, **fields: Any) -> Chunk:
        """Record what was learned about a chunk (a file id, a batch id, a remote status)."""
        if "counts" in fields:
            fields["counts"] = orjson.dumps(fields["counts"]).decode()
        sets = ", ".join(f"{k}=?" for k in fields)
        self.db.execute(
            f"UPDATE batch_chunks SET {sets}, updated_at=? WHERE id=?",
            (*fields.values(), _now(), chunk_id),
        )
        chunk = self.chunk(chunk_id)
        assert chunk is not None
        return chunk

    def chunks(self, open_only: bool = False) -> list[Chunk]:
        """Every chunk (or those not yet joined), oldest first."""
        where = f" WHERE state IN {OPEN_CHUNKS}" if open_only else ""
        rows = self.db.execute(f"SELECT {_CHUNK_COLS} FROM batch_chunks{where} ORDER BY id")
        return [_chunk(r) for r in rows.fetchall()]

    def reserved_cost(self) -> float:
        """The worst case of every batch not yet joined: held against the budget."""
        row = self.db.execute(
            f"SELECT COALESCE(SUM(worst_cost_usd), 0) FROM batch_chunks WHERE state IN "
            f"{OPEN_CHUNKS}"
        ).fetchone()
        return float(row[0])

    def settle_line(self, custom_id: str, state: str, error: str | None = None) -> None:
        """A line's end in a joined batch: answered, back to the queue, failed or rejected."""
        chunk = None if state == "queued" else "chunk"
        self.db.execute(
            f"UPDATE batch_lines SET state=?, error=?, chunk={chunk or 'NULL'} WHERE custom_id=?",
            (state, error, custom_id),
        )

    def uncount_attempt(self, custom_id: str) -> None:
        """A line a cancelled batch never ran: its submission does not count as an attempt."""
        self.db.execute(
            "UPDATE batch_lines SET attempts=MAX(0, attempts-1) WHERE custom_id=?", (custom_id,)
        )

    def line_counts(self) -> dict[str, int]:
        """Lines by state, over the whole state directory."""
        rows = self.db.execute("SELECT state, COUNT(*) FROM batch_lines GROUP BY state")
        return {str(s): int(n) for s, n in rows.fetchall()}

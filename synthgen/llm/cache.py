"""SQLite response cache keyed by the canonical request; this is how resume works."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from typing import Any

import orjson

from synthgen.records import sha256_hex


def utc_seconds(when: datetime) -> str:
    """A time as records show it: UTC, whole seconds, "Z"."""
    return when.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def request_key(endpoint: str, request_sha256: str, sample: int) -> str:
    """sha256 over the endpoint host, the canonical request's hash and the sample index;
    nothing secret goes in (the API key is never part of a request body)."""
    return sha256_hex(f"{endpoint}\n{request_sha256}\n{sample}")


class ResponseCache:
    """Answers already received; a cache hit costs nothing and is never sent again."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def get(self, key: str) -> dict[str, Any] | None:
        """The cached answer body, with when it arrived (older bodies lack the field)."""
        row = self.db.execute(
            "SELECT body, created_at FROM responses WHERE key=?", (key,)
        ).fetchone()
        if row is None:
            return None
        body: dict[str, Any] = orjson.loads(row[0])
        if not body.get("received_at") and row[1]:
            body["received_at"] = utc_seconds(datetime.fromisoformat(row[1]))
        return body

    def put(
        self,
        key: str,
        *,
        endpoint: str,
        model: str,
        body: dict[str, Any],
        prompt_tokens: int,
        completion_tokens: int,
        cost_usd: float,
    ) -> None:
        """Keep an answer with its usage and cost, so a rerun replays it instead of paying again."""
        self.db.execute(
            "INSERT OR REPLACE INTO responses (key, created_at, endpoint, model, body, "
            "prompt_tokens, completion_tokens, cost_usd) VALUES (?,?,?,?,?,?,?,?)",
            (
                key,
                datetime.now(UTC).isoformat(),
                endpoint,
                model,
                orjson.dumps(body),
                prompt_tokens,
                completion_tokens,
                cost_usd,
            ),
        )

    def __len__(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM responses").fetchone()[0])


class Capabilities:
    """What an endpoint+model was found to support, learned once and remembered."""

    def __init__(self, db: sqlite3.Connection, endpoint: str, model: str) -> None:
        self.db, self.endpoint, self.model = db, endpoint, model
        rows = db.execute(
            "SELECT name, value FROM capabilities WHERE endpoint=? AND model=?", (endpoint, model)
        ).fetchall()
        self.values: dict[str, str] = {str(r[0]): str(r[1]) for r in rows}

    def get(self, name: str, default: str) -> str:
        """What was learned for `name`, or `default` while nothing has been learned yet."""
        return self.values.get(name, default)

    def learn(self, name: str, value: str, detail: str) -> None:
        """Remember a fallback the endpoint forced, so later runs start with it, not a failure."""
        self.values[name] = value
        self.db.execute(
            "INSERT OR REPLACE INTO capabilities (endpoint, model, name, value, detail, learned_at)"
            " VALUES (?,?,?,?,?,?)",
            (self.endpoint, self.model, name, value, detail[:500], datetime.now(UTC).isoformat()),
        )

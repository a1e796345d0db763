"""SQLite response cache keyed by the canonical request; this is how resume works."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from typing import Any

import orjson

from synthgen.llm.types import canonical_host, other_spellings
from synthgen.records import sha256_hex


def utc_seconds(when: datetime) -> str:
    """A time as records show it: UTC, whole seconds, "Z"."""
    return when.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class CacheKey(str):
    """A cache key that can also tell the keys older synthgen versions made for the same
    request (they spelled a loopback host as typed), so their state directories still replay."""

    spellings: tuple[str, ...] = ()
    request: tuple[str, int] = ("", 0)

    def legacy(self) -> list[tuple[str, str]]:
        """(key, host spelling) of each older key."""
        sha, sample = self.request
        return [(_key(e, sha, sample), e) for e in self.spellings]


def request_key(endpoint: str, request_sha256: str, sample: int) -> str:
    """sha256 over the endpoint host (loopback spellings made one), the canonical request's
    hash and the sample index; nothing secret goes in (the API key is never in a request)."""
    key = CacheKey(_key(canonical_host(endpoint), request_sha256, sample))
    key.spellings, key.request = tuple(other_spellings(endpoint)), (request_sha256, sample)
    return key


def _key(endpoint: str, request_sha256: str, sample: int) -> str:
    return sha256_hex(f"{endpoint}\n{request_sha256}\n{sample}")


class ResponseCache:
    """Answers already received; a cache hit costs nothing and is never sent again."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self.old_keys: dict[tuple[str, ...], bool] = {}  # do rows under these hosts remain?

    def get(self, key: str) -> dict[str, Any] | None:
        """The cached answer body, with when it arrived (older bodies lack the field)."""
        row = self.db.execute(
            "SELECT body, created_at FROM responses WHERE key=?", (key,)
        ).fetchone()
        if row is None:
            row = self._legacy(key)
        if row is None:
            return None
        body: dict[str, Any] = orjson.loads(row[0])
        if not body.get("received_at") and row[1]:
            body["received_at"] = utc_seconds(datetime.fromisoformat(row[1]))
        return body

    def _legacy(self, key: str) -> Any:
        """A hit under a key an older version made for this request, moved to the key made
        now (a lazy migration: old keys are hashes of the host as typed, not rewritable ahead;
        the rows' `endpoint` column still says which hosts such keys were made with)."""
        spellings = getattr(key, "spellings", ())
        if not spellings:
            return None
        if spellings not in self.old_keys:
            marks = ",".join("?" * len(spellings))
            found = self.db.execute(
                f"SELECT 1 FROM responses WHERE endpoint IN ({marks}) LIMIT 1", spellings
            ).fetchone()
            self.old_keys[spellings] = found is not None
        if not self.old_keys[spellings]:
            return None
        assert isinstance(key, CacheKey)
        for old, spelled in key.legacy():
            row = self.db.execute(
                "SELECT body, created_at FROM responses WHERE key=? AND endpoint=?",
                (old, spelled),
            ).fetchone()
            if row is not None:
                self.db.execute(
                    "UPDATE OR IGNORE responses SET key=?, endpoint=? WHERE key=?",
                    (str(key), canonical_host(spelled), old),
                )
                return row
        return None

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
                canonical_host(endpoint),  # other spellings mark rows under old keys
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
        self.db, self.endpoint, self.model = db, canonical_host(endpoint), model
        rows = db.execute(
            "SELECT name, value FROM capabilities WHERE endpoint=? AND model=?",
            (self.endpoint, model),
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

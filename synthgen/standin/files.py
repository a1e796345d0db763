"""The stand-in's Files API: uploads (with upload faults), listing, retrieval and content.

Files live in memory for the life of the server (or until `reset`). Batch output and error
files are stored here too, with purpose "batch_output".
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import orjson

from synthgen.standin.config import StandinConfig
from synthgen.standin.http11 import DropConnection, Resp, error
from synthgen.standin.multipart import parse_form

PURPOSES = frozenset({"assistants", "batch", "fine-tune", "vision", "user_data", "evals"})


@dataclass
class StoredFile:
    """One file held by the stand-in."""

    id: str
    filename: str
    purpose: str
    data: bytes
    created_at: int

    def obj(self) -> dict[str, Any]:
        """The OpenAI File object."""
        return {
            "id": self.id,
            "object": "file",
            "bytes": len(self.data),
            "created_at": self.created_at,
            "filename": self.filename,
            "purpose": self.purpose,
            "status": "processed",
            "status_details": None,
            "expires_at": None,
        }


def not_found(kind: str, ident: str) -> Resp:
    """OpenAI's 404 for an unknown object id."""
    return error(404, f"No such {kind} object: {ident}", param="id", code="not_found")


def list_page(items: list[dict[str, Any]], query: dict[str, str], default_limit: int) -> Resp:
    """A cursor page of `items` (already in order): `after` and `limit` as OpenAI takes them."""
    after = query.get("after")
    if after:
        at = next((i for i, item in enumerate(items) if item["id"] == after), None)
        items = [] if at is None else items[at + 1 :]
    raw = query.get("limit", "")
    if raw and not raw.isdigit():
        return error(400, f"Invalid 'limit': {raw!r} is not an integer", param="limit")
    limit = max(1, int(raw)) if raw else default_limit
    data = items[:limit]
    first, last = (data[0]["id"], data[-1]["id"]) if data else (None, None)
    body = {
        "object": "list",
        "data": data,
        "has_more": len(items) > len(data),
        "first_id": first,
        "last_id": last,
    }
    return 200, [], orjson.dumps(body)


class FileStore:
    """The uploaded and batch-produced files, and the upload statistics."""

    def __init__(self) -> None:
        self._files: dict[str, StoredFile] = {}
        self._next = 0  # ids stay unique across resets
        self.reset()

    def reset(self) -> None:
        """Forget every file and the upload counters."""
        self._files.clear()
        self.attempts = 0
        self.uploaded = self.uploaded_bytes = self.failed = self.reply_lost = 0

    def stats(self) -> dict[str, int]:
        """Upload counters for `stats()`."""
        return {
            "files_uploaded": self.uploaded,
            "bytes_uploaded": self.uploaded_bytes,
            "uploads_failed": self.failed,
            "uploads_reply_lost": self.reply_lost,
        }

    def add(self, filename: str, purpose: str, data: bytes) -> StoredFile:
        """Store a new file and return it."""
        self._next += 1
        stored = StoredFile(f"file-standin-{self._next}", filename, purpose, data, int(time.time()))
        self._files[stored.id] = stored
        return stored

    def get(self, file_id: str) -> StoredFile | None:
        """The file with this id, if it exists."""
        return self._files.get(file_id)

    def upload(self, cfg: StandinConfig, headers: dict[str, str], body: bytes) -> Resp:
        """POST /v1/files: store a multipart upload (the upload faults may drop the reply)."""
        index, self.attempts = self.attempts, self.attempts + 1
        if index < cfg.upload_fail_first:
            self.failed += 1
            raise DropConnection("stand-in fault upload_fail_first")
        try:
            form = parse_form(headers.get("content-type", ""), body)
        except ValueError as exc:
            return error(400, f"Invalid multipart upload: {exc}")
        purpose, upload = form.get("purpose"), form.get("file")
        if purpose is None:
            return error(400, "Missing required parameter: 'purpose'.", param="purpose")
        name = purpose.data.decode("utf-8", "replace").strip()
        if name not in PURPOSES:
            return error(400, f"Invalid value for 'purpose': {name!r}.", param="purpose")
        if upload is None or not upload.filename:
            return error(400, "Missing required parameter: 'file' (with a filename).", param="file")
        stored = self.add(upload.filename, name, upload.data)
        self.uploaded += 1
        self.uploaded_bytes += len(upload.data)
        if index < cfg.upload_fail_first + cfg.upload_lost_reply_first:
            self.reply_lost += 1
            raise DropConnection("stand-in fault upload_lost_reply_first")
        return 200, [], orjson.dumps(stored.obj())

    def route(self, method: str, parts: list[str], query: dict[str, str]) -> Resp | None:
        """GET/DELETE on /v1/files[/{id}[/content]]; None when no route matches."""
        if method == "GET" and not parts:
            files = [f for f in self._files.values() if query.get("purpose") in (None, f.purpose)]
            if query.get("order", "desc") != "asc":
                files.reverse()
            return list_page([f.obj() for f in files], query, 10_000)
        if not parts or len(parts) > 2 or (len(parts) == 2 and parts[1] != "content"):
            return None
        stored = self._files.get(parts[0])
        if method not in ("GET", "DELETE") or (method == "DELETE" and len(parts) == 2):
            return None
        if stored is None:
            return not_found("File", parts[0])
        if len(parts) == 2:
            return 200, [("content-type", "application/octet-stream")], stored.data
        if method == "DELETE":
            del self._files[stored.id]
            return 200, [], orjson.dumps({"id": stored.id, "object": "file", "deleted": True})
        return 200, [], orjson.dumps(stored.obj())

"""The stand-in's Files and Batches API: /v1/files and /v1/batches, with batch faults.

A STAND-IN, NOT A MODEL: a batch line is answered with the same placeholder completion the
online endpoint gives. There are no timers: a batch advances only when it is retrieved
(GET /v1/batches/{id}). Each retrieve is one poll:

- the first poll validates the input file ("failed" with `errors`, or "in_progress");
- once `batch_polls` polls were made and `batch_expire` is on, the batch expires: the lines
  not yet processed go to the error file as batch_expired;
- otherwise the poll processes up to `batch_lines_per_poll` lines (default: all), and the
  batch is "completed" once `batch_polls` polls were made and every line is done;
- after a cancel ("cancelling"), the next poll makes it "cancelled", keeping what was done.
"""

from __future__ import annotations

import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import orjson

from synthgen.standin.batchlines import Completer, Line, answer_line, expired_record, read_lines
from synthgen.standin.config import StandinConfig
from synthgen.standin.files import FileStore, list_page, not_found
from synthgen.standin.http11 import Resp, error

ENDPOINT = "/v1/chat/completions"
FINAL = frozenset({"failed", "completed", "expired", "cancelled"})
_STAMPS = (
    "in_progress_at finalizing_at completed_at failed_at expired_at cancelling_at cancelled_at"
)


def batch_step(method: str, path: str) -> str | None:
    """Which step of batch mode a request is, for the `batch_hold` fault (None: another)."""
    if method == "POST" and path == "/v1/files":
        return "upload"
    if method == "POST" and path == "/v1/batches":
        return "create"
    if method == "GET" and path.startswith("/v1/files/") and path.endswith("/content"):
        return "content"
    if method == "GET" and path.startswith("/v1/batches/"):
        return "retrieve"
    return None


def is_batch_path(path: str) -> bool:
    """Is `path` (without query) one of the Files or Batches API routes?"""
    return path in ("/v1/files", "/v1/batches") or path.startswith(("/v1/files/", "/v1/batches/"))


@dataclass
class Batch:
    """One batch and its progress."""

    id: str
    input_file_id: str
    metadata: dict[str, Any] | None
    created_at: int
    status: str = "validating"
    polls: int = 0
    lines: list[Line] = field(default_factory=list)
    done: int = 0  # lines processed, in file order
    out: list[dict[str, Any]] = field(default_factory=list)
    err: list[dict[str, Any]] = field(default_factory=list)
    completed: int = 0
    failed: int = 0
    errors: list[dict[str, Any]] | None = None
    stamps: dict[str, int] = field(default_factory=dict)
    output_file_id: str | None = None
    error_file_id: str | None = None
    usage: Counter[str] = field(default_factory=Counter)

    def stamp(self, *names: str) -> None:
        """Set these timestamps to now."""
        now = int(time.time())
        for name in names:
            self.stamps[name] = now

    def obj(self) -> dict[str, Any]:
        """The OpenAI Batch object."""
        errors = None if self.errors is None else {"object": "list", "data": self.errors}
        models = {m for line in self.lines if isinstance(m := line.body.get("model"), str)}
        model = next(iter(models)) if len(models) == 1 else None
        counts = {"total": len(self.lines), "completed": self.completed, "failed": self.failed}
        prompt, output = self.usage["prompt_tokens"], self.usage["completion_tokens"]
        usage = {
            "input_tokens": prompt,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": output,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": prompt + output,
        }
        return {
            "id": self.id,
            "object": "batch",
            "endpoint": ENDPOINT,
            "model": model,
            "errors": errors,
            "input_file_id": self.input_file_id,
            "completion_window": "24h",
            "status": self.status,
            "output_file_id": self.output_file_id,
            "error_file_id": self.error_file_id,
            "created_at": self.created_at,
            "expires_at": self.created_at + 24 * 3600,
            **{name: self.stamps.get(name) for name in _STAMPS.split()},
            "request_counts": counts,
            "usage": usage,
            "metadata": self.metadata,
        }


class BatchStore:
    """Files and batches of one stand-in server; `handle` answers their HTTP requests."""

    def __init__(self, complete: Completer) -> None:
        self.files = FileStore()
        self._complete = complete
        self._batches: dict[str, Batch] = {}
        self._next_batch = self._next_line = 0  # ids stay unique across resets
        self._attempts: Counter[str] = Counter()  # custom_id -> times processed
        self._answers: Counter[str] = Counter()  # custom_id -> times answered successfully
        self.reset()

    def reset(self) -> None:
        """Forget every file, batch and counter."""
        self.files.reset()
        self._batches.clear()
        self._attempts.clear()
        self._answers.clear()
        self.created = self.cancelled = 0
        self.lines = Counter[str]()
        self.held = Counter[str]()  # requests the batch_hold fault held, per step

    def stats(self) -> dict[str, object]:
        """The "batch" section of the server's stats."""
        return {
            **self.files.stats(),
            "batches_created": self.created,
            "batches_cancelled": self.cancelled,
            "lines_answered": self.lines["completed"],
            "lines_failed": self.lines["failed"],
            "lines_expired": self.lines["expired"],
            "line_answers": dict(self._answers),
            "held": dict(self.held),
        }

    def handle(
        self, cfg: StandinConfig, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> Resp:
        """Answer one request on /v1/files... or /v1/batches... (`target` may carry a query)."""
        path, _, qs = target.partition("?")
        query = dict(urllib.parse.parse_qsl(qs))
        kind, *parts = [urllib.parse.unquote(p) for p in path.strip("/").split("/")[1:]]
        found: Resp | None
        if kind == "files":
            if method == "POST" and not parts:
                return self.files.upload(cfg, headers, body)
            found = self.files.route(method, parts, query)
        else:
            found = self._route(cfg, method, parts, query, body)
        if found is None:
            return error(404, f"Unknown route {method} {path} (stand-in)", code="unknown_url")
        return found

    def _route(
        self, cfg: StandinConfig, method: str, parts: list[str], query: dict[str, str], body: bytes
    ) -> Resp | None:
        if not parts:
            if method == "POST":
                return self._create(body)
            if method == "GET":
                newest_first = [b.obj() for b in reversed(self._batches.values())]
                return list_page(newest_first, query, 20)
            return None
        batch = self._batches.get(parts[0])
        if (method, parts[1:]) not in (("GET", []), ("POST", ["cancel"])):
            return None
        if batch is None:
            return not_found("Batch", parts[0])
        if method == "POST":
            return self._cancel(batch)
        self._advance(cfg, batch)
        return 200, [], orjson.dumps(batch.obj())

    def _create(self, body: bytes) -> Resp:
        try:
            req = orjson.loads(body)
        except orjson.JSONDecodeError:
            return error(400, "request body is not valid JSON")
        if not isinstance(req, dict):
            return error(400, "request body must be a JSON object")
        file_id, metadata = req.get("input_file_id"), req.get("metadata")
        if req.get("endpoint") != ENDPOINT:
            msg = f"Invalid 'endpoint': the stand-in supports only {ENDPOINT}."
            return error(400, msg, param="endpoint")
        if req.get("completion_window") != "24h":
            return error(400, "Invalid 'completion_window': only '24h'.", param="completion_window")
        if metadata is not None and not isinstance(metadata, dict):
            return error(400, "Invalid 'metadata': expected an object.", param="metadata")
        stored = self.files.get(file_id) if isinstance(file_id, str) else None
        if stored is None:
            return error(400, f"No such File object: {file_id}", param="input_file_id")
        if stored.purpose != "batch":
            msg = f"File {file_id} has purpose {stored.purpose!r}; a batch needs 'batch'."
            return error(400, msg, param="input_file_id")
        self._next_batch += 1
        batch = Batch(f"batch_standin_{self._next_batch}", stored.id, metadata, int(time.time()))
        self._batches[batch.id] = batch
        self.created += 1
        return 200, [], orjson.dumps(batch.obj())

    def _cancel(self, batch: Batch) -> Resp:
        if batch.status in FINAL or batch.status == "cancelling":
            msg = f"Cannot cancel a batch with status '{batch.status}'."
            return error(409, msg, code="batch_not_cancellable")
        batch.status = "cancelling"
        batch.stamp("cancelling_at")
        self.cancelled += 1
        return 200, [], orjson.dumps(batch.obj())

    def _advance(self, cfg: StandinConfig, batch: Batch) -> None:
        """One poll: move the batch on by one deterministic step (see the module docstring)."""
        if batch.status in FINAL:
            return
        if batch.status == "cancelling":
            self._finish(batch, "cancelled")
            return
        batch.polls += 1
        if batch.status == "validating":
            stored = self.files.get(batch.input_file_id)
            data = b"" if stored is None else stored.data
            batch.lines, errors = read_lines(data, ENDPOINT)
            if errors:
                batch.lines, batch.errors, batch.status = [], errors, "failed"
                batch.stamp("failed_at")
                return
            batch.status = "in_progress"
            batch.stamp("in_progress_at")
        if batch.polls >= cfg.batch_polls and cfg.batch_expire:
            for line in batch.lines[batch.done :]:
                self._next_line += 1
                batch.err.append(expired_record(self._next_line, line.custom_id))
                batch.failed += 1
            batch.done = len(batch.lines)
            self._finish(batch, "expired")
            return
        todo = len(batch.lines) - batch.done
        for line in batch.lines[batch.done : batch.done + (cfg.batch_lines_per_poll or todo)]:
            self._answer(cfg, batch, line)
        if batch.polls >= cfg.batch_polls and batch.done == len(batch.lines):
            self._finish(batch, "completed")

    def _answer(self, cfg: StandinConfig, batch: Batch, line: Line) -> None:
        self._next_line += 1
        attempt = self._attempts[line.custom_id]
        self._attempts[line.custom_id] += 1
        outcome, record = answer_line(cfg, line, attempt, self._next_line, self._complete)
        self.lines[outcome] += 1
        batch.done += 1
        if outcome == "completed":
            batch.completed += 1
            batch.out.append(record)
            self._answers[line.custom_id] += 1
            batch.usage.update(record["response"]["body"]["usage"])
        else:
            batch.failed += 1
            batch.err.append(record)

    def _finish(self, batch: Batch, status: str) -> None:
        batch.output_file_id = self._jsonl(f"{batch.id}_output.jsonl", batch.out)
        batch.error_file_id = self._jsonl(f"{batch.id}_error.jsonl", batch.err)
        batch.status = status
        if status == "completed":
            batch.stamp("finalizing_at", "completed_at")
        else:
            batch.stamp(f"{status}_at")

    def _jsonl(self, name: str, records: list[dict[str, Any]]) -> str | None:
        """Store `records` as a JSONL batch_output file; its id, or None when there are none."""
        if not records:
            return None
        data = b"".join(orjson.dumps(r) + b"\n" for r in records)
        return self.files.add(name, "batch_output", data).id

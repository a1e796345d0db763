"""The lines of a stand-in batch: validating an input file, and answering one request line.

A STAND-IN, NOT A MODEL: a line's answer is the same placeholder chat completion the online
endpoint gives for its body. The line faults (batch_fail_lines, batch_expire_lines) are drawn
per attempt, so a line resubmitted in a later batch gets a fresh draw.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

import synthgen.standin.content as C
from synthgen.standin.config import StandinConfig

Completer = Callable[
    [StandinConfig, dict[str, Any], int, tuple[int, int | None], random.Random, dict[str, Any]],
    dict[str, Any],
]
"""`StandinServer._completion`: (config, request, n, (prompt, max) tokens, rng, log entry)."""

MAX_ERRORS = 100
EXPIRED_MESSAGE = "This request could not be executed before the completion window expired."


@dataclass(frozen=True)
class Line:
    """One request of a batch input file."""

    number: int  # 1-based line of the input file
    custom_id: str
    body: dict[str, Any]


def _problem(req: Any, seen: set[str], endpoint: str) -> tuple[str, str, str | None] | None:
    if not isinstance(req, dict):
        return "invalid_json_line", "This line is not a JSON object.", None
    cid = req.get("custom_id")
    if not isinstance(cid, str) or not cid:
        return "missing_required_parameter", "Missing required parameter: 'custom_id'.", "custom_id"
    if cid in seen:
        msg = f"The custom_id {cid!r} is duplicated; each request needs a unique custom_id."
        return "duplicate_custom_id", msg, "custom_id"
    if req.get("method") != "POST":
        return "invalid_method", "Only the POST method is supported in a batch.", "method"
    if req.get("url") != endpoint:
        msg = f"The URL of this request does not match the batch endpoint {endpoint}."
        return "invalid_url", msg, "url"
    if not isinstance(req.get("body"), dict):
        return "invalid_body", "The request body must be a JSON object.", "body"
    return None


def read_lines(data: bytes, endpoint: str) -> tuple[list[Line], list[dict[str, Any]]]:
    """The requests of a batch input file, and its validation errors (OpenAI's BatchError)."""
    lines: list[Line] = []
    errors: list[dict[str, Any]] = []
    seen: set[str] = set()
    for number, raw in enumerate(data.split(b"\n"), start=1):
        if not raw.strip():
            continue
        try:
            req = orjson.loads(raw)
        except orjson.JSONDecodeError:
            req = None
            found: tuple[str, str, str | None] | None = (
                "invalid_json_line",
                "This line is not parseable as valid JSON.",
                None,
            )
        else:
            found = _problem(req, seen, endpoint)
        if found is not None:
            code, message, param = found
            errors.append({"code": code, "message": message, "param": param, "line": number})
            continue
        seen.add(req["custom_id"])
        lines.append(Line(number, req["custom_id"], req["body"]))
    if not lines and not errors:
        errors.append(
            {
                "code": "empty_file",
                "message": "The input file is empty.",
                "param": None,
                "line": None,
            }
        )
    return lines, errors[:MAX_ERRORS]


def _chat_problem(body: dict[str, Any]) -> tuple[str, str] | None:
    model, messages, n = body.get("model"), body.get("messages"), body.get("n") or 1
    if not isinstance(model, str) or not model:
        return "you must provide a model parameter", "model"
    if (
        not isinstance(messages, list)
        or not messages
        or not all(isinstance(m, dict) and isinstance(m.get("role"), str) for m in messages)
    ):
        return "messages must be a non-empty list of {role, content}", "messages"
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= 128:
        return "n must be an integer in 1..128", "n"
    return None


def _record(
    number: int, custom_id: str, response: dict[str, Any] | None, err: dict[str, Any] | None
) -> dict[str, Any]:
    return {"id": f"batch_req_{number}", "custom_id": custom_id, "response": response, "error": err}


def expired_record(number: int, custom_id: str) -> dict[str, Any]:
    """The error-file line of a request that expired unanswered."""
    return _record(number, custom_id, None, {"code": "batch_expired", "message": EXPIRED_MESSAGE})


def _error_record(
    number: int, custom_id: str, status: int, kind: str, msg: str, param: str | None
) -> dict[str, Any]:
    body = {"error": {"message": msg, "type": kind, "param": param, "code": None}}
    response = {"status_code": status, "request_id": f"req_standin_batch_{number}", "body": body}
    return _record(number, custom_id, response, None)


def answer_line(
    cfg: StandinConfig, line: Line, attempt: int, number: int, complete: Completer
) -> tuple[str, dict[str, Any]]:
    """("completed" | "failed" | "expired", its output or error-file record) for one line.

    `attempt` counts the earlier batches that processed this custom_id; `number` is the
    batch-request number that names the record.
    """
    # Drawn from the request itself, not its custom_id: a client's custom ids may hold the
    # stand-in's port (synthgen's cache keys do), and the same requests must draw the same
    # faults on every port.
    asked = hashlib.sha256(orjson.dumps(line.body, option=orjson.OPT_SORT_KEYS)).hexdigest()
    rng = random.Random(f"{cfg.fault_seed}:batch:{asked}:{attempt}")
    d_fail, d_expire = rng.random(), rng.random()
    if d_expire < cfg.batch_expire_lines:
        return "expired", expired_record(number, line.custom_id)
    if d_fail < cfg.batch_fail_lines:
        msg = "The server had an error processing your request (stand-in fault batch_fail_lines)"
        return "failed", _error_record(number, line.custom_id, 500, "server_error", msg, None)
    problem = _chat_problem(line.body)
    if problem is not None:
        msg, param = problem
        return "failed", _error_record(
            number, line.custom_id, 400, "invalid_request_error", msg, param
        )
    messages = line.body["messages"]
    prompt = C.estimate_tokens(sum(len(C.message_text(m.get("content"))) for m in messages))
    max_tokens = line.body.get("max_completion_tokens") or line.body.get("max_tokens")
    max_tokens = max_tokens if isinstance(max_tokens, int) and max_tokens > 0 else None
    n = line.body.get("n") or 1
    entry: dict[str, Any] = {"seq": f"batch-{number}"}
    body = complete(cfg, line.body, n, (prompt, max_tokens), rng, entry)
    response = {"status_code": 200, "request_id": f"req_standin_batch_{number}", "body": body}
    return "completed", _record(number, line.custom_id, response, None)

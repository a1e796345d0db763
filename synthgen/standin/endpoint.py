"""The stand-in endpoint: OpenAI-API request handlers (chat, embeddings, admin) and faults.

A STAND-IN, NOT A MODEL: every reply is deterministic placeholder text (see `content.py`).
The HTTP/1.1 wire handling is in `http11.py`, streamed answers in `sse.py`; the thread and
blocking runners in `server.py`.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import random
import time
from collections import Counter, deque
from typing import Any, cast

import orjson
from pydantic import ValidationError

import synthgen.standin.content as C
import synthgen.standin.grounded_chat as G
from synthgen.llm.types import STANDIN_HEADER
from synthgen.standin.axes import attribute_tags, axis_fail_pin
from synthgen.standin.batches import BatchStore, batch_step, is_batch_path
from synthgen.standin.config import RateLimiter, StandinConfig
from synthgen.standin.embeddings import embeddings_response
from synthgen.standin.http11 import DropConnection, Resp, error, reason, serve_connection
from synthgen.standin.promptcache import PromptCache
from synthgen.standin.repairs import is_check_repair, shown_tables
from synthgen.standin.schema import reply_content
from synthgen.standin.shapes import ShapedWriter, output_shape
from synthgen.standin.sse import StreamedAnswer, StreamingWriter, stream_refusal
from synthgen.standin.tasks import judged_sha256

LOG_LIMIT = 10_000
_ROUTES = {"/v1/chat/completions": "POST", "/v1/models": "GET", "/v1/embeddings": "POST"}
# A response, or a chat answer to stream on the connection.
Reply = tuple[int, list[tuple[str, str]], bytes | StreamedAnswer]


class StandinServer:
    """The stand-in endpoint (placeholder text, not a model); `start()` it in a running loop."""

    def __init__(self, config: StandinConfig | None = None) -> None:
        self.config = config or StandinConfig()
        self._server: asyncio.Server | None = None
        self._host, self._port = "127.0.0.1", 0
        self._conns: set[asyncio.Task[Any]] = set()
        self._seq = 0
        self._chat_index = 0
        self._total = 0
        self._held = 0  # chat requests the hold_after fault held
        self._by_status: Counter[str] = Counter()
        self._log: deque[dict[str, Any]] = deque(maxlen=LOG_LIMIT)
        self._limiter = RateLimiter()
        self.prompt_cache = PromptCache()
        self.batches = BatchStore(self._completion)  # /v1/files and /v1/batches

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Listen on host:port (0 picks a free port)."""
        self._server = await asyncio.start_server(self._connection, host, port, limit=1 << 20)
        self._host, self._port = host, int(self._server.sockets[0].getsockname()[1])
        return self._port

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible base URL clients point at."""
        host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(self._host, self._host)
        return f"http://{f'[{host}]' if ':' in host else host}:{self._port}/v1"

    def set_faults(self, **changes: object) -> None:
        """Merge `changes` into the live config (validated; unknown keys raise)."""
        self.config = self.config.merged(dict(changes))

    def reset(self) -> None:
        """Clear stats, fault counters and rate buckets; the sequence number stays monotonic."""
        self._chat_index = self._total = self._held = 0
        self._by_status.clear()
        self._log.clear()
        self._limiter = RateLimiter()
        self.prompt_cache = PromptCache()
        self.batches.reset()

    def stats(self) -> dict[str, object]:
        """Counters, the request log and the Files/Batches counters, for tests to check."""
        log = [dict(e) for e in self._log]
        totals = {"requests_total": self._total, "by_status": dict(self._by_status)}
        totals["held"] = self._held
        return {**totals, "log": log, "batch": self.batches.stats()}

    async def stop(self) -> None:
        """Stop listening and close open connections."""
        if self._server is None:
            return
        self._server.close()
        for task in list(self._conns):
            task.cancel()
        await asyncio.gather(*self._conns, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = StreamingWriter(writer)

        async def dispatch(method: str, target: str, headers: dict[str, str], body: bytes) -> Resp:
            return await self._dispatch(method, target, headers, body, conn)

        # http11 writes through `conn`, so a streamed answer can be written in its place.
        await serve_connection(reader, cast(asyncio.StreamWriter, conn), dispatch, self._conns)

    # --- routing and the request log -------------------------------------------------------

    async def _dispatch(
        self,
        method: str,
        target: str,
        headers: dict[str, str],
        body: bytes,
        conn: StreamingWriter,
    ) -> Resp:
        path = target.split("?", 1)[0].rstrip("/") or "/"
        if path.startswith("/_standin/"):
            return self._admin(method, path, body)
        self._seq += 1
        seq = self._seq
        entry: dict[str, Any] = {
            "seq": seq,
            "path": path,
            "status": 0,
            "body_sha256": hashlib.sha256(body).hexdigest(),
            "model": None,
            "n": None,
            "choices": 0,
            "response_id": None,
            "had_auth": "authorization" in headers,  # never the header itself
            "stream": False,
        }
        try:
            status, out_headers, payload = await self._route(method, target, headers, body, entry)
        except DropConnection:  # an upload fault: no answer at all, logged with status 0
            self._log.append(entry)
            raise
        except Exception as exc:  # a stand-in bug must still answer in OpenAI's shape
            status, out_headers, payload = error(500, f"stand-in bug: {exc!r}", "server_error")
        out_headers.append(("x-request-id", f"req_standin_{seq}"))
        out_headers.append((STANDIN_HEADER, "1"))
        entry["status"] = status
        entry["t"] = time.monotonic()  # when it was answered, for rates measured from outside
        self._log.append(entry)  # a stream is logged as it starts, so a stalled one shows
        self._total += 1
        self._by_status[str(status)] += 1
        if isinstance(payload, StreamedAnswer):
            entry.update(chunks=0, completed=False)
            keep = "close" not in headers.get("connection", "").lower()
            await payload.send(conn, out_headers, keep, entry)  # a gone client raises, ends it
            return status, [], b""  # dropped by `conn`: the answer is already on the wire
        return status, out_headers, payload

    async def _route(
        self, method: str, target: str, headers: dict[str, str], body: bytes, entry: dict[str, Any]
    ) -> Reply:
        path = target.split("?", 1)[0].rstrip("/") or "/"
        want = _ROUTES.get(path)
        if want is None and not is_batch_path(path):
            return error(404, f"Unknown path {path} (stand-in)", code="unknown_url")
        if want is not None and method != want:
            return error(405, f"{method} not allowed on {path}")
        key = self.config.require_api_key
        if key is not None and headers.get("authorization") != f"Bearer {key}":
            return error(401, "Incorrect API key provided (stand-in).", code="invalid_api_key")
        if want is None:
            reply = self.batches.handle(self.config, method, target, headers, body)
            step = batch_step(method, path) or ""
            if step == self.config.batch_hold:  # done, not answered
                self.batches.held[step] += 1
                while self.config.batch_hold == step:
                    await asyncio.sleep(0.01)
            return reply
        if path == "/v1/models":
            data = [{"id": "standin-fake", "object": "model", "owned_by": "synthgen-standin"}]
            return 200, [], orjson.dumps({"object": "list", "data": data})
        try:
            req = orjson.loads(body)
        except orjson.JSONDecodeError:
            return error(400, "request body is not valid JSON")
        if not isinstance(req, dict):
            return error(400, "request body must be a JSON object")
        if path == "/v1/embeddings":
            return embeddings_response(req)
        return await self._chat(req, entry)

    # --- chat completions -------------------------------------------------------------------

    async def _chat(self, req: dict[str, Any], entry: dict[str, Any]) -> Reply:
        cfg = self.config
        model, messages, n = req.get("model"), req.get("messages"), req.get("n") or 1
        if not isinstance(model, str) or not model:
            return error(400, "you must provide a model parameter", param="model")
        entry["model"], entry["n"] = model, n
        fmt = req.get("response_format")  # the log tells a verdict's request from a judge's
        entry["schema"] = (
            (fmt.get("json_schema") or {}).get("name") if isinstance(fmt, dict) else None
        )
        if (
            not isinstance(messages, list)
            or not messages
            or not all(isinstance(m, dict) and isinstance(m.get("role"), str) for m in messages)
        ):
            return error(
                400, "messages must be a non-empty list of {role, content}", param="messages"
            )
        if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= 128:
            return error(400, "n must be an integer in 1..128", param="n")
        stream = entry["stream"] = req.get("stream") is True
        refused = stream_refusal(req, cfg)
        if refused is not None:
            return refused
        rf = req.get("response_format")
        rf_type = rf.get("type") if isinstance(rf, dict) else None
        if (rf_type == "json_schema" and cfg.reject_json_schema) or (
            rf_type == "json_object" and cfg.reject_json_object
        ):
            msg = f"response_format type '{rf_type}' is not supported by this endpoint"
            if rf_type == "json_schema":
                msg += " (json_schema not supported; stand-in fault)"
            return error(400, msg, param="response_format")
        index, self._chat_index = self._chat_index, self._chat_index + 1
        rng = random.Random(f"{cfg.fault_seed}:{index}")  # per request, in arrival order
        if cfg.hold_after is not None and index >= cfg.hold_after:
            self._held += 1
            while (after := self.config.hold_after) is not None and index >= after:
                await asyncio.sleep(0.01)
        r429, r500, kind500, jitter = rng.random(), rng.random(), rng.random(), rng.random()
        prompt_tokens = C.estimate_tokens(
            sum(len(C.message_text(m.get("content"))) for m in messages)
        )
        max_tokens = req.get("max_completion_tokens") or req.get("max_tokens")
        max_tokens = max_tokens if isinstance(max_tokens, int) and max_tokens > 0 else None
        cost = prompt_tokens + (max_tokens or 0)
        limited = self._limiter.admit(cfg, cost)
        resp: Reply
        if limited is not None:
            what, limit, wait = limited
            msg = f"Rate limit reached for {what} per minute: limit {limit} (stand-in)"
            resp = _rate_error(msg, wait, math.ceil(wait * 1000))
        else:
            delay = cfg.latency_s + jitter * cfg.latency_jitter_s
            if delay > 0:
                await asyncio.sleep(delay)
            if cfg.status_code is not None and cfg.status_fault(index):
                resp = _status_error(cfg.status_code, cfg.status_message)
            elif index < cfg.fail_first:
                resp = error(503, "stand-in fault fail_first: service unavailable", "server_error")
            elif cfg.p_400 and random.Random(f"{cfg.fault_seed}:{index}:400").random() < cfg.p_400:
                msg = "This model's maximum context length was exceeded (stand-in fault p_400)"
                resp = error(400, msg, param="messages", code="context_length_exceeded")
            elif r429 < cfg.p_429:
                msg = "Rate limit reached (stand-in fault p_429)"
                resp = _rate_error(msg, cfg.retry_after_s, round(cfg.retry_after_s * 1000))
            elif r500 < cfg.p_500:
                status = (500, 502, 503)[min(2, int(kind500 * 3))]
                resp = error(status, f"stand-in fault p_500: HTTP {status}", "server_error")
            else:
                body = self._completion(cfg, req, n, (prompt_tokens, max_tokens), rng, entry)
                answer: bytes | StreamedAnswer
                if stream:
                    answer = StreamedAnswer.of(body, req, cfg, index)
                else:
                    if StreamedAnswer.slow(cfg):
                        await StreamedAnswer.of(body, req, cfg, index).generate()
                    answer = orjson.dumps(body)
                resp = 200, [("openai-model", f"{model}-standin-0001")], answer
        if cfg.ratelimit_headers:
            resp[1].extend(self._limiter.headers(cfg, cost))
        return resp

    def _completion(
        self,
        cfg: StandinConfig,
        req: dict[str, Any],
        n: int,
        tokens: tuple[int, int | None],
        rng: random.Random,
        entry: dict[str, Any],
    ) -> dict[str, Any]:
        model, messages = str(req["model"]), req["messages"]
        prompt_tokens, max_tokens = tokens
        json_wanted, schema = C.find_schema(req)
        key, topics = C.canonical_key(req), C.prompt_words(messages)
        if cfg.reply_variants:
            key, topics = C.variant_key(key, cfg.reply_variants), []
        shape = output_shape(messages)  # what the prompt's example outputs look like
        entry["judged_sha256"] = judged_sha256(messages)  # what a judge was asked about
        share = 0.8 if cfg.judge_fail_share is None else cfg.judge_fail_share
        pin = axis_fail_pin(messages, cfg.judge_fail_axis, share) or C.judge_pin(
            messages, cfg.judge_score, cfg.judge_score_by_length, cfg.judge_low_marker
        )
        tags = attribute_tags(messages)  # generation.axes: the instructions carry them
        choices: list[dict[str, Any]] = []
        completion_chars = 0
        repair = is_check_repair(messages)  # answered without the fault (repairs.py)
        for i in range(1 if cfg.ignore_n else n):
            faults = {} if repair else {str(k): v for k, v in cfg.task_faults.items()}
            writer = ShapedWriter(C.choice_rng(key, i), topics, pin, shape, faults)
            if repair and shape is not None and shape.kind == "sql":
                writer.tables = shown_tables(messages)
            writer.tags = tags
            text = reply_content(json_wanted, schema, writer)
            grounded = G.reply(messages, schema, i, cfg.grounded_faults, req.get("seed"))
            text = grounded if grounded is not None else text
            finish = "stop"
            f_cf, f_tr, f_mal = rng.random(), rng.random(), rng.random()
            if f_cf < cfg.p_content_filter:
                text, finish = "", "content_filter"
            elif f_tr < cfg.p_truncate:
                text, finish = C.truncate(text), "length"
            elif max_tokens is not None and len(text) > max_tokens * 4:
                text, finish = text[: max_tokens * 4], "length"
            elif f_mal < cfg.p_malformed:
                text = C.malform(text, rng)
            completion_chars += len(text)
            message = {"role": "assistant", "content": text}
            choices.append(
                {"index": i, "message": message, "finish_reason": finish, "logprobs": None}
            )
        seq = entry["seq"]
        completion_tokens = C.estimate_tokens(completion_chars)
        usage: dict[str, Any] = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        if cfg.prompt_cache and (hit := self.prompt_cache.cached_tokens(messages)):
            usage["prompt_tokens_details"] = {"cached_tokens": min(hit, prompt_tokens)}
        body = {
            "id": f"chatcmpl-standin-{seq}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": f"{model}-standin-0001",
            "system_fingerprint": "synthgen-standin-NOT-A-MODEL",
            "choices": choices,
            "usage": usage,
        }
        entry["choices"], entry["response_id"] = len(choices), body["id"]
        return body

    # --- admin (for tests) ----------------------------------------------------------------

    def _admin(self, method: str, path: str, body: bytes) -> Resp:
        if path == "/_standin/stats" and method == "GET":
            return 200, [], orjson.dumps(self.stats())
        if path == "/_standin/identity" and method == "GET":  # unlogged: clients probe it
            return 200, [], orjson.dumps({"standin": True, "answers": self.config.answers_sha256()})
        if path == "/_standin/faults" and method == "GET":
            return 200, [], orjson.dumps(self.config.public_dump())
        if path == "/_standin/faults" and method == "POST":
            try:
                changes = orjson.loads(body or b"{}")
                if not isinstance(changes, dict):
                    raise ValueError("expected a JSON object")
                self.set_faults(**changes)
            except (ValueError, ValidationError) as exc:
                return error(400, f"invalid faults: {exc}")
            return 200, [], orjson.dumps(self.config.public_dump())
        if path == "/_standin/reset" and method == "POST":
            self.reset()
            return 200, [], orjson.dumps({"reset": True})
        return error(404, f"Unknown admin path {method} {path}", code="unknown_url")


def _status_error(status: int, message: str | None) -> Resp:
    text = message or f"{reason(status)} (stand-in fault status_code)"
    return error(status, text, "server_error" if status >= 500 else "invalid_request_error")


def _rate_error(message: str, wait_s: float, wait_ms: int) -> Resp:
    headers = [("retry-after", str(math.ceil(wait_s))), ("retry-after-ms", str(wait_ms))]
    return error(429, message, "rate_limit_exceeded", None, "rate_limit_exceeded", headers)

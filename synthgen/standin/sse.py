"""Streamed chat answers of the stand-in: server-sent events exactly as OpenAI sends them.

A STAND-IN, NOT A MODEL: the streamed text is the same placeholder text a non-streamed
request gets. `http11.py` writes whole responses; a streamed answer is written here instead,
on its connection, while the request is being dispatched (see `StreamingWriter`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import orjson

from synthgen.standin.config import StandinConfig
from synthgen.standin.http11 import Resp, error

_DONE = b"data: [DONE]\n\n"
_END = b"0\r\n\r\n"  # the last chunk of a chunked body


class StreamingWriter:
    """A connection's writer through which a handler may stream a response itself.

    http11 writes the response each dispatch returns; after a streamed answer that answer is
    already on the wire, so the placeholder response handed over next is dropped here."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.skip_next = False

    def write(self, data: bytes) -> None:
        """Write `data`, unless it is the placeholder that follows a streamed answer."""
        if self.skip_next:
            self.skip_next = False
            return
        self.writer.write(data)

    async def drain(self) -> None:
        """Wait until the socket takes what was written."""
        await self.writer.drain()

    def close(self) -> None:
        """Close the connection."""
        self.writer.close()


def chunk_events(body: dict[str, Any], include_usage: bool, chunk_chars: int) -> list[bytes]:
    """A chat.completion `body` as chat.completion.chunk events: per choice a role chunk, its
    text `chunk_chars` at a time and a finish chunk; then usage if asked; then [DONE]."""
    head = {k: body[k] for k in ("id", "created", "model", "system_fingerprint")}
    frame = {**head, "object": "chat.completion.chunk"}
    if include_usage:
        frame["usage"] = None  # OpenAI: null on every chunk but the last
    # Every chunk differs only in its choices: format it around the frame's fields.
    pre = orjson.dumps(frame)[:-1] + b","
    out: list[bytes] = []

    def event(choice: bytes) -> bytes:
        return b"data: " + pre + b'"choices":[' + choice + b"]}\n\n"

    for c in body["choices"]:
        i, text = c["index"], c["message"]["content"] or ""
        start = {"index": i, "delta": {"role": "assistant", "content": ""}}
        out.append(event(orjson.dumps({**start, "logprobs": None, "finish_reason": None})))
        for at in range(0, len(text), chunk_chars):
            piece = orjson.dumps(text[at : at + chunk_chars])
            out.append(
                event(
                    b'{"index":%d,"delta":{"content":%s},"logprobs":null,"finish_reason":null}'
                    % (i, piece)
                )
            )
        end = {"index": i, "delta": {}, "logprobs": None, "finish_reason": c["finish_reason"]}
        out.append(event(orjson.dumps(end)))
    if include_usage:
        last = {**frame, "choices": [], "usage": body["usage"]}
        out.append(b"data: " + orjson.dumps(last) + b"\n\n")
    out.append(_DONE)
    return out


def stream_refusal(req: dict[str, Any], cfg: StandinConfig) -> Resp | None:
    """The 400 of an endpoint that does not stream, or takes no `stream_options` (faults)."""
    if req.get("stream") is True and cfg.reject_stream:
        msg = "streaming not supported by this endpoint (stand-in fault reject_stream)"
        return error(400, msg, param="stream")
    if "stream_options" in req and cfg.reject_stream_options:
        msg = "Unrecognized request argument supplied: stream_options (stand-in fault)"
        return error(400, msg, param="stream_options")
    return None


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


@dataclass
class StreamedAnswer:
    """A chat answer to stream, with the faults that slow it down or stall it."""

    events: list[bytes]
    delay_s: float = 0.0
    stall_after: int | None = None
    stall_s: float = 0.0

    @classmethod
    def of(
        cls, body: dict[str, Any], req: dict[str, Any], cfg: StandinConfig, index: int
    ) -> StreamedAnswer:
        """The answer `body` to chat request `index` (arrival order), as `req` asked for it."""
        opts = req.get("stream_options")
        asked = isinstance(opts, dict) and bool(opts.get("include_usage"))
        events = chunk_events(body, asked and cfg.stream_usage, cfg.stream_chunk_chars)
        stalls = cfg.stall_after_chunks is not None and (
            cfg.stall_first is None or index < cfg.stall_first
        )
        return cls(
            events, cfg.chunk_delay_s, cfg.stall_after_chunks if stalls else None, cfg.stall_s
        )

    @staticmethod
    def slow(cfg: StandinConfig) -> bool:
        """Whether answers are slowed down (then a non-streamed one waits as long in all)."""
        return bool(cfg.chunk_delay_s) or (cfg.stall_after_chunks is not None and cfg.stall_s > 0)

    async def generate(self) -> None:
        """Take as long as streaming would have, for an answer sent in one piece: a slow
        model is as slow whether its answer is streamed or not."""
        stall = self.stall_s if self.stall_after is not None else 0.0
        await asyncio.sleep(self.delay_s * len(self.events) + stall)

    async def send(
        self,
        conn: StreamingWriter,
        headers: list[tuple[str, str]],
        keep: bool,
        entry: dict[str, Any],
    ) -> None:
        """Write the whole response (status, headers, events); counts chunks in `entry`."""
        head = (
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\n"
            "cache-control: no-cache\r\ntransfer-encoding: chunked\r\n"
            "server: synthgen-standin\r\n"
            + ("" if keep else "connection: close\r\n")
            + "".join(f"{k}: {v}\r\n" for k, v in headers)
            + "\r\n"
        )
        w = conn.writer
        w.write(head.encode("latin-1"))
        if not self.delay_s and self.stall_after is None:
            # Nothing to wait for: one write, as fast as a non-streamed answer.
            w.write(_chunk(b"".join(self.events)) + _END)
            entry["chunks"] = len(self.events)
        else:
            for k, ev in enumerate(self.events):
                if k == self.stall_after:
                    await asyncio.sleep(self.stall_s)
                if self.delay_s:
                    await asyncio.sleep(self.delay_s)
                if w.is_closing():
                    raise ConnectionResetError("the client went away mid-stream")
                w.write(_chunk(ev))
                await w.drain()
                entry["chunks"] = k + 1
            w.write(_END)
        await w.drain()
        entry["completed"] = True
        conn.skip_next = True

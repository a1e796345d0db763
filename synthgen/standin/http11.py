"""HTTP/1.1 for the stand-in: keep-alive connections, request parsing and response encoding.

Request bodies may be sent with Content-Length or chunked; responses are JSON unless a
handler sets its own content-type. Routing and the replies themselves live in `endpoint.py`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

import orjson

Resp = tuple[int, list[tuple[str, str]], bytes]
Dispatch = Callable[[str, str, dict[str, str], bytes], Awaitable[Resp]]
"""`(method, target, headers, body) -> response`; headers are keyed by lower-case name."""

MAX_BODY = 64 * 1024 * 1024
_REASONS = {s.value: s.phrase for s in HTTPStatus}
_BAD = "invalid_request_error"


class DropConnection(ConnectionError):
    """Raised by a handler: close the connection without sending any answer."""


def reason(status: int) -> str:
    """The HTTP reason phrase of `status` ("Unknown" for unregistered codes)."""
    return _REASONS.get(status, "Unknown")


def error(
    status: int,
    message: str,
    kind: str = _BAD,
    param: str | None = None,
    code: str | None = None,
    headers: list[tuple[str, str]] | None = None,
) -> Resp:
    """An OpenAI-shaped error response."""
    body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    return status, headers or [], orjson.dumps(body)


async def serve_connection(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    dispatch: Dispatch,
    conns: set[asyncio.Task[Any]],
) -> None:
    """Answer requests on one connection until it closes; the task is tracked in `conns`."""
    task = asyncio.current_task()
    if task is not None:
        conns.add(task)
    try:
        while await _one_request(reader, writer, dispatch):
            pass
    except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        pass
    except asyncio.CancelledError:  # stop() ends idle keep-alive connections this way
        pass
    finally:
        if task is not None:
            conns.discard(task)
        writer.close()


async def _one_request(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, dispatch: Dispatch
) -> bool:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return False
    except asyncio.LimitOverrunError:
        writer.write(_encode(*error(431, "request head too large"), False))
        return False
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3:
        writer.write(_encode(*error(400, "malformed request line"), False))
        return False
    method, target, version = parts
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name:
            headers[name.strip().lower()] = value.strip()
    if headers.get("expect", "").lower() == "100-continue":
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = await _read_chunked(reader)
    else:
        length = int(cl) if (cl := headers.get("content-length", "0")).isdigit() else -1
        if not 0 <= length <= MAX_BODY:
            writer.write(_encode(*error(413 if length > 0 else 400, "bad content-length"), False))
            return False
        body = await reader.readexactly(length) if length else b""
    conn = headers.get("connection", "").lower()
    keep = "close" not in conn if version == "HTTP/1.1" else "keep-alive" in conn
    writer.write(_encode(*await dispatch(method, target, headers, body), keep))
    await writer.drain()
    return keep


def _encode(status: int, headers: list[tuple[str, str]], payload: bytes, keep: bool) -> bytes:
    ctype = next((v for k, v in headers if k.lower() == "content-type"), "application/json")
    head = (
        f"HTTP/1.1 {status} {reason(status)}\r\ncontent-type: {ctype}"
        f"\r\ncontent-length: {len(payload)}\r\nserver: synthgen-standin\r\n"
        + ("" if keep else "connection: close\r\n")
        + "".join(f"{k}: {v}\r\n" for k, v in headers if k.lower() != "content-type")
    )
    return (head + "\r\n").encode("latin-1") + payload


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0].strip() or b"0", 16)
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers
                pass
            return b"".join(chunks)
        total += size
        if total > MAX_BODY:
            raise ConnectionError("chunked body too large")
        chunks.append(await reader.readexactly(size))
        await reader.readexactly(2)

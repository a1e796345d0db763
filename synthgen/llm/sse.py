"""Server-sent chat chunks: events out of a byte stream, and the completion they make up."""

from __future__ import annotations

import orjson

from synthgen.llm.policy import invalid_response
from synthgen.llm.tokens import CHARS_PER_TOKEN
from synthgen.llm.types import WireChoice, WireCompletion, WireMessage, WireUsage


class StreamError(Exception):
    """An error event inside a stream: the endpoint gave up on the answer mid-way."""

    def __init__(self, message: str, body: object = None) -> None:
        super().__init__(message)
        self.message, self.body = message, body


class ChunkAssembler:
    """chat.completion.chunk objects in, the one completion they make up out."""

    def __init__(self) -> None:
        self.id: str | None = None
        self.model: str | None = None
        self.usage: WireUsage | None = None
        self.timings: dict[str, object] | None = None  # llama.cpp's account of the answer
        self.parts: dict[int, list[str]] = {}
        self.finish: dict[int, str | None] = {}
        self.done = False  # `data: [DONE]` arrived

    def add(self, data: bytes) -> int:
        """Take one event's data; returns the tokens its text holds (estimated, for progress)."""
        if len(data) < 16 and data.strip() == b"[DONE]":
            self.done = True
            return 0
        try:
            chunk = orjson.loads(data)
        except orjson.JSONDecodeError as e:
            raise invalid_response(f"a streamed chunk is not JSON: {e}") from e
        if not isinstance(chunk, dict):
            raise invalid_response("a streamed chunk is not a JSON object")
        if chunk.get("error"):
            err = chunk["error"]
            text = err.get("message") if isinstance(err, dict) else err
            raise StreamError(f"the endpoint failed mid-stream: {text}", err)
        self.id = self.id or chunk.get("id")
        self.model = self.model or chunk.get("model")
        if isinstance(chunk.get("usage"), dict):
            self.usage = WireUsage.model_validate(chunk["usage"])
        if isinstance(chunk.get("timings"), dict):
            self.timings = chunk["timings"]
        tokens = 0
        for choice in chunk.get("choices") or ():
            if not isinstance(choice, dict):
                raise invalid_response("a streamed choice is not a JSON object")
            index = choice.get("index", 0)
            index = index if isinstance(index, int) else 0
            parts = self.parts.setdefault(index, [])
            self.finish.setdefault(index, None)
            delta = choice.get("delta")
            piece = delta.get("content") if isinstance(delta, dict) else None
            if isinstance(piece, str):
                parts.append(piece)
                tokens += (len(piece) + 3) // CHARS_PER_TOKEN  # as `estimate`, cheaper
            if choice.get("finish_reason"):
                self.finish[index] = str(choice["finish_reason"])
        return tokens

    def completion(self) -> WireCompletion:
        """The completion the chunks make up; content is None for a choice that sent none."""
        choices = [
            WireChoice(
                index=i,
                message=WireMessage(content="".join(parts) if parts else None),
                finish_reason=self.finish.get(i),
            )
            for i, parts in sorted(self.parts.items())
        ]
        return WireCompletion(id=self.id, model=self.model, choices=choices, usage=self.usage)

    @property
    def finished(self) -> bool:
        """Whether the stream ended as streams do, not cut off mid-answer."""
        return self.done or (bool(self.finish) and all(self.finish.values()))


class SSEDecoder:
    """Server-sent events out of a byte stream: the `data` of each, comments and pings skipped."""

    def __init__(self) -> None:
        self.rest = b""

    def feed(self, chunk: bytes) -> list[bytes]:
        """The data of every event that `chunk` completes."""
        buf = self.rest + chunk if self.rest else chunk
        if b"\r" in buf:
            buf = buf.replace(b"\r\n", b"\n")  # a lone "\r" at the end waits for its "\n"
        events = buf.split(b"\n\n")
        self.rest = events.pop()
        out: list[bytes] = []
        for ev in events:
            # The usual event is one `data: ` line; anything else takes the long way.
            if ev.startswith(b"data: ") and b"\n" not in ev:
                out.append(ev[6:])
            elif ev:
                out.extend(self._event(ev))
        return out

    def close(self) -> list[bytes]:
        """The data of a last event the stream ended without a blank line after."""
        rest, self.rest = self.rest, b""
        return self._event(rest.rstrip(b"\r\n")) if rest.strip() else []

    @staticmethod
    def _event(ev: bytes) -> list[bytes]:
        data = []
        for line in ev.split(b"\n"):
            if line.startswith(b"data:"):
                data.append(line[6:] if line[5:6] == b" " else line[5:])
            elif line.startswith(b"error:"):  # llama.cpp's server reports failures this way
                raise StreamError(f"the endpoint failed mid-stream: {line[6:].strip().decode()}")
        return [b"\n".join(data)] if data else []

"""Injected fakes for unit tests: a scripted LLM client with no HTTP, no clock and no sleeps."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

import orjson

from synthgen.llm.cache import request_key
from synthgen.llm.misses import Online
from synthgen.llm.types import Answer, ChatRequest, RequestStats
from synthgen.records import Usage

if TYPE_CHECKING:
    from synthgen.llm.client import LLMClient

# What a call answers: one content for every sample, one content per sample, or an exception
# the call raises (RequestRejected, RequestFailed, BudgetExceeded, ...).
Reply = str | list[str] | BaseException
Script = Callable[[ChatRequest, int], Reply]  # (request, call number) -> reply


class FakeClient:
    """Quacks like LLMClient where expand and the judge touch it: model, key, cached, chat."""

    def __init__(self, script: Script, model: str = "fake-model") -> None:
        self.script, self.model, self.endpoint = script, model, "fake.test"
        self.stats = RequestStats()
        self.calls: list[ChatRequest] = []  # every request, in the order it was asked
        self.returned: list[int] = []  # call numbers, in the order their answers came back
        self.answered: set[str] = set()  # keys a rerun would replay from the cache
        self._gates: dict[int, asyncio.Event] = {}
        self._moved: asyncio.Event | None = None
        self.misses = Online()  # never in batch mode

    def hold(self, call: int) -> asyncio.Event:
        """Keep call number `call` from answering until the returned event is set."""
        return self._gates.setdefault(call, asyncio.Event())

    async def until_returned(self, n: int) -> None:
        """Wait, without a clock, until `n` calls have answered (or raised)."""
        while len(self.returned) < n:
            self._moved = asyncio.Event()
            await self._moved.wait()

    def key(self, req: ChatRequest, sample: int) -> str:
        return request_key(self.endpoint, req.identity(self.model), sample)

    def cached(self, req: ChatRequest, sample: int = 0) -> bool:
        return self.key(req, sample) in self.answered

    async def chat(self, req: ChatRequest, followup: bool = False) -> list[Answer]:
        call = len(self.calls)
        self.calls.append(req)
        gate = self._gates.get(call)
        if gate is not None:
            await gate.wait()
        reply = self.script(req, call)
        self.returned.append(call)
        if self._moved is not None:
            self._moved.set()
        if isinstance(reply, BaseException):
            raise reply
        contents = reply if isinstance(reply, list) else [reply] * req.n
        self.stats.sent += 1
        answers = []
        for sample, content in enumerate(contents[: req.n]):
            key = self.key(req, sample)
            self.answered.add(key)
            answers.append(
                Answer(
                    content=content,
                    finish_reason="stop",
                    request_id=f"call-{call}",
                    resolved_model=self.model,
                    structured="json_schema" if req.json_schema else "none",
                    sampling="n" if req.n > 1 else "single",
                    usage=Usage(prompt_tokens=10, completion_tokens=5),
                    key=key,
                )
            )
        return answers


def as_llm_client(fake: FakeClient) -> LLMClient:
    """The fake, typed as the client it stands in for."""
    return cast("LLMClient", fake)


def tasks_reply(*instructions: str) -> str:
    """A self-instruct reply: one task per instruction, each with an output."""
    tasks = [{"instruction": i, "input": "", "output": f"an answer to {i}"} for i in instructions]
    return orjson.dumps({"tasks": tasks}).decode()


def verdict_reply(score: int, criteria: list[str]) -> str:
    """A judge's verdict giving `score` on every criterion."""
    scores = dict.fromkeys(criteria, score)
    verdict = {"rationale": "scripted", "scores": scores, "score": score, "flags": []}
    return orjson.dumps(verdict).decode()

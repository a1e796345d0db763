"""Grounded conversations: `strategy: grounded` with conversation seeds. The seeds show the
conversation's shape, one chunk (or two, with hops) gives the facts, and every assistant
turn carries its own verbatim quotes, checked against the chunk exactly as a single answer
is (grounded_turns.py); the first turn that fails drops the whole conversation, naming
the turn. Here: the reply's shape and the request."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from synthgen import prompts
from synthgen.llm.types import ChatRequest
from synthgen.records import Seed, Turn, exchanges
from synthgen.stages.expand.conversations import format_conversation, turns_of
from synthgen.stages.expand.grounded import Grounding, chunk_block

TEMPLATE = "grounded_conversation"
METHOD = "grounded_conversation"  # provenance.method of its records, and how a job says so


class GroundedExchange(BaseModel):
    """One user turn and the assistant's quoted answer, as the model returns them."""

    model_config = ConfigDict(extra="ignore")
    user: str = Field(min_length=1)
    assistant: str
    quotes: list[str] = Field(min_length=1, max_length=3)


class GroundedConversation(BaseModel):
    """One conversation the model wrote from a chunk, as it returns it."""

    model_config = ConfigDict(extra="ignore")
    system: str = ""
    exchanges: list[GroundedExchange] = Field(min_length=1)
    answerable: bool

    def turns(self) -> list[Turn]:
        """Every turn, the system prompt first when there is one (quotes are provenance)."""
        return turns_of(self.system, [(ex.user, ex.assistant) for ex in self.exchanges])


def is_chat(seeds: Sequence[Seed]) -> bool:
    """Whether grounded jobs write conversations: some seed is one (its `messages`)."""
    return any(s.messages for s in seeds)


def chat_schema(k: int) -> dict[str, Any]:
    """The reply's JSON schema: up to `k` conversations, each assistant turn with 1-3 quotes."""
    quotes = {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 3}
    exchange = {
        "type": "object",
        "properties": {
            "user": {"type": "string"},
            "assistant": {"type": "string"},
            "quotes": quotes,
        },
        "required": ["user", "assistant", "quotes"],
        "additionalProperties": False,
    }
    conversation = {
        "type": "object",
        "properties": {
            "system": {"type": "string"},
            "exchanges": {"type": "array", "items": exchange, "minItems": 1},
            "answerable": {"type": "boolean"},
        },
        "required": ["system", "exchanges", "answerable"],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {"items": {"type": "array", "items": conversation, "maxItems": k}},
        "required": ["items"],
        "additionalProperties": False,
    }


def _example(seed: Seed, n: int) -> str:
    """A seed conversation as the prompt shows it, with its quotes when it has some."""
    quotes = seed.meta.get("quotes")
    lines = [f'Quote: "{q}"' for q in (quotes if isinstance(quotes, list) else [])]
    return "\n".join([format_conversation(seed, n), *lines])


def chat_request(
    rng: random.Random,
    seeds: Sequence[Seed],
    shown: int,
    k: int,
    task_line: str,
    grounding: Grounding,
    base: dict[str, Any],
    job_seed: int,
) -> tuple[ChatRequest, list[Seed]]:
    """The request of one grounded conversation job and the seed conversations it shows."""
    convs = [s for s in seeds if s.messages]
    examples = rng.sample(convs, min(shown, len(convs)))
    # each conversation's length drawn from the seeds' own: their shape, not one length
    lengths = [exchanges(rng.choice(convs).messages or []) for _ in range(k)]
    where = grounding.document.path
    if len(grounding.chunks) > 1:
        where += "; the conversation must need both parts"
    msgs = prompts.load(TEMPLATE).render(
        task=task_line,
        examples="\n\n".join(_example(s, i + 1) for i, s in enumerate(examples)),
        where=where,
        chunks="\n\n".join(chunk_block(c) for c in grounding.chunks),
        k=str(k),
        lengths=", ".join(str(n) for n in lengths),
    )
    req = ChatRequest(
        messages=msgs, seed=job_seed, json_schema=chat_schema(k), schema_name=METHOD, **base
    )
    return req, examples

"""The `conversation` strategy: whole seed conversations in, new conversations of their shape out.

A job shows a few human conversations (system prompt and every exchange) and asks for
`per_call` new ones, each with a number of exchanges drawn from the seeds' own distribution.
The reply's schema makes the turns alternate by construction: a conversation is a system
prompt and a list of {user, assistant} exchanges.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from synthgen import prompts
from synthgen.errors import UsageError
from synthgen.llm.types import ChatRequest
from synthgen.records import Provenance, Record, Seed, Turn, conversation_id, exchanges, transcript


class Exchange(BaseModel):
    """One user turn and the assistant's answer, as the model returns them."""

    model_config = ConfigDict(extra="ignore")
    user: str = Field(min_length=1)
    assistant: str


class Conversation(BaseModel):
    """One generated conversation as the model returns it."""

    model_config = ConfigDict(extra="ignore")
    system: str = ""
    exchanges: list[Exchange] = Field(min_length=1)

    def turns(self) -> list[Turn]:
        """Every turn, the system prompt first when there is one."""
        return turns_of(self.system, [(ex.user, ex.assistant) for ex in self.exchanges])


def conversations_schema(k: int) -> dict[str, Any]:
    """The JSON schema of a reply holding exactly `k` conversations."""
    exchange = {
        "type": "object",
        "properties": {"user": {"type": "string"}, "assistant": {"type": "string"}},
        "required": ["user", "assistant"],
        "additionalProperties": False,
    }
    conversation = {
        "type": "object",
        "properties": {
            "system": {"type": "string"},
            "exchanges": {"type": "array", "items": exchange, "minItems": 1},
        },
        "required": ["system", "exchanges"],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {
            "conversations": {"type": "array", "items": conversation, "minItems": k, "maxItems": k}
        },
        "required": ["conversations"],
        "additionalProperties": False,
    }


def conversation_seeds(seeds: list[Seed]) -> list[Seed]:
    """The seeds that are conversations; the strategy needs at least one."""
    found = [s for s in seeds if s.messages]
    if not found:
        raise UsageError(
            "the conversation strategy needs multi-turn seeds, and none has more than one exchange",
            hint="give seeds in messages or sharegpt format with several user → assistant "
            "exchanges (see seeds/support_chats.jsonl), or use --strategy self-instruct",
        )
    return found


def format_conversation(seed: Seed, n: int) -> str:
    """A seed conversation as the prompt shows it, numbered."""
    assert seed.messages is not None
    return f"Conversation {n} ({exchanges(seed.messages)} exchanges):\n{transcript(seed.messages)}"


def conversation_request(
    rng: random.Random,
    seeds: list[Seed],
    k_examples: int,
    per_call: int,
    task_line: str,
    base: dict[str, Any],
    job_seed: int,
) -> tuple[ChatRequest, list[Seed], prompts.Template]:
    """The request of one conversation job, and the seed conversations it shows."""
    convs = conversation_seeds(seeds)
    shown = rng.sample(convs, min(k_examples, len(convs)))
    # each new conversation's length, drawn from the seeds' own: their shape, not one length
    lengths = [exchanges(rng.choice(convs).messages or []) for _ in range(per_call)]
    tpl = prompts.load("conversation")
    msgs = tpl.render(
        task=task_line,
        examples="\n\n".join(format_conversation(s, i + 1) for i, s in enumerate(shown)),
        k=str(per_call),
        lengths=", ".join(str(n) for n in lengths),
    )
    req = ChatRequest(
        messages=msgs,
        seed=job_seed,
        json_schema=conversations_schema(per_call),
        schema_name="conversations",
        **base,
    )
    return req, shown, tpl


def conversation_records(
    items: list[Any], task: str, prov: Provenance, drop: Callable[[int, str, str, str], None]
) -> list[Record]:
    """Records of the conversations in one reply; `drop(index, reason, detail, raw)` ledgers
    a malformed or empty one."""
    out = []
    for idx, item in enumerate(items, 1):
        raw = orjson.dumps(item).decode()
        try:
            conv = Conversation.model_validate(item)
        except ValidationError as e:
            drop(idx, "invalid_item", e.errors()[0]["msg"], raw)
            continue
        turns = conv.turns()
        if any(not t.content.strip() for t in turns if t.role == "assistant"):
            drop(idx, "empty_output", "an assistant turn is empty", raw)
            continue
        out.append(conversation_record(turns, task, prov))
    return out


def turns_of(system: str, exchanges: list[tuple[str, str]]) -> list[Turn]:
    """A conversation's turns from its system prompt (left out when blank) and its
    (user, assistant) exchanges."""
    out = [Turn(role="system", content=system)] if system.strip() else []
    for user, assistant in exchanges:
        out += [Turn(role="user", content=user), Turn(role="assistant", content=assistant)]
    return out


def conversation_record(turns: list[Turn], task: str, prov: Provenance) -> Record:
    """A conversation as a record: every turn in `messages`, its first exchange as the
    instruction and output that single-turn tools read, its id over every turn."""
    first_user = next(t.content for t in turns if t.role == "user")
    first_answer = next(t.content for t in turns if t.role == "assistant")
    return Record(
        id=conversation_id(turns),
        instruction=first_user,
        output=first_answer,
        messages=turns,
        meta={"task": task},
        provenance=prov,
    )

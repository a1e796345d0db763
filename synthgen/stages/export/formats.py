"""The training formats a dataset is exported to: one plain dict per record, nothing else.

A conversation (a row with `messages`) keeps every turn in `messages` and `sharegpt`;
`alpaca` and `prompt-completion` hold one exchange, so they take its last one when asked.
`dpo` writes preference pairs (records with `chosen` and `rejected`, from `filter`); the other
formats export a preference record as its chosen response, which is its `output`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from synthgen.seeds.dataset import Row
from synthgen.seeds.fields import kind_of

ExportFormat = Literal["alpaca", "messages", "sharegpt", "prompt-completion", "dpo"]
# Formats every record exports to (a preference record as its chosen response).
SFT_FORMATS: tuple[ExportFormat, ...] = ("alpaca", "messages", "sharegpt", "prompt-completion")
EXPORT_FORMATS: tuple[ExportFormat, ...] = (*SFT_FORMATS, "dpo")
# Formats with one exchange per line: a conversation fits only as its last exchange.
ONE_EXCHANGE: tuple[ExportFormat, ...] = ("alpaca", "prompt-completion")
SHAREGPT_FROM = {"system": "system", "user": "human", "assistant": "gpt"}


class TurnOrderError(ValueError):
    """A conversation's turns are not a system turn (optional), then user/assistant pairs."""


class NotAPairError(ValueError):
    """A record without the chosen and rejected responses a preference format needs."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def prompt_of(row: Row) -> str:
    """The user's turn: the instruction, then the input after a blank line when there is one."""
    return f"{row.instruction}\n\n{row.input}" if row.input else row.instruction


def turns_of(row: Row) -> list[dict[str, str]]:
    """The row's turns as role/content dicts: a conversation's own (checked), else the
    prompt and the output."""
    if not row.messages:
        return [
            {"role": "user", "content": prompt_of(row)},
            {"role": "assistant", "content": row.output},
        ]
    turns = row.messages
    body = turns[1:] if turns[0]["role"] == "system" else turns
    want = ["user", "assistant"] * ((len(body) + 1) // 2)
    if not body or [t["role"] for t in body] != want:
        order = ", ".join(t["role"] for t in turns)
        raise TurnOrderError(
            f"turns go {order}; a conversation is an optional system turn, then user and "
            "assistant turns alternating, first user, last assistant"
        )
    return [{"role": t["role"], "content": t["content"]} for t in turns]


def exchanges_of(row: Row) -> int:
    """How many user → assistant exchanges the row holds (1 for a single-turn row)."""
    return sum(1 for t in row.messages if t["role"] == "assistant") if row.messages else 1


def last_exchange(row: Row) -> tuple[str, str]:
    """The prompt and answer of the row's last exchange (a single-exchange row's only one)."""
    if exchanges_of(row) <= 1:
        return prompt_of(row), row.output
    turns = turns_of(row)
    return turns[-2]["content"], turns[-1]["content"]


def _alpaca(row: Row) -> dict[str, Any]:
    if exchanges_of(row) > 1:
        prompt, answer = last_exchange(row)
        return {"instruction": prompt, "input": "", "output": answer}
    return {"instruction": row.instruction, "input": row.input, "output": row.output}


def _messages(row: Row) -> dict[str, Any]:
    # TRL's conversational format: a list of role/content turns.
    return {"messages": turns_of(row)}


def _sharegpt(row: Row) -> dict[str, Any]:
    turns = turns_of(row)
    return {
        "conversations": [{"from": SHAREGPT_FROM[t["role"]], "value": t["content"]} for t in turns]
    }


def _prompt_completion(row: Row) -> dict[str, Any]:
    # TRL's standard (plain text) prompt-completion type.
    prompt, answer = last_exchange(row)
    return {"prompt": prompt, "completion": answer}


def _dpo(row: Row) -> dict[str, Any]:
    # TRL's standard (plain text) preference type: the prompt and two answers to it.
    pair = {k: row.raw.get(k) for k in ("chosen", "rejected")}
    if all(v is None for v in pair.values()):
        raise NotAPairError("not a preference pair (it has no chosen and rejected)")
    for name, value in pair.items():
        if not isinstance(value, str):
            raise NotAPairError(f"must be a string, not {kind_of(value)}", name)
        if not value.strip():
            raise NotAPairError("is empty, and a preference pair needs two answers", name)
    prompt = row.raw.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        prompt = prompt_of(row)  # the contract's prompt, for a record written without one
    return {"prompt": prompt, "chosen": pair["chosen"], "rejected": pair["rejected"]}


CONVERTERS: dict[ExportFormat, Callable[[Row], dict[str, Any]]] = {
    "alpaca": _alpaca,
    "messages": _messages,
    "sharegpt": _sharegpt,
    "prompt-completion": _prompt_completion,
    "dpo": _dpo,
}


def convert(row: Row, fmt: ExportFormat, *, with_ids: bool = False) -> dict[str, Any]:
    """One record in `fmt`: only the format's fields, plus the record's id first if asked.
    A conversation in a one-exchange format gives its last exchange (the caller decides
    whether that is wanted)."""
    body = CONVERTERS[fmt](row)
    return {"id": row.id, **body} if with_ids else body

"""The training formats a dataset is exported to: one plain dict per record, nothing else."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from synthgen.seeds.dataset import Row

ExportFormat = Literal["alpaca", "messages", "sharegpt", "prompt-completion"]
EXPORT_FORMATS: tuple[ExportFormat, ...] = ("alpaca", "messages", "sharegpt", "prompt-completion")


def prompt_of(row: Row) -> str:
    """The user's turn: the instruction, then the input after a blank line when there is one."""
    return f"{row.instruction}\n\n{row.input}" if row.input else row.instruction


def _alpaca(row: Row) -> dict[str, Any]:
    return {"instruction": row.instruction, "input": row.input, "output": row.output}


def _messages(row: Row) -> dict[str, Any]:
    # TRL's conversational format: a list of role/content turns.
    return {
        "messages": [
            {"role": "user", "content": prompt_of(row)},
            {"role": "assistant", "content": row.output},
        ]
    }


def _sharegpt(row: Row) -> dict[str, Any]:
    return {
        "conversations": [
            {"from": "human", "value": prompt_of(row)},
            {"from": "gpt", "value": row.output},
        ]
    }


def _prompt_completion(row: Row) -> dict[str, Any]:
    # TRL's standard (plain text) prompt-completion type.
    return {"prompt": prompt_of(row), "completion": row.output}


CONVERTERS: dict[ExportFormat, Callable[[Row], dict[str, Any]]] = {
    "alpaca": _alpaca,
    "messages": _messages,
    "sharegpt": _sharegpt,
    "prompt-completion": _prompt_completion,
}


def convert(row: Row, fmt: ExportFormat, *, with_ids: bool = False) -> dict[str, Any]:
    """One record in `fmt`: only the format's fields, plus the record's id first if asked."""
    body = CONVERTERS[fmt](row)
    return {"id": row.id, **body} if with_ids else body

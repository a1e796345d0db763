"""The SDK call built from a ChatRequest, and the Answers read back from a completion."""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import ValidationError

from synthgen.llm.policy import invalid_response
from synthgen.llm.types import Answer, ChatRequest, WireCompletion
from synthgen.records import StructuredPath, Usage

# Structured-output paths, best first; an endpoint that rejects one falls to the next.
STRUCTURED_ORDER: tuple[StructuredPath, ...] = ("json_schema", "json_object", "prompted")


def schema_instruction(schema: dict[str, Any]) -> str:
    """How the prompted-JSON fallback asks for structure in plain words."""
    return (
        "Reply with a single JSON value that conforms to this JSON schema, and nothing else.\n"
        "JSON schema:\n```json\n" + orjson.dumps(schema).decode() + "\n```"
    )


def call_kwargs(
    model: str, req: ChatRequest, n: int, sample: int, path: StructuredPath
) -> dict[str, Any]:
    """Keyword arguments of `chat.completions.create` for `n` samples along `path`."""
    messages = list(req.messages)
    kw: dict[str, Any] = {
        "model": model,
        "temperature": req.temperature,
        "top_p": req.top_p,
        "max_tokens": req.max_tokens,
    }
    if n > 1:
        kw["n"] = n
    if req.seed is not None:  # a separate sample needs its own seed to differ
        kw["seed"] = req.seed + sample
    schema = req.json_schema
    if schema is not None:
        if path == "json_schema":
            kw["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": req.schema_name, "schema": schema, "strict": False},
            }
        else:
            messages = [*messages, {"role": "system", "content": schema_instruction(schema)}]
            if path == "json_object":
                # llama.cpp's server takes the schema inside json_object; others ignore it.
                kw["response_format"] = {"type": "json_object", "schema": schema}
    kw["messages"] = messages
    return kw


def parse_completion(body: bytes) -> WireCompletion:
    """The completion in a reply's body, validated straight from the bytes."""
    try:
        return WireCompletion.model_validate_json(body)
    except ValidationError as e:
        raise invalid_response(e.errors()[0]["msg"]) from e


def completion_answers(
    completion: WireCompletion,
    model: str,
    request_id: str | None,
    path: StructuredPath,
    usage: tuple[int, int, float],
    upstream: str | None = None,
) -> list[Answer]:
    """One Answer per choice; `usage` (prompt, completion tokens, cost) is shared by length;
    `upstream` is the model a router says answered."""
    pt, ct, cost = usage
    cached = completion.usage.cached_tokens if completion.usage else 0
    choices = sorted(completion.choices, key=lambda c: c.index)
    k = max(1, len(choices))
    lengths = [len(c.message.content or "") + 1 for c in choices]
    total = sum(lengths) or 1
    out = []
    for c, length in zip(choices, lengths, strict=True):
        share = length / total
        out.append(
            Answer(
                content=c.message.content,
                finish_reason=c.finish_reason,
                request_id=request_id or completion.id,
                resolved_model=completion.model or model,
                upstream_model=upstream,
                structured=path,
                sampling="single",
                usage=Usage(
                    prompt_tokens=pt // k,
                    completion_tokens=round(ct * share),
                    cost_usd=cost * share,
                    cached_tokens=min(cached, pt) // k,
                ),
            )
        )
    return out

"""The stand-in's /v1/embeddings: deterministic unit vectors from a hash (meaningless).

NOTHING HERE IS USEFUL DATA: a vector says nothing about its text's meaning.
"""

from __future__ import annotations

import base64
import hashlib
import math
import struct
from typing import Any

import orjson

from synthgen.standin.content import estimate_tokens
from synthgen.standin.http11 import Resp, error

EMBED_DIMS = 64


def embedding(text: str, dims: int) -> list[float]:
    """A deterministic unit-norm vector derived from the text's hash (meaningless)."""
    raw = hashlib.shake_256(text.encode("utf-8", "surrogatepass")).digest(2 * dims)
    values = struct.unpack(f"<{dims}h", raw)
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [v / norm for v in values]


def embeddings_response(req: dict[str, Any]) -> Resp:
    """The answer to one embeddings request, in OpenAI's shape."""
    model, raw = req.get("model"), req.get("input")
    if not isinstance(model, str) or not model:
        return error(400, "you must provide a model parameter", param="model")
    items = raw if isinstance(raw, list) and raw and not isinstance(raw[0], int) else [raw]
    if raw is None or raw == [] or not all(isinstance(x, str | list) for x in items):
        return error(400, "input must be a string or a list", param="input")
    dims = req.get("dimensions") or EMBED_DIMS
    if not isinstance(dims, int) or not 1 <= dims <= 4096:
        return error(400, "dimensions must be an integer in 1..4096", param="dimensions")
    data: list[dict[str, Any]] = []
    tokens = 0
    for i, item in enumerate(items):
        text = item if isinstance(item, str) else orjson.dumps(item).decode()
        tokens += estimate_tokens(len(text))
        vec: Any = embedding(text, dims)
        if req.get("encoding_format") == "base64":
            vec = base64.b64encode(struct.pack(f"<{dims}f", *vec)).decode()
        data.append({"object": "embedding", "index": i, "embedding": vec})
    usage = {"prompt_tokens": tokens, "total_tokens": tokens}
    return 200, [], orjson.dumps({"object": "list", "data": data, "model": model, "usage": usage})

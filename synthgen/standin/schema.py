"""Schema-valid JSON for the stand-in: a value for any JSON schema, from placeholder words.

NOTHING HERE IS USEFUL DATA (see content.py).
"""

from __future__ import annotations

import math
import re
from typing import Any

import orjson

from synthgen.standin.content import NOUNS, JsonSchema, Writer


def string_for(name: str, w: Writer, min_length: int = 0) -> str:
    """A placeholder string for a field, shaped by the field's name."""
    key = re.split(r"[_\-\s]", name.lower())[-1] if name else ""
    keys = {key, key[:-1] if key.endswith("s") else key}
    if keys & {"instruction", "prompt", "question", "task", "query", "user"}:
        return w.instruction()
    if keys & {"input", "context"}:
        return w.input_text(min_length)  # an SQL task's: a schema (shapes.py)
    if keys & {"output", "response", "answer", "completion", "solution", "assistant"}:
        return w.output()  # shaped like the prompt's example outputs (see shapes.py)
    if keys & {"test"}:
        return w.tests_text()  # a code task's asserts (shapes.py)
    if keys & {"rationale", "reason", "reasoning", "explanation", "critique", "justification"}:
        return w.text(6, 18)
    return w.phrase()


def generate_value(schema: Any, w: Writer, root: JsonSchema, name: str = "", depth: int = 0) -> Any:
    """A value valid for (a practical subset of) JSON Schema."""
    if not isinstance(schema, dict) or depth > 24:
        return w.phrase() if depth <= 24 else None
    if "$ref" in schema:
        return generate_value(_resolve(root, str(schema["$ref"])), w, root, name, depth + 1)
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return w.rng.choice(schema["enum"])
    for comb in ("anyOf", "oneOf"):
        options = schema.get(comb)
        if isinstance(options, list) and options:
            non_null = [o for o in options if not (isinstance(o, dict) and o.get("type") == "null")]
            return generate_value((non_null or options)[0], w, root, name, depth + 1)
    if isinstance(schema.get("allOf"), list):
        merged: JsonSchema = {k: v for k, v in schema.items() if k != "allOf"}
        for part in schema["allOf"]:
            part = (
                _resolve(root, part["$ref"]) if isinstance(part, dict) and "$ref" in part else part
            )
            if isinstance(part, dict):
                props = {**merged.get("properties", {}), **part.get("properties", {})}
                req = [*merged.get("required", []), *part.get("required", [])]
                merged = {**merged, **part, "properties": props, "required": req}
        return generate_value(merged, w, root, name, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), kind[0] if kind else None)
    if kind is None:
        kind = "object" if "properties" in schema else "array" if "items" in schema else "string"
    if kind == "object":
        props = schema.get("properties") or {}
        return {k: generate_value(v, w, root, k, depth + 1) for k, v in props.items()}
    if kind == "array":
        return _array(schema, w, root, name, depth)
    if kind in ("integer", "number"):
        return _number(schema, w, kind == "integer")
    if kind == "boolean":
        return w.rng.random() < 0.5
    if kind == "null":
        return None
    return _string(schema, w, name)


def _resolve(root: JsonSchema, ref: str) -> Any:
    node: Any = root
    if not ref.startswith("#"):
        return {}
    for part in ref.lstrip("#").strip("/").split("/"):
        if not part:
            continue
        part = part.replace("~1", "/").replace("~0", "~")
        node = node.get(part, {}) if isinstance(node, dict) else {}
    return node


def _array(schema: JsonSchema, w: Writer, root: JsonSchema, name: str, depth: int) -> list[Any]:
    lo, hi = schema.get("minItems"), schema.get("maxItems")
    if depth > 10:  # deep (maybe recursive) schema: as few items as allowed
        n = int(lo or 0)
    elif lo is None and hi is None:
        n = 3
    else:
        hi_ = int(hi) if hi is not None else max(int(lo or 0), 3)
        lo_ = int(lo) if lo is not None else min(1, hi_)
        n = w.rng.randint(lo_, max(lo_, hi_))
    items = schema.get("items", {})
    out: list[Any] = []
    seen: set[bytes] = set()
    for _ in range(n * 8 if schema.get("uniqueItems") else n):
        value = generate_value(items, w, root, name, depth + 1)
        if schema.get("uniqueItems"):
            key = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
            if key in seen:
                continue
            seen.add(key)
        out.append(value)
        if len(out) >= n:
            break
    return out


def _number(schema: JsonSchema, w: Writer, integer: bool) -> int | float:
    lo = schema.get("minimum")
    hi = schema.get("maximum")
    xlo, xhi = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    eps = 1 if integer else 1e-3
    if isinstance(xlo, int | float) and not isinstance(xlo, bool):
        lo = xlo + eps if lo is None else max(lo, xlo + eps)
    if isinstance(xhi, int | float) and not isinstance(xhi, bool):
        hi = xhi - eps if hi is None else min(hi, xhi - eps)
    lo = float(lo) if lo is not None else (float(hi) - 10 if hi is not None else 0.0)
    hi = float(hi) if hi is not None else lo + 10
    if w.pin is not None:
        pinned = min(max(w.pin(lo, hi), lo), hi)
        return min(max(round(pinned), math.ceil(lo)), math.floor(hi)) if integer else pinned
    if integer:
        ilo, ihi = math.ceil(lo), math.floor(hi)
        return w.rng.randint(ilo, max(ilo, ihi))
    value = round(w.rng.uniform(lo, hi), 3)
    return min(max(value, lo), hi)


def _string(schema: JsonSchema, w: Writer, name: str) -> str:
    r = w.rng
    fmt = schema.get("format")
    min_len = int(schema.get("minLength") or 0)
    if fmt == "date":
        text = f"20{r.randint(10, 29)}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}"
    elif fmt == "date-time":
        text = f"20{r.randint(10, 29)}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}T12:00:00Z"
    elif fmt == "email":
        text = f"{r.choice(NOUNS)}{r.randint(1, 999)}@example.com"
    elif fmt in ("uri", "url"):
        text = f"https://example.com/{r.choice(NOUNS)}/{r.randint(1, 999)}"
    elif fmt == "uuid":
        h = f"{r.getrandbits(128):032x}"
        text = f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"
    else:
        text = string_for(name, w, min_len)
    while len(text) < min_len:
        text = f"{text} {w.phrase()}".strip()
    max_len = schema.get("maxLength")
    return text[: int(max_len)] if max_len is not None else text


def reply_content(json_wanted: bool, schema: JsonSchema | None, w: Writer) -> str:
    """The full (fault-free) content of one choice."""
    if not json_wanted:
        return w.reply_text()
    value = {"text": w.reply_text()} if schema is None else generate_value(schema, w, schema)
    return orjson.dumps(value).decode()

"""The `json_schema` check: the output, parsed as JSON, validates against a JSON Schema,
given in the config or inferred from the seeds' outputs (keys, types, closed sets of labels).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any

from synthgen.errors import UsageError
from synthgen.stages.filter.checks.outcome import CheckFailure, Subject

# A label from a closed set ("billing", "high"): one short token, no spaces.
_LABEL_RE = re.compile(r"[\w\-./:+#]{1,40}")
_TYPES: tuple[tuple[type, str], ...] = (
    (bool, "boolean"),
    (int, "integer"),
    (float, "number"),
    (str, "string"),
    (list, "array"),
    (dict, "object"),
    (type(None), "null"),
)


def _type(value: Any) -> str:
    return next(name for t, name in _TYPES if isinstance(value, t))


def infer_schema(outputs: Sequence[str]) -> dict[str, Any] | None:
    """A JSON Schema the seeds' outputs all satisfy: the keys every seed has are required, a
    key's type is what every seed gives it, and short labels that repeat become an enum of the
    values seen. None when the outputs are not all JSON objects."""
    values: list[Any] = []
    for out in outputs:
        try:
            values.append(json.loads(out))
        except ValueError:
            return None
    if not values or not all(isinstance(v, dict) for v in values):
        return None
    schema = _infer(values)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


def _infer(values: list[Any]) -> dict[str, Any]:
    types = sorted({_type(v) for v in values})
    if types == ["integer", "number"]:
        types = ["number"]
    if len(types) > 1:
        return {"type": types}
    kind = types[0]
    if kind == "object":
        keys: dict[str, None] = {}
        for v in values:
            keys.update(dict.fromkeys(v))
        required = [k for k in keys if all(k in v for v in values)]
        props = {k: _infer([v[k] for v in values if k in v]) for k in keys}
        same = all(set(v) == set(keys) for v in values)
        return {"type": "object", "properties": props, "required": required} | (
            {"additionalProperties": False} if same else {}
        )
    if kind == "array":
        items = [x for v in values for x in v]
        return {"type": "array", "items": _infer(items)} if items else {"type": "array"}
    if kind == "string":
        seen = list(dict.fromkeys(values))
        if len(seen) < len(values) and all(_LABEL_RE.fullmatch(v) for v in seen):
            return {"type": "string", "enum": sorted(seen)}
    return {"type": kind}


def read_schema(path: Path) -> dict[str, Any]:
    """A JSON Schema file, checked to be a valid schema (exit 2 otherwise)."""
    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise UsageError(
            f"cannot read the JSON Schema {path}: {e.strerror}", hint="check the path"
        ) from None
    except ValueError as e:
        raise UsageError(
            f"{path} is not JSON: {e}", hint="a JSON Schema is a JSON object"
        ) from None
    return checked(schema, str(path))


def _jsonschema() -> Any:
    """The jsonschema library, or a usage error saying how to install it."""
    try:
        import jsonschema
    except ImportError:
        raise UsageError(
            "the json_schema check needs the jsonschema library",
            hint="pip install 'synthgen[checks]'",
        ) from None
    return jsonschema


def checked(schema: Any, where: str) -> dict[str, Any]:
    """`schema` if it is a valid JSON Schema, else a UsageError naming `where`."""
    jsonschema = _jsonschema()

    if not isinstance(schema, dict):
        raise UsageError(f"{where}: a JSON Schema must be an object", hint="fix the schema")
    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as e:
        raise UsageError(
            f"{where}: not a valid JSON Schema: {e.message}", hint="fix the schema"
        ) from None
    return schema


class JsonSchemaExecutor:
    """Validates outputs against one schema with the jsonschema library."""

    name = "json_schema"

    def __init__(self, schema: dict[str, Any]) -> None:
        jsonschema = _jsonschema()
        self.schema = schema
        self.validator = jsonschema.validators.validator_for(schema)(schema)
        self.executor = f"jsonschema {version('jsonschema')}"

    def run(self, subject: Subject) -> CheckFailure | None:
        """None when the output parses and validates; else the path and the rule it breaks."""
        import jsonschema

        try:
            value = json.loads(subject.output)
        except ValueError as e:
            return CheckFailure("schema_mismatch", f"$: not JSON ({e})"[:300])
        error = jsonschema.exceptions.best_match(self.validator.iter_errors(value))
        return None if error is None else CheckFailure("schema_mismatch", describe(error))


def describe(error: Any) -> str:
    """One validation error as `$.path: what is wrong` (an enum's values listed plainly)."""
    if error.validator == "enum" and isinstance(error.validator_value, list):
        allowed = ", ".join(str(v) for v in error.validator_value)
        what = f"{error.instance!r} is not one of {allowed}"
    else:
        what = error.message
    return f"{error.json_path}: {what}"[:300]


def output_schema(paths: Sequence[Path], fmt: str | None) -> dict[str, Any] | None:
    """The schema inferred from the outputs of the seed files at `paths` (None: not JSON)."""
    from synthgen.seeds.reader import read_seeds

    seeds = read_seeds(list(paths), fmt)  # type: ignore[arg-type]
    return infer_schema([s.output for s in seeds if not s.messages]) if seeds else None


def emit(schema: dict[str, Any] | None, path: Path, say: Callable[[str], object]) -> None:
    """Write `schema` for the user to edit (exit 2 when the outputs gave none)."""
    if schema is None:
        raise UsageError(
            "no JSON Schema to write: the seeds' outputs are not all JSON objects",
            hint="the json_schema check is for tasks whose outputs are JSON objects",
        )
    path.write_text(json.dumps(schema, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    say(f"wrote the outputs' JSON Schema to {path}: edit it, then set it as")
    say("filter.checks.json_schema.schema_file (docs/checks.md)")


def schema_lines(schema: dict[str, Any]) -> list[str]:
    """The top-level keys of an inferred schema in plain words, for the terminal."""
    props: dict[str, Any] = schema.get("properties") or {}
    required = set(schema.get("required") or [])
    out = []
    for key, sub in props.items():
        kind = sub.get("type", "any")
        what = f"one of {', '.join(map(str, sub['enum']))}" if "enum" in sub else str(kind)
        out.append(f"  {key}{'' if key in required else ' (optional)'}: {what}")
    return out

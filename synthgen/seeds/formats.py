"""The five seed formats: how to recognise a record and turn it into examples."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Literal

import orjson

from synthgen.seeds.chat import chat_parser
from synthgen.seeds.fields import Example, Fault, Parsed, kind_of, text

SeedFormat = Literal["alpaca", "self-instruct", "messages", "sharegpt", "prompt-completion"]
FORMATS: tuple[SeedFormat, ...] = (
    "alpaca",
    "self-instruct",
    "messages",
    "sharegpt",
    "prompt-completion",
)

# Keys a record must have to be read as each format, in detection order: the more specific
# formats first, so a self-instruct task (instruction + instances) is never taken for alpaca.
REQUIRED: dict[SeedFormat, tuple[str, ...]] = {
    "messages": ("messages",),
    "sharegpt": ("conversations",),
    "self-instruct": ("instruction", "instances"),
    "alpaca": ("instruction", "output"),
    "prompt-completion": ("prompt", "completion"),
}
SHAPES: dict[SeedFormat, str] = {
    "alpaca": '{"instruction", "input" (optional), "output"}',
    "self-instruct": '{"instruction", "instances": [{"input", "output"}]}',
    "messages": '{"messages": [{"role", "content"}]}',
    "sharegpt": '{"conversations": [{"from", "value"}]}',
    "prompt-completion": '{"prompt", "completion"}',
}
# Any one of these keys says which format a broken record was meant to be.
_TELLTALE: dict[SeedFormat, tuple[str, ...]] = {
    "messages": ("messages",),
    "sharegpt": ("conversations",),
    "self-instruct": ("instances",),
    "alpaca": ("instruction", "output", "input"),
    "prompt-completion": ("prompt", "completion"),
}
KNOWN_SHAPES = "; ".join(f"{f} {SHAPES[f]}" for f in FORMATS)
ONE_PER_LINE = 'one JSON object per line, e.g. {"instruction": "...", "output": "..."}'
_BOM = b"\xef\xbb\xbf"


def _bad_utf8(e: UnicodeDecodeError, data: bytes) -> Fault:
    col = len(data[data.rfind(b"\n", 0, e.start) + 1 : e.start].decode(errors="replace")) + 1
    return Fault(
        "invalid_utf8",
        None,
        f"not valid UTF-8 (byte 0x{data[e.start]:02x} at column {col})",
        "re-save the file as UTF-8, e.g. `iconv -f latin1 -t utf-8 in.jsonl > out.jsonl`",
    )


def _bad_json(e: orjson.JSONDecodeError, hint: str) -> Fault:
    return Fault("invalid_json", None, f"not valid JSON: {e.msg} at column {e.colno}", hint)


def iter_records(data: bytes, *, json_file: bool) -> Iterator[tuple[dict[str, int], Any]]:
    """(position, parsed value or Fault) per record: JSONL lines, or items of a JSON array."""
    data = data.removeprefix(_BOM)
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        hint = "re-save it as UTF-8 (most editors offer this under 'Save with encoding')"
        yield {}, Fault("invalid_utf8", None, "file is UTF-16, not UTF-8", hint)
        return
    if data.lstrip().startswith(b"["):
        try:
            doc = orjson.loads(data.decode("utf-8"))
        except UnicodeDecodeError as e:
            if json_file:
                yield {"line": data.count(b"\n", 0, e.start) + 1}, _bad_utf8(e, data)
                return
        except orjson.JSONDecodeError as e:
            if json_file:
                hint = "a .json seed file must hold one JSON array of objects"
                yield {"line": e.lineno}, _bad_json(e, hint)
                return
        else:
            if isinstance(doc, list):
                for i, value in enumerate(doc, start=1):
                    yield {"item": i}, value
                return
    for n, raw in enumerate(data.split(b"\n"), start=1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            yield {"line": n}, _bad_utf8(e, raw)
            continue
        if line.strip():
            try:
                yield {"line": n}, orjson.loads(line)
            except orjson.JSONDecodeError as e:
                yield {"line": n}, _bad_json(e, f"write {ONE_PER_LINE}")


def detect_format(obj: dict[str, Any]) -> SeedFormat | None:
    """The format whose required keys are all present, or None."""
    for fmt, keys in REQUIRED.items():
        if all(k in obj for k in keys):
            return fmt
    return None


def guess_format(obj: dict[str, Any]) -> SeedFormat | None:
    """A format the record was probably meant to be, from any one of its telltale keys."""
    for fmt, keys in _TELLTALE.items():
        if any(k in obj for k in keys):
            return fmt
    return None


def parse_record(obj: dict[str, Any], fmt: SeedFormat, *, empty_output: bool = False) -> Parsed:
    """Turn one record into examples, or raise Fault naming the field.

    Seeds need every output; a dataset being judged may hold empty ones (`empty_output`
    allows them, so that the filter can ledger them instead of refusing the file)."""
    missing = [k for k in REQUIRED[fmt] if k not in obj]
    if missing:
        needs = " and ".join(REQUIRED[fmt])
        raise Fault(
            "missing_field",
            missing[0],
            f"missing ({fmt} format needs {needs})",
            f'add "{missing[0]}" to this record; {fmt} records look like {SHAPES[fmt]}',
        )
    record_id = _record_id(obj.get("id"))
    rest = {k: v for k, v in obj.items() if k != "id"}
    return _PARSERS[fmt](rest, record_id, not empty_output)


def _record_id(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise Fault(
            "wrong_type",
            "id",
            f"must be a string or an integer, not {kind_of(value)}",
            'use an id like "ticket_07", or remove "id" to get a content-derived id',
        )
    if isinstance(value, str) and not value.strip():
        raise Fault("empty", "id", "empty", 'give the record an id or remove "id"')
    return str(value)


def _alpaca(obj: dict[str, Any], rid: str | None, need_output: bool) -> Parsed:
    ex = Example(
        text(obj.pop("instruction"), "instruction"),
        text(obj.pop("input", ""), "input", required=False),
        text(obj.pop("output"), "output", required=need_output),
    )
    return Parsed(rid, [ex], obj)


def _prompt_completion(obj: dict[str, Any], rid: str | None, need_output: bool) -> Parsed:
    # Kept verbatim: a leading space in a legacy completion is the user's call, not ours.
    completion = text(obj.pop("completion"), "completion", required=need_output)
    ex = Example(text(obj.pop("prompt"), "prompt"), "", completion)
    return Parsed(rid, [ex], obj)


def _self_instruct(obj: dict[str, Any], rid: str | None, need_output: bool) -> Parsed:
    instruction = text(obj.pop("instruction"), "instruction")
    instances = obj.pop("instances")
    if not isinstance(instances, list) or not instances:
        raise Fault(
            "wrong_type" if not isinstance(instances, list) else "empty",
            "instances",
            "must be a non-empty list of {input, output} objects"
            + ("" if isinstance(instances, list) else f", not {kind_of(instances)}"),
            'write e.g. "instances": [{"input": "", "output": "..."}]',
        )
    examples = []
    for k, inst in enumerate(instances, start=1):
        name = f"instances[{k - 1}]"
        if not isinstance(inst, dict):
            raise Fault(
                "wrong_type",
                name,
                f"must be an object, not {kind_of(inst)}",
                'each instance looks like {"input": "...", "output": "..."}',
            )
        if "output" not in inst:
            raise Fault(
                "missing_field",
                f"{name}.output",
                "missing (each instance needs an output)",
                'add "output" to this instance',
            )
        examples.append(
            Example(
                instruction,
                text(inst.get("input", ""), f"{name}.input", required=False),
                text(inst["output"], f"{name}.output", required=need_output),
                instance=k,
            )
        )
    return Parsed(rid, examples, obj)


_PARSERS: dict[SeedFormat, Callable[[dict[str, Any], str | None, bool], Parsed]] = {
    "alpaca": _alpaca,
    "self-instruct": _self_instruct,
    "messages": chat_parser("messages", "role", "content"),
    "sharegpt": chat_parser("conversations", "from", "value"),
    "prompt-completion": _prompt_completion,
}

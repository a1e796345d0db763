"""Persona files (an axis source, and what `personas sample` reads and writes): JSONL rows
(objects or strings), CSV rows, or text lines, each with the text it is compared by."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import orjson

from synthgen.errors import InputError
from synthgen.stages.expand.axes import value_text

Row = tuple[object, str]  # (the row as written back, its description)


def read_rows(path: Path, field: str | None = None) -> list[Row]:
    """Every row with its description: `field` of an object row, else all its fields."""
    fields = [field] if field else []
    text = path.read_text(encoding="utf-8")
    suffix = path.suffix.lower()
    rows: list[Row] = []
    if suffix == ".csv":
        reader = csv.DictReader(io.StringIO(text))
        rows = [(dict(r), value_text(r, fields)) for r in reader]
    elif suffix in (".jsonl", ".ndjson"):
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError as e:
                hint = "one JSON value a line"
                raise InputError(f"{path}:{n}", f"not JSON ({e})", hint=hint) from None
            rows.append((line, value_text(obj, fields)))
    else:
        rows = [(line, line.strip()) for line in text.splitlines() if line.strip()]
    if field and rows and not any(desc for _, desc in rows):
        raise InputError(str(path), f"no row has a field {field!r}", hint="check --field")
    return rows


def write_rows(path: Path, rows: list[object]) -> bytes:
    """The picked rows in the format of `path` (CSV keeps its header)."""
    if path.suffix.lower() == ".csv":
        out = io.StringIO()
        dicts = [r for r in rows if isinstance(r, dict)]
        names = list(dicts[0]) if dicts else []
        writer = csv.DictWriter(out, fieldnames=names, lineterminator="\n")
        writer.writeheader()
        writer.writerows(dicts)
        return out.getvalue().encode("utf-8")
    return "".join(f"{r}\n" for r in rows).encode("utf-8")

"""Review elsewhere: export the audit sample to JSONL or CSV, import the verdicts back."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from synthgen.errors import InputError, UsageError
from synthgen.stages.audit.review import KEYS, AuditItem, turns_of
from synthgen.stages.audit.store import VERDICTS, VerdictStore, verdict_line

COLUMNS = (
    "id",
    "instruction",
    "input",
    "output",
    "judge_score",
    "judge_passed",
    "judge_rationale",
    "verdict",
    "note",
)


def _kind(path: Path, option: str) -> str:
    suffix = path.suffix.lower()
    if suffix not in (".jsonl", ".csv"):
        raise UsageError(f"{option} {path}: unknown file type", hint="name it .jsonl or .csv")
    return suffix[1:]


def _transcript(turns: tuple[tuple[str, str], ...]) -> str:
    """A conversation as text for a spreadsheet cell: "User: ...", "Assistant: ..." paragraphs."""
    return "\n\n".join(f"{role.capitalize()}: {content}" for role, content in turns)


def export_sample(items: list[AuditItem], path: Path) -> None:
    """The sample with empty verdict and note columns for reviewers to fill; a conversation
    also brings its every turn (JSONL "messages"; in CSV, a "conversation" column)."""
    from synthgen.core.jsonl import write_atomic

    jsonl = _kind(path, "--export") == "jsonl"
    talks = any(i.messages for i in items)
    rows = [
        {
            "id": i.id,
            "instruction": i.instruction,
            "input": i.input,
            "output": i.output,
            **(_turns_cell(i, jsonl) if talks else {}),
            "judge_score": i.judge_score,
            "judge_passed": i.judge_passed,
            "judge_rationale": i.rationale,
            "verdict": "",
            "note": "",
        }
        for i in items
    ]
    if jsonl:
        data = b"".join(orjson.dumps(r) + b"\n" for r in rows)
    else:
        buf = io.StringIO()
        columns = [*COLUMNS[:4], *(["conversation"] if talks else []), *COLUMNS[4:]]
        writer = csv.DictWriter(buf, fieldnames=columns)
        writer.writeheader()
        writer.writerows({k: "" if v is None else v for k, v in r.items()} for r in rows)
        data = buf.getvalue().encode("utf-8")
    write_atomic(path, data)


def _turns_cell(item: AuditItem, jsonl: bool) -> dict[str, Any]:
    """A conversation's turns for the export: JSONL keeps them as messages (absent for a single
    exchange), CSV as a transcript ("" for a single exchange)."""
    if jsonl:
        return {"messages": item.record()["messages"]} if item.messages else {}
    return {"conversation": _transcript(item.messages) if item.messages else ""}


def _rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    if _kind(path, "--import") == "jsonl":
        from synthgen.core.jsonl import iter_jsonl

        yield from iter_jsonl(path)
        return
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as e:
        raise InputError(str(path), f"cannot be read ({e.strerror})", hint="check the path") from e
    reader = csv.DictReader(io.StringIO(text, newline=""))
    for row in reader:
        yield reader.line_num, dict(row)


def _verdict(value: Any, path: Path, line: int) -> str | None:
    v = str(value or "").strip().lower()
    if not v:
        return None  # not reviewed yet
    v = KEYS.get(v, v)
    if v not in VERDICTS:
        raise InputError(
            str(path),
            f"unknown verdict {value!r}",
            line=line,
            field="verdict",
            hint="use accept, reject or skip (or a, r, s); leave it empty for not reviewed",
        )
    return v


def import_verdicts(
    path: Path, items: dict[str, AuditItem], store: VerdictStore, auditor: str
) -> int:
    """Append every reviewed row to the verdict store; returns how many were imported.

    Rows are matched to the data by id; text fields come from the row when the id is not in
    the sample (the anchors `filter` reads need them).
    """
    lines = []
    for line, row in _rows(path):
        verdict = _verdict(row.get("verdict"), path, line)
        if verdict is None:
            continue
        rid = str(row.get("id") or "").strip()
        item = items.get(rid)
        if item is not None:
            record, score = item.record(), item.judge_score
        elif rid and row.get("instruction") and row.get("output"):
            record = {k: str(row.get(k) or "") for k in ("id", "instruction", "input", "output")}
            turns = turns_of(row.get("messages"))  # a JSONL export's conversation
            if turns:
                record["messages"] = [{"role": r, "content": c} for r, c in turns]
            score = None
        else:
            raise InputError(
                str(path),
                f"record {rid!r} is not in the audit sample and the row has no text",
                line=line,
                field="id",
                hint="import with the same --sample and --seed as the export, or keep the "
                "instruction and output columns",
            )
        who = str(row.get("auditor") or "").strip() or auditor
        lines.append(verdict_line(record, verdict, str(row.get("note") or ""), who, score))
    for entry in lines:  # validate the whole file before writing any of it
        store.add(entry)
    return len(lines)

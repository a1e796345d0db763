"""Human verdict files: one JSON object per answer, appended and flushed, last answer wins.

Line shape (shared with `filter --anchors`): {"id", "instruction", "input", "output",
"verdict": "accept"|"reject"|"skip", "note", "auditor", "judge_score", "at"}; a conversation's
line also holds its every turn as "messages" (its instruction and output are its first exchange).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from synthgen.core.jsonl import AppendLog, repair_torn_tail
from synthgen.errors import InputError

VERDICTS = ("accept", "reject", "skip")


def verdicts_path_for(data: Path) -> Path:
    """The default verdict file beside a dataset, so an audit resumes where it stopped."""
    name = data.name
    stem = name[: -len(".jsonl")] if name.endswith(".jsonl") else name
    return data.with_name(f"{stem}.verdicts.jsonl")


def read_verdicts(path: Path) -> dict[str, dict[str, Any]]:
    """The latest verdict per record id (empty when the file does not exist yet)."""
    from synthgen.core.jsonl import iter_jsonl

    if not path.exists():
        return {}
    out: dict[str, dict[str, Any]] = {}
    for line, obj in iter_jsonl(path):
        if obj.get("verdict") not in VERDICTS or not isinstance(obj.get("id"), str):
            raise InputError(
                str(path),
                f"not a verdict line (verdict {obj.get('verdict')!r})",
                line=line,
                field="verdict" if "id" in obj else "id",
                hint="verdict files hold lines written by `synthgen audit` or --import",
            )
        out.pop(obj["id"], None)  # re-answered: move to the end, keeping answer order
        out[obj["id"]] = obj
    return out


def verdicts_by_auditor(path: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """Each auditor's latest verdict per record id, keyed (auditor, id): what several
    reviewers sharing one verdict file said, for agreement between them."""
    from synthgen.core.jsonl import iter_jsonl

    out: dict[tuple[str, str], dict[str, Any]] = {}
    if path.exists():
        for _, obj in iter_jsonl(path):
            if obj.get("verdict") in VERDICTS and isinstance(obj.get("id"), str):
                out[(str(obj.get("auditor") or ""), obj["id"])] = obj
    return out


def verdict_line(
    record: dict[str, Any], verdict: str, note: str, auditor: str, judge_score: float | None
) -> dict[str, Any]:
    """One answer as a verdict line: the record's text with it, so the file stands alone."""
    turns = {"messages": record["messages"]} if record.get("messages") else {}
    return {
        "id": record["id"],
        "instruction": record["instruction"],
        "input": record.get("input", ""),
        "output": record["output"],
        **turns,
        "verdict": verdict,
        "note": note,
        "auditor": auditor,
        "judge_score": judge_score,
        "at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
    }


class VerdictStore:
    """Appends verdict lines; each is flushed before the next record is shown."""

    def __init__(self, path: Path) -> None:
        self.path = path
        repair_torn_tail(path)  # a line torn by a kill mid-write is cut, not fatal
        self.latest = read_verdicts(path)
        self._log: AppendLog | None = None  # opened on the first answer: --summary writes nothing

    def add(self, line: dict[str, Any]) -> None:
        """Append and flush one answer, and let it replace any earlier answer for that record."""
        if self._log is None:
            self._log = AppendLog(self.path)
        self._log.write([line])
        self.latest.pop(line["id"], None)
        self.latest[line["id"]] = line

    def close(self) -> None:
        """Sync and close the file, if any answer was written."""
        if self._log is not None:
            self._log.close()

"""The seeds page's data: each seed line with what `seeds inspect` finds about it, and a
"save as" that applies keep/drop/edit to a new file (never the original), diff first."""

from __future__ import annotations

import difflib
import json
import re
import statistics
from collections import Counter
from pathlib import Path
from typing import Any

from synthgen.errors import UsageError

SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,120}\.jsonl")
OUTLIER = 3.0  # a seed this many times longer (or shorter) than the median stands out


def _shape(text: str) -> str:
    """A coarse output format, for spotting the seed whose format differs from the rest."""
    t = text.strip()
    if t[:1] in "{[":
        return "json"
    if re.match(r"^(\s*([-*]|\d+[.)])\s+.+\n?){2,}$", t):
        return "list"
    return "text"


class SeedsBook:
    """One JSONL seed file: its lines, the findings per line, and edited copies of it."""

    def __init__(self, path: Path) -> None:
        from synthgen.seeds.inspect import inspect_seeds
        from synthgen.seeds.reader import read_seed_file

        if path.suffix.lower() != ".jsonl":
            raise UsageError(
                f"--seeds {path}: the seeds page edits JSONL seed files",
                hint="convert the file to JSONL (one seed per line), or review without --seeds",
            )
        try:
            self.lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as e:
            raise UsageError(f"--seeds {path}: cannot be read ({e.strerror})") from e
        self.path = path
        self.report = inspect_seeds([path])
        self.seeds = read_seed_file(path, None, strict=False).seeds

    def findings(self) -> dict[int, list[str]]:
        """What `seeds inspect` found, per line: duplicates, length and format outliers,
        missing fields and problems, a conversation's shape."""
        out: dict[int, list[str]] = {}
        line_of = {s.id: int(s.source.get("line", 0)) for s in self.seeds}

        def note(line: int | None, text: str) -> None:
            if line:
                out.setdefault(line, []).append(text)

        for d in self.report.duplicates:
            a, b = line_of.get(d.a), line_of.get(d.b)
            note(a, f"{d.kind} duplicate of line {b} (similarity {d.similarity:g})")
            note(b, f"{d.kind} duplicate of line {a} (similarity {d.similarity:g})")
        for p in self.report.problems:
            note(p.line, f"{p.severity}: {p.message}")
        for field in ("instruction", "output"):
            sizes = [len(getattr(s, field).split()) for s in self.seeds]
            mid = statistics.median(sizes) if sizes else 0
            for s, n in zip(self.seeds, sizes, strict=True):
                if mid and (n > OUTLIER * mid or n * OUTLIER < mid):
                    note(line_of[s.id], f"{field} length outlier: {n} words (median {mid:g})")
        shapes = [_shape(s.output) for s in self.seeds]
        common = Counter(shapes).most_common(1)
        for s, shape in zip(self.seeds, shapes, strict=True):
            if common and shape != common[0][0] and shapes.count(shape) / len(shapes) < 0.25:
                note(line_of[s.id], f"format outlier: {shape} output among {common[0][0]} ones")
            if s.messages:
                turns = sum(1 for t in s.messages if t.role == "assistant")
                system = s.messages[0].role == "system"
                note(
                    line_of[s.id],
                    f"conversation: {turns} exchanges{', with a system prompt' if system else ''}",
                )
        return out

    def rows(self) -> list[dict[str, Any]]:
        """Each non-blank line: its number, its editable text fields, the rest (a
        conversation's turns, say) shown as JSON, and its findings."""
        found = self.findings()
        rows = []
        for n, raw in enumerate(self.lines, 1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except ValueError:
                obj = None
            fields: dict[str, str] = {}
            rest = raw
            if isinstance(obj, dict):
                fields = {k: v for k, v in obj.items() if isinstance(v, str)}
                other = {k: v for k, v in obj.items() if not isinstance(v, str)}
                rest = json.dumps(other, ensure_ascii=False, indent=1) if other else ""
            rows.append({"line": n, "fields": fields, "rest": rest, "findings": found.get(n, [])})
        return rows

    def edited(self, edits: dict[str, Any]) -> list[str]:
        """The file's lines with `edits` applied: {line: {"drop": bool, "fields": {k: text}}}."""
        out = []
        for n, raw in enumerate(self.lines, 1):
            change = edits.get(str(n)) or {}
            if not isinstance(change, dict):
                raise UsageError(f"edit of line {n} is not an object")
            if change.get("drop"):
                continue
            fields = change.get("fields") or {}
            if fields:
                obj = json.loads(raw)
                for k, v in fields.items():
                    if not isinstance(obj.get(k), str) or not isinstance(v, str):
                        raise UsageError(f"line {n}: field {k!r} is not a text field")
                    obj[k] = v
                raw = json.dumps(obj, ensure_ascii=False)
            out.append(raw)
        return out

    def target(self, name: str) -> Path:
        """Where "save as" writes: a new file beside the original, never the original, never
        outside its directory."""
        if not SAFE_NAME.fullmatch(name):
            raise UsageError(
                f"cannot save as {name!r}",
                hint="a plain file name ending in .jsonl (letters, digits, . _ -), no folders",
            )
        path = self.path.parent / name
        if path.exists():
            raise UsageError(
                f"{name} exists already", hint="save as a new name: nothing is overwritten"
            )
        return path

    def diff(self, name: str, edits: dict[str, Any]) -> str:
        """The unified diff of the original against the edited copy."""
        new = self.edited(edits)
        return "\n".join(
            difflib.unified_diff(self.lines, new, self.path.name, name, lineterm="", n=1)
        )

    def save(self, name: str, edits: dict[str, Any]) -> Path:
        """Write the edited copy as `name` beside the original; return its path."""
        path = self.target(name)
        new = self.edited(edits)
        try:  # "x": a file that appeared since the check is not overwritten either
            with path.open("xb") as fh:
                fh.write(("\n".join(new) + "\n").encode("utf-8") if new else b"")
        except FileExistsError as e:
            raise UsageError(f"{name} exists already", hint="save as a new name") from e
        return path

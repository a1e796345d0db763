"""The run manifest: what was asked, what came out, what it cost, why it stopped."""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from synthgen.core.jsonl import write_atomic
from synthgen.version import __version__


def file_sha256(path: Path) -> str | None:
    """Fingerprint of a file for provenance, streamed; None when the file is absent."""
    if not path.exists():
        return None
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def tidy_path(path: str | Path) -> str:
    """A path as outputs show it: `configs/../seeds/a.jsonl` as `seeds/a.jsonl`, still relative
    when it was; absolute when dropping a `..` would name another file (a symlinked folder)."""
    text = str(path)
    if text == "-":
        return text
    tidy = os.path.normpath(text)
    if tidy == text or Path(tidy).resolve() == Path(text).resolve():
        return tidy
    return str(Path(text).resolve())


def now_iso() -> str:
    """The current UTC time as manifests and state rows record it (seconds, Z suffix)."""
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def write_manifest(path: Path, body: dict[str, Any]) -> None:
    """Write the manifest atomically, stamped with version and time, in a stable key order."""
    doc = {"synthgen_version": __version__, "written_at": now_iso(), **body}
    write_atomic(path, orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))

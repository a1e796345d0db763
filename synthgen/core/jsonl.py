"""JSONL I/O: streaming reads, crash-safe appends, torn-tail repair, atomic finalise."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import orjson

from synthgen.errors import InputError


def iter_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object) for each non-blank line; malformed lines raise InputError."""
    try:
        fh = path.open("rb")
    except OSError as e:
        raise InputError(str(path), f"cannot open: {e.strerror}", hint="check the path") from e
    with fh:
        for lineno, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            try:
                obj = orjson.loads(raw)
            except orjson.JSONDecodeError as e:
                raise InputError(
                    str(path), f"not valid JSON ({e})", line=lineno, hint="fix or remove the line"
                ) from e
            if not isinstance(obj, dict):
                raise InputError(
                    str(path), "line is not a JSON object", line=lineno, hint="one object per line"
                )
            yield lineno, obj


def repair_torn_tail(path: Path) -> int:
    """Cut a last line that has no newline (a write torn by a crash); return bytes removed."""
    if not path.exists():
        return 0
    size = path.stat().st_size
    if size == 0:
        return 0
    with path.open("rb+") as fh:
        fh.seek(-1, os.SEEK_END)
        if fh.read(1) == b"\n":
            return 0
        # Walk back to the last newline; a torn line is never longer than the file.
        pos = size
        chunk = 65536
        while pos > 0:
            start = max(0, pos - chunk)
            fh.seek(start)
            block = fh.read(pos - start)
            nl = block.rfind(b"\n")
            if nl >= 0:
                keep = start + nl + 1
                fh.truncate(keep)
                return size - keep
            pos = start
        fh.truncate(0)
        return size


def read_ids(path: Path, key: str = "id") -> list[str]:
    """Ids of the complete lines of a (repaired) partial file, in order."""
    ids: list[str] = []
    if not path.exists():
        return ids
    with path.open("rb") as fh:
        for raw in fh:
            if raw.strip():
                ids.append(str(orjson.loads(raw)[key]))
    return ids


class AppendLog:
    """An append-only JSONL file: each write is whole lines, flushed so kill -9 loses nothing.

    fsync happens on `sync()` and `close()`; the page cache survives a killed process, so
    flush alone is enough for the crash cases synthgen promises (kill -9, Ctrl-C).
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        repair_torn_tail(path)
        self.path = path
        self._fh: IO[bytes] = path.open("ab")

    def write(self, objs: list[dict[str, Any]]) -> None:
        """Append whole lines and flush, so a killed process never leaves half a batch."""
        if not objs:
            return
        data = b"".join(orjson.dumps(o) + b"\n" for o in objs)
        self._fh.write(data)
        self._fh.flush()

    def sync(self) -> None:
        """Force the written lines to disk, for durability beyond a killed process."""
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        """Sync and close; safe to call twice, so cleanup paths need not track it."""
        if not self._fh.closed:
            self.sync()
            self._fh.close()


def finalise(partial: Path, final: Path) -> None:
    """Atomically move a finished partial file into place."""
    final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(partial, final)
    with contextlib.suppress(OSError):
        dir_fd = os.open(final.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def write_atomic(path: Path, data: bytes) -> None:
    """Write a whole file so readers see either the old or the new content."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with tmp.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)

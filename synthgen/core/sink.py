"""Where a stage's records and drops go: crash-safe partial files, finalised atomically."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from synthgen.core.jsonl import AppendLog, finalise, read_ids, repair_torn_tail, write_atomic
from synthgen.errors import UsageError
from synthgen.records import LedgerEntry, Record


def partial_of(path: Path) -> Path:
    """Where a file is written until it is finished, so a crash never leaves a half final file."""
    return path.with_name(path.name + ".partial")


def ledger_path_for(output: Path) -> Path:
    """The default ledger path beside an output, so drops are found next to what was kept."""
    name = output.name
    stem = name[: -len(".jsonl")] if name.endswith(".jsonl") else name
    return output.with_name(f"{stem}.ledger.jsonl")


def manifest_path_for(output: Path) -> Path:
    """The default manifest path beside an output, so provenance travels with the records."""
    name = output.name
    stem = name[: -len(".jsonl")] if name.endswith(".jsonl") else name
    return output.with_name(f"{stem}.manifest.json")


def check_outputs(
    command: str, reads: Sequence[tuple[str, str | Path]], writes: Sequence[tuple[str, Path]]
) -> None:
    """What a command reads may not be what it writes (it would overwrite its own input),
    and each output needs a file of its own (else one silently replaces another).
    `reads` and `writes` are (role, path) pairs; "-" (stdin) is never a file."""
    for what, path in writes:
        for role, src in reads:
            if str(src) != "-" and path.resolve() == Path(src).resolve():
                raise UsageError(
                    f"{what} {path} is {role} file: {command} would overwrite what it reads",
                    hint="write the kept records (and the ledger) to other files",
                )
    seen: dict[Path, str] = {}
    for what, path in writes:
        other = seen.setdefault(path.resolve(), what)
        if other != what:
            raise UsageError(
                f"{what} {path} is also {other}: they are the same file",
                hint="give kept records and dropped ones files of their own",
            )


def keep_first_lines(path: Path, n: int) -> None:
    """Trim a resumed partial file to `n` records, when this run asks for fewer than last time."""
    if not path.exists():
        return
    with path.open("rb") as fh:
        lines = [line for line in fh if line.strip()]
    if len(lines) > n:
        write_atomic(path, b"".join(lines[:n]))


class Sink:
    """Records and ledger entries, each appended once: resumes from what is already on disk.

    `existing` holds ids written by an earlier, unfinished attempt at the same job; replayed
    records with those ids are claimed, not written again.
    """

    def __init__(
        self, output: Path, ledger: Path, to_stdout: bool, resume: bool, limit: int | None = None
    ) -> None:
        self.output, self.ledger, self.to_stdout = output, ledger, to_stdout
        self.partial, self.ledger_partial = partial_of(output), partial_of(ledger)
        self.repaired_bytes = 0
        for final, part in ((output, self.partial), (ledger, self.ledger_partial)):
            if not resume:
                part.unlink(missing_ok=True)
            elif not part.exists() and final.exists():
                shutil.copyfile(final, part)  # a stopped run finalised what it had
            self.repaired_bytes += repair_torn_tail(part)
        if limit is not None:
            keep_first_lines(self.partial, limit)  # a smaller -n than last time
        self.existing: list[str] = read_ids(self.partial)
        self.existing_set = set(self.existing)
        self.ledger_ids = set(read_ids(self.ledger_partial))
        self.claimed: set[str] = set()
        self.written: set[str] = set()
        self._queued: list[dict[str, Any]] = []
        self._out = AppendLog(self.partial)
        self._ledger = AppendLog(self.ledger_partial)
        if to_stdout and self.existing:
            sys.stdout.buffer.write(self.partial.read_bytes())
            sys.stdout.buffer.flush()

    @property
    def count(self) -> int:
        """Records in the output so far, from earlier attempts and this one."""
        return len(self.existing) + len(self.written)

    def is_duplicate(self, rec_id: str) -> bool:
        """Whether this id was already written or claimed in this attempt, so it is kept once."""
        return rec_id in self.written or rec_id in self.claimed

    def add(self, rec: Record) -> bool:
        """Queue a new record, or claim one already on disk; False for a duplicate id.

        Queued records reach the file at `flush()`, which the caller runs once per job.
        """
        return self.add_obj(rec.id, rec.model_dump(mode="json", exclude_none=True))

    def add_obj(self, rec_id: str, obj: dict[str, Any]) -> bool:
        """`add` for a record that is already a plain dict."""
        if self.is_duplicate(rec_id):
            return False
        if rec_id in self.existing_set:
            self.claimed.add(rec_id)
            return True
        self.written.add(rec_id)
        self._queued.append(obj)
        return True

    def flush(self) -> None:
        """Write the queued records out (and echo them to stdout), once per job."""
        if not self._queued:
            return
        self._out.write(self._queued)
        if self.to_stdout:
            sys.stdout.buffer.write(b"".join(orjson.dumps(o) + b"\n" for o in self._queued))
            sys.stdout.buffer.flush()
        self._queued = []

    def drop(self, entry: LedgerEntry) -> None:
        """Ledger a dropped candidate, so every drop has a recorded reason."""
        self.drop_obj(entry.model_dump(mode="json", exclude_none=True))

    def drop_obj(self, entry: dict[str, Any]) -> None:
        """Ledger a dropped candidate once, however often a resumed run drops it."""
        if entry["id"] in self.ledger_ids:
            return
        self.ledger_ids.add(entry["id"])
        self._ledger.write([entry])

    def extend(self, records: list[dict[str, Any]], drops: list[dict[str, Any]]) -> None:
        """Append a batch as it is, unchecked: for a stage that decided every record already
        and never resumes (dedup), where per-record id sets would cost memory at 1M records."""
        if records:
            self._out.write(records)
            if self.to_stdout:
                sys.stdout.buffer.write(b"".join(orjson.dumps(o) + b"\n" for o in records))
        self._ledger.write(drops)

    def abort(self) -> None:
        """A run that cannot resume leaves no partial files (an earlier output stays)."""
        self._out.close()
        self._ledger.close()
        self.partial.unlink(missing_ok=True)
        self.ledger_partial.unlink(missing_ok=True)

    def close(self, finalise_files: bool) -> None:
        """Flush and close; finalise the files only if the run finished, else keep the partials."""
        self.flush()
        self._out.close()
        self._ledger.close()
        if finalise_files:
            finalise(self.partial, self.output)
            finalise(self.ledger_partial, self.ledger)

    def ledger_counts(self) -> dict[str, int]:
        """Drops by reason over the whole ledger file (this attempt and earlier ones)."""
        counts: dict[str, int] = {}
        path = (
            self.ledger
            if self.ledger.exists() and not self.ledger_partial.exists()
            else self.ledger_partial
        )
        if not path.exists():
            return counts
        with path.open("rb") as fh:
            for raw in fh:
                if raw.strip():
                    obj: dict[str, Any] = orjson.loads(raw)
                    reason = str(obj["dropped"]["reason"])
                    counts[reason] = counts.get(reason, 0) + 1
        return counts

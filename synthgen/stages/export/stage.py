"""`export`: a run's kept records (or any dataset file) as training files, split if asked."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import IO

import orjson

from synthgen.core.jsonl import finalise
from synthgen.errors import InputError, UsageError
from synthgen.records import Frozen
from synthgen.seeds.dataset import iter_rows
from synthgen.stages.export.formats import EXPORT_FORMATS, ExportFormat, convert
from synthgen.stages.export.split import TRAIN, Splitter, split_path

RUN_DATA = "data.jsonl"


class ExportFile(Frozen):
    """One file written: its split, where it is, how many records it holds."""

    split: str
    path: str
    records: int


class ExportSummary(Frozen):
    """What an export wrote; its JSON is what `synthgen export --json` prints."""

    source: str
    format: str
    with_ids: bool
    split_seed: int | None
    records: int
    files: list[ExportFile]


def source_file(source: Path) -> Path:
    """The dataset file to read: a run directory's data.jsonl, or SOURCE itself."""
    if str(source) != "-" and source.is_dir():
        data = source / RUN_DATA
        if not data.is_file():
            raise InputError(
                str(source),
                f"is a directory without {RUN_DATA}",
                hint="pass a run directory written by `synthgen run`, or a dataset file",
            )
        return data
    return source


def _check_format(fmt: str) -> ExportFormat:
    if fmt not in EXPORT_FORMATS:
        raise UsageError(
            f"unknown export format {fmt!r}", hint=f"use one of: {', '.join(EXPORT_FORMATS)}"
        )
    return fmt


def _targets(data: Path, output: Path, splitter: Splitter | None) -> dict[str, Path]:
    """Split name -> file; refuses outputs that are the input or a directory."""
    if str(output) == "-":
        raise UsageError("export writes files, not stdout", hint="give -o a file path")
    targets = {s: split_path(output, s) for s in splitter.names} if splitter else {TRAIN: output}
    for path in targets.values():
        if str(data) != "-" and path.resolve() == data.resolve():
            raise UsageError(
                f"output {path} is the input file: export would overwrite what it reads",
                hint="write the export to another file",
            )
        if path.is_dir():
            raise UsageError(f"output {path} is a directory", hint="give -o a file path")
    return targets


def export(
    source: Path,
    output: Path,
    fmt: str,
    *,
    with_ids: bool = False,
    split: Mapping[str, float] | None = None,
    split_seed: int = 0,
) -> ExportSummary:
    """Write SOURCE's records to OUTPUT in `fmt` (to OUTPUT.<split>.jsonl files with a split).

    Same input and seed, same bytes: a record's split comes from its id, and records keep
    their input order. Each file appears whole or not at all."""
    kind = _check_format(fmt)
    splitter = Splitter(split, split_seed) if split else None
    data = source_file(Path(source))
    targets = _targets(data, Path(output), splitter)
    partials = {s: p.with_name(p.name + ".partial") for s, p in targets.items()}
    counts = dict.fromkeys(targets, 0)
    handles: dict[str, IO[bytes]] = {}
    try:
        for s, part in partials.items():
            part.parent.mkdir(parents=True, exist_ok=True)
            handles[s] = part.open("wb")
        for row in iter_rows(data):
            s = splitter(row.id) if splitter else TRAIN
            handles[s].write(orjson.dumps(convert(row, kind, with_ids=with_ids)) + b"\n")
            counts[s] += 1
        for fh in handles.values():
            fh.close()
        for s, part in partials.items():
            finalise(part, targets[s])
    except BaseException:
        # A half-read input leaves no half-written export (an earlier one stays).
        for fh in handles.values():
            fh.close()
        for part in partials.values():
            part.unlink(missing_ok=True)
        raise
    return ExportSummary(
        source=str(data),
        format=kind,
        with_ids=with_ids,
        split_seed=split_seed if splitter else None,
        records=sum(counts.values()),
        files=[ExportFile(split=s, path=str(p), records=counts[s]) for s, p in targets.items()],
    )

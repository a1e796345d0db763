"""`export`: a run's kept records (or any dataset file) as training files, split if asked."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

import orjson

from synthgen.core.datasets import dataset_of
from synthgen.core.jsonl import finalise
from synthgen.errors import InputError, UsageError
from synthgen.records import Frozen
from synthgen.seeds.dataset import Row, iter_rows
from synthgen.stages.export.formats import (
    EXPORT_FORMATS,
    ONE_EXCHANGE,
    ExportFormat,
    NotAPairError,
    TurnOrderError,
    convert,
    exchanges_of,
)
from synthgen.stages.export.split import TRAIN, Splitter, split_path

LAST_TURN_HINT = (
    "pass --last-turn to export each conversation's last exchange, or export --to messages/sharegpt"
)

DPO_HINT = (
    "dpo needs preference pairs: run `synthgen filter` on records from "
    "`expand --responses-per-instruction K`"
)


class ConversationError(InputError):
    """A conversation met a format that holds one exchange, without --last-turn."""


class PreferenceError(InputError):
    """A record that is not a preference pair met the dpo format."""


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
    last_turn: bool
    split_seed: int | None
    records: int
    conversations: int  # records with more than one exchange
    files: list[ExportFile]


def source_file(source: Path) -> Path:
    """The dataset file to read: a run directory's data.jsonl, or SOURCE itself."""
    return dataset_of(source)


def _check_format(fmt: str) -> ExportFormat:
    if fmt not in EXPORT_FORMATS:
        raise UsageError(
            f"unknown export format {fmt!r}", hint=f"use one of: {', '.join(EXPORT_FORMATS)}"
        )
    return fmt


def _line(
    data: Path, row: Row, kind: ExportFormat, last_turn: bool, with_ids: bool
) -> tuple[dict[str, Any], int]:
    """The row in `kind` and its number of exchanges. A conversation's turns must be in
    order, and a one-exchange format takes a conversation only with last_turn."""
    n = exchanges_of(row)
    if n > 1 and kind in ONE_EXCHANGE and not last_turn:
        raise ConversationError(
            str(data),
            f"record {row.id} is a conversation of {n} exchanges, and {kind} holds one",
            line=row.line,
            hint=LAST_TURN_HINT,
        )
    try:
        return convert(row, kind, with_ids=with_ids), n
    except NotAPairError as e:
        raise PreferenceError(
            str(data), f"record {row.id}: {e}", line=row.line, field=e.field, hint=DPO_HINT
        ) from None
    except TurnOrderError as e:
        raise InputError(
            str(data),
            f"record {row.id}: {e}",
            line=row.line,
            field="messages",
            hint="fix the turns' order, or remove messages to export the record as one exchange",
        ) from None


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
    last_turn: bool = False,
) -> ExportSummary:
    """Write SOURCE's records to OUTPUT in `fmt` (to OUTPUT.<split>.jsonl files with a split).

    Same input and seed, same bytes: a record's split comes from its id, and records keep
    their input order. Each file appears whole or not at all. messages and sharegpt keep
    every turn of a conversation; alpaca and prompt-completion refuse one unless
    `last_turn`, which exports its last exchange. dpo writes preference pairs and refuses a
    record that is not one; the other formats export a pair as its chosen response."""
    kind = _check_format(fmt)
    if last_turn and kind not in ONE_EXCHANGE:
        does = "writes preference pairs" if kind == "dpo" else "keeps every turn"
        raise UsageError(
            f"--last-turn is for alpaca and prompt-completion; {kind} {does}",
            hint="drop --last-turn, or export --to alpaca/prompt-completion",
        )
    splitter = Splitter(split, split_seed) if split else None
    data = source_file(Path(source))
    targets = _targets(data, Path(output), splitter)
    partials = {s: p.with_name(p.name + ".partial") for s, p in targets.items()}
    counts = dict.fromkeys(targets, 0)
    conversations = 0
    handles: dict[str, IO[bytes]] = {}
    try:
        for s, part in partials.items():
            part.parent.mkdir(parents=True, exist_ok=True)
            handles[s] = part.open("wb")
        for row in iter_rows(data):
            body, exchanges = _line(data, row, kind, last_turn, with_ids)
            conversations += exchanges > 1
            s = splitter(row.id) if splitter else TRAIN
            handles[s].write(orjson.dumps(body) + b"\n")
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
        last_turn=last_turn,
        split_seed=split_seed if splitter else None,
        records=sum(counts.values()),
        conversations=conversations,
        files=[ExportFile(split=s, path=str(p), records=counts[s]) for s, p in targets.items()],
    )

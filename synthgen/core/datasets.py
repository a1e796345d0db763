"""Where a dataset's files are: a run directory is the unit (data.jsonl, dropped.jsonl,
manifest.json), and a stage's output X.jsonl has its ledger beside it as X.ledger.jsonl.
Every command that reads a dataset finds its data and its ledger here, so the two
conventions are one rule, written once."""

from __future__ import annotations

from pathlib import Path

from synthgen.errors import InputError

RUN_DATA = "data.jsonl"
RUN_LEDGER = "dropped.jsonl"
RUN_MANIFEST = "manifest.json"
LEDGER_SUFFIX = ".ledger.jsonl"


def is_stdin(path: Path) -> bool:
    """`-` reads the dataset from stdin: it has no directory and no ledger beside it."""
    return str(path) == "-"


def dataset_of(path: Path) -> Path:
    """The dataset file to read: a run directory's data.jsonl, or `path` itself."""
    if is_stdin(path) or not path.is_dir():
        return path
    data = path / RUN_DATA
    if not data.is_file():
        raise InputError(
            str(path),
            f"is a directory without {RUN_DATA}",
            hint="pass a run directory written by `synthgen run`, or a dataset file",
        )
    return data


def ledger_beside(output: Path) -> Path:
    """The ledger a stage writes beside its output X.jsonl: X.ledger.jsonl."""
    name = output.name
    stem = name[: -len(".jsonl")] if name.endswith(".jsonl") else name
    return output.with_name(f"{stem}{LEDGER_SUFFIX}")


def ledger_names(data: Path) -> list[Path]:
    """Where the ledger of the dataset `data` may be, the preferred place first: a run's
    data.jsonl has dropped.jsonl (and, written by a stage, data.ledger.jsonl)."""
    beside = ledger_beside(data)
    if data.name == RUN_DATA:
        return [data.with_name(RUN_LEDGER), beside]
    return [beside]


def ledger_of(data: Path) -> Path | None:
    """The ledger of the dataset (or run directory) `data`, if one is there to read."""
    if is_stdin(data):
        return None
    data = dataset_of(data)
    return next((p for p in ledger_names(data) if p.is_file()), None)

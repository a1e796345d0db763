"""Deterministic splits: a record's split depends only on its id and a seed, never on order."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from synthgen.errors import UsageError

TRAIN = "train"
# Split names become part of file names, so keep them to what every file system takes.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*\Z")
_EXAMPLE = "e.g. --split validation=0.05 --split test=0.05"


def check_splits(split: Mapping[str, float]) -> dict[str, float]:
    """The held-out splits, validated: plain names other than train, each fraction in (0, 1),
    all together under 1 (the rest is train)."""
    out: dict[str, float] = {}
    for name, frac in split.items():
        if not isinstance(name, str) or not _NAME.match(name):
            raise UsageError(
                f"split name {name!r} cannot be used in a file name",
                hint=f"use letters, digits, - and _ ({_EXAMPLE})",
            )
        if name == TRAIN:
            raise UsageError(
                "split name 'train' is reserved: train gets every record no other split takes",
                hint=f"name only the held-out splits ({_EXAMPLE})",
            )
        if isinstance(frac, bool) or not isinstance(frac, int | float) or not 0 < frac < 1:
            raise UsageError(
                f"split {name}={frac!r}: a fraction must be a number between 0 and 1 (exclusive)",
                hint=f"give the share of records the split gets ({_EXAMPLE})",
            )
        out[name] = float(frac)
    total = sum(out.values())
    if total >= 1:
        raise UsageError(
            f"the split fractions add up to {total:g}, which leaves nothing for train",
            hint="keep their sum under 1; train gets the rest",
        )
    return out


def parse_splits(values: Iterable[str]) -> dict[str, float]:
    """`NAME=FRACTION` options as a validated dict; a name given twice is an error."""
    raw: dict[str, float] = {}
    for value in values:
        name, sep, frac_text = value.partition("=")
        name = name.strip()
        try:
            frac = float(frac_text)
        except ValueError:
            frac = float("nan")
        if not sep or not name or frac != frac:  # frac != frac: not a number
            raise UsageError(
                f"--split {value!r} is not NAME=FRACTION",
                hint=f"give a split name and its share of the records, {_EXAMPLE}",
            )
        if name in raw:
            raise UsageError(f"--split {name} is given twice", hint="give each split once")
        raw[name] = frac
    return check_splits(raw)


def position(seed: int, rec_id: str) -> float:
    """Where a record falls in [0, 1): from sha256 of the seed and the id."""
    digest = hashlib.sha256(f"{seed}\x00{rec_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


class Splitter:
    """Assigns ids to splits: below the first fraction the first split, below the sum of the
    first two the second, and so on; the rest to train."""

    def __init__(self, split: Mapping[str, float], seed: int) -> None:
        self.seed = seed
        self.bounds: list[tuple[float, str]] = []
        edge = 0.0
        for name, frac in check_splits(split).items():
            edge += frac
            self.bounds.append((edge, name))

    @property
    def names(self) -> list[str]:
        """Every split a record can land in, train first."""
        return [TRAIN, *(name for _, name in self.bounds)]

    def __call__(self, rec_id: str) -> str:
        x = position(self.seed, rec_id)
        for edge, name in self.bounds:
            if x < edge:
                return name
        return TRAIN


def split_path(output: Path, name: str) -> Path:
    """out/sft.jsonl and "validation" give out/sft.validation.jsonl."""
    return output.with_name(f"{output.stem}.{name}.jsonl")

"""Axes: the attributes each generation call draws (one value per axis, from the run's seed
and the job's number, so a rerun draws the same), states in its prompt and records in
`provenance.axes`. Values come from the config, a file (text, JSONL, CSV) or a range."""

from __future__ import annotations

import csv
import dataclasses
import functools
import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson

from synthgen.config import GenerationConfig
from synthgen.errors import ConfigError
from synthgen.settings.axes import AxisFile, AxisRange, AxisSpec
from synthgen.stages.expand.strategies import Job

# How a prompt states the drawn values; the stand-in reads this line too (standin/axes.py).
HEADING = "Attributes every example must have:"
Drawn = dict[str, str]
Drawer = Callable[[int], Drawn | None]  # job number → its values


@dataclass(frozen=True)
class Axis:
    """One axis: its values and weights, or a numeric range."""

    name: str
    values: tuple[str, ...] = ()
    weights: tuple[float, ...] | None = None
    span: AxisRange | None = None

    @property
    def categorical(self) -> bool:
        """Given as a list or a map in the config (coverage steers these by default)."""
        return self.span is None

    def draw(self, rng: random.Random) -> str:
        """One value, by weight (uniform without weights)."""
        if self.span is not None:
            return _draw_range(self.span, rng)
        if self.weights is None:
            return self.values[rng.randrange(len(self.values))]
        return rng.choices(self.values, self.weights)[0]


def _draw_range(r: AxisRange, rng: random.Random) -> str:
    if r.step is not None:
        k = rng.randint(0, math.floor((r.max - r.min) / r.step + 1e-9))
        return _number(r.min + k * r.step)
    if r.min.is_integer() and r.max.is_integer():
        return str(rng.randint(int(r.min), int(r.max)))
    return _number(round(rng.uniform(r.min, r.max), 3))


def _number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def load_axes(gen: GenerationConfig, home: Path | None) -> tuple[Axis, ...]:
    """The configured axes with their values read (files relative to `home`)."""
    return tuple(_axis(name, spec, home) for name, spec in gen.axes.items())


def _axis(name: str, spec: AxisSpec, home: Path | None) -> Axis:
    if isinstance(spec, AxisRange):
        return Axis(name, span=spec)
    if isinstance(spec, list):
        values = tuple(dict.fromkeys(spec))
        if not values:
            raise ConfigError(f"generation.axes.{name} has no values", hint="list some values")
        return Axis(name, values)
    if isinstance(spec, dict):
        if not spec or any(w < 0 for w in spec.values()) or not sum(spec.values()):
            raise ConfigError(
                f"generation.axes.{name}: weights must be ≥ 0 with a positive sum",
                hint="e.g. channel: {email: 2, chat: 1}",
            )
        return Axis(name, tuple(spec), tuple(spec.values()))
    file = spec if isinstance(spec, AxisFile) else AxisFile(file=spec)
    path = Path(file.file)
    if home is not None and not path.is_absolute():
        path = home / path
    if not path.is_file():
        raise ConfigError(
            f"generation.axes.{name}: no file {path}",
            hint="give a file of values (one per line, JSONL or CSV), relative to the config",
        )
    stat = path.stat()
    values = read_values(str(path), tuple(file.fields), stat.st_mtime_ns, stat.st_size)
    if not values:
        raise ConfigError(f"generation.axes.{name}: {path} holds no values", hint="add some")
    return Axis(name, values)


@functools.lru_cache(maxsize=8)
def read_values(path: str, fields: tuple[str, ...], _mtime: int, _size: int) -> tuple[str, ...]:
    """A file's values as prompts state them, read once per version of the file."""
    p = Path(path)
    if p.suffix.lower() in (".yaml", ".yml"):  # a topic map (synthgen topics propose)
        from synthgen.stages.expand.topics import read_topics

        return read_topics(p)
    text = p.read_text(encoding="utf-8")
    if p.suffix.lower() == ".csv":
        rows: list[object] = list(csv.DictReader(text.splitlines()))
    elif p.suffix.lower() in (".jsonl", ".ndjson"):
        rows = []
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    rows.append(orjson.loads(line))
                except orjson.JSONDecodeError as e:
                    hint = "one JSON value a line"
                    raise ConfigError(f"{p}:{n}: not JSON ({e})", hint=hint) from None
    else:
        rows = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return tuple(dict.fromkeys(value_text(r, fields) for r in rows if value_text(r, fields)))


def value_text(row: object, fields: Sequence[str] = ()) -> str:
    """A value as the prompt states it: a string as is, an object as `field: value; ...`."""
    if isinstance(row, Mapping):
        keys = fields or [str(k) for k in row]
        parts = [f"{k}: {row[k]}" for k in keys if k in row and str(row[k]).strip()]
        return "; ".join(parts)
    return str(row).strip() if row is not None else ""


def draw(
    axes: Sequence[Axis], seed: int, index: int, fixed: Mapping[str, str] | None = None
) -> Drawn:
    """Job `index`'s values: `fixed` ones as given, each other axis drawn from its own stream."""
    rng = random.Random(f"synthgen:axes:{seed}:{index}")
    out: Drawn = {}
    for axis in axes:
        value = axis.draw(rng)  # drawn even when fixed, so the other axes' draws stay put
        out[axis.name] = fixed.get(axis.name, value) if fixed else value
    return out


def random_drawer(axes: Sequence[Axis], seed: int) -> Drawer:
    """Every job's values drawn at random by weight (`expand`, and `run` without coverage)."""
    return lambda index: draw(axes, seed, index)


def stated(values: Mapping[str, str]) -> str:
    """The prompt's paragraph that states a call's values."""
    return "\n".join([HEADING, *(f"- {k}: {v}" for k, v in values.items())])


def with_axes(job: Job, values: Drawn | None) -> Job:
    """The job with its values stated at the end of its last user message, and recorded."""
    if not values:
        return job
    msgs = [dict(m) for m in job.request.messages]
    last = max(i for i, m in enumerate(msgs) if m.get("role") == "user")
    msgs[last]["content"] = f"{msgs[last]['content']}\n\n{stated(values)}"
    req = job.request.model_copy(update={"messages": msgs})
    return dataclasses.replace(job, request=req, axes=dict(values))

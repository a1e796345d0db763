"""`generation.axes` and `generation.coverage`: the attributes every generation call draws
(stated in its prompt, kept in `provenance.axes`) and the distribution `run` steers toward."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AxisRange(_Strict):
    """A numeric axis: a value drawn uniformly from [min, max] (whole numbers when both are)."""

    min: float
    max: float
    step: float | None = Field(default=None, gt=0)  # values on min + k·step only

    @model_validator(mode="after")
    def _ordered(self) -> AxisRange:
        if self.max < self.min:
            raise ValueError(f"an axis range needs min ≤ max, got {self.min} > {self.max}")
        return self


class AxisFile(_Strict):
    """An axis whose values are the lines of a file: text one per line, or JSONL (a JSON
    string, or an object whose fields the prompt states, e.g. personas); CSV rows too."""

    file: str  # relative to the config file's folder
    fields: list[str] = Field(default_factory=list)  # of an object: these only (default all)


# A numeric range, a file, values (uniform), value → weight, or a file's path; tried in this
# order, so {min: 1, max: 5} is a range, not two weighted values.
AxisSpec = Annotated[
    AxisRange | AxisFile | list[str] | dict[str, float] | str, Field(union_mode="left_to_right")
]


class CoverageConfig(_Strict):
    """The share of kept records `run` fills per cell (a value of each axis in `over`)."""

    over: list[str] = Field(default_factory=list)  # default: every axis given as a list or map
    # axis → value → share (normalised per axis); an axis left out is uniform
    shares: dict[str, dict[str, float]] = Field(default_factory=dict)
    # A cell whose candidates reach this many times its quota without filling it is "hard":
    # reported, asked no more, and its shortfall goes to the other cells.
    max_asked: float = Field(default=10.0, ge=1)

"""What the judge reads and writes: the rubric, the reference facts, and its verdicts parsed
strictly against the rubric."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from synthgen.errors import InputError
from synthgen.llm.structured import ParseFailure, parse_json
from synthgen.records import canonical_json, sha256_hex

# A verdict's flags are bounded (in the schema sent, and on parse) so a small model cannot loop
# on them until max_tokens. Version 2 added the bounds: the schema is part of every judge
# request's cache key, so verdicts cached under version 1 are asked again.
VERDICT_SCHEMA_VERSION = 2
MAX_FLAGS = 5
MAX_FLAG_CHARS = 40


class Scale(BaseModel):
    """The integer range every criterion, and the overall score, is given on."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    min: int = 1
    max: int = 5

    @model_validator(mode="after")
    def _ordered(self) -> Scale:
        if self.max <= self.min:
            raise ValueError(f"scale max {self.max} must be above min {self.min}")
        return self


class Criterion(BaseModel):
    """One thing the judge scores, with a description for every level of the scale."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    description: str
    levels: dict[int, str]


class Rubric(BaseModel):
    """Criteria scored on one integer scale, each level described."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str
    scale: Scale = Scale()
    criteria: list[Criterion] = Field(min_length=1)

    @model_validator(mode="after")
    def _every_level_described(self) -> Rubric:
        want = set(range(self.scale.min, self.scale.max + 1))
        names = [c.name for c in self.criteria]
        if len(set(names)) != len(names):
            raise ValueError("criterion names must be unique")
        for c in self.criteria:
            if set(c.levels) != want:
                raise ValueError(
                    f"criterion {c.name!r} describes levels {sorted(c.levels)}, "
                    f"the scale needs exactly {sorted(want)}"
                )
        return self

    @property
    def sha256(self) -> str:
        """The rubric's identity: the hash of its canonical JSON."""
        return sha256_hex(canonical_json(self.model_dump(mode="json")))

    def text(self) -> str:
        """The criteria and their level descriptions as the judge prompt shows them."""
        lines = []
        for c in self.criteria:
            lines.append(f"- {c.name}: {c.description}")
            lines += [f"    {k}: {c.levels[k]}" for k in sorted(c.levels)]
        return "\n".join(lines)

    def verdict_schema(self) -> dict[str, Any]:
        """The verdict's JSON schema; the rationale comes first so it is written first."""
        lo, hi = self.scale.min, self.scale.max
        crit = {c.name: {"type": "integer", "minimum": lo, "maximum": hi} for c in self.criteria}
        return {
            "type": "object",
            "properties": {
                "rationale": {"type": "string"},
                "scores": {
                    "type": "object",
                    "properties": crit,
                    "required": list(crit),
                    "additionalProperties": False,
                },
                "score": {"type": "number", "minimum": lo, "maximum": hi},
                "flags": {
                    "type": "array",
                    "items": {"type": "string", "maxLength": MAX_FLAG_CHARS},
                    "maxItems": MAX_FLAGS,
                },
            },
            "required": ["rationale", "scores", "score", "flags"],
            "additionalProperties": False,
        }


def load_rubric(path: Path | None) -> Rubric:
    """The rubric in a YAML/JSON file, or the bundled default."""
    import yaml

    if path is None:
        text = resources.files("synthgen.rubrics").joinpath("default.yaml").read_text("utf-8")
        name = "default.yaml"
    else:
        name = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as e:
            raise InputError(
                name, f"cannot read rubric ({e.strerror})", hint="check --rubric"
            ) from e
    try:
        data = yaml.safe_load(text)
        return Rubric.model_validate(data)
    except yaml.YAMLError as e:
        raise InputError(name, f"invalid YAML ({e})", hint="fix the rubric file") from None
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or None
        raise InputError(
            name,
            first["msg"],
            field=where,
            hint="see synthgen/rubrics/default.yaml: name, scale {min, max}, criteria with "
            "name, description and a descriptor per level (quote YAML words like 'no')",
        ) from None


class Verdict(BaseModel):
    """One judge's structured reply, as parsed (checked against the rubric by `parse_verdict`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    rationale: str
    scores: dict[str, int]
    score: float
    flags: list[str] = Field(default_factory=list)


def parse_verdict(content: str, rubric: Rubric) -> Verdict:
    """A verdict whose criteria and scores fit the rubric, else ParseFailure saying why."""
    data = parse_json(content)
    if isinstance(data, dict) and isinstance(data.get("scores"), dict):
        # 4.0 is an integer score written as a float; 4.5 is not.
        data["scores"] = {
            k: int(v) if isinstance(v, float) and v.is_integer() else v
            for k, v in data["scores"].items()
        }
    if isinstance(data, dict) and isinstance(data.get("flags"), list):
        # An endpoint that ignores the schema's bounds: its flags are trimmed, not re-asked
        # (they only tally problems; a repair would pay for the same verdict twice).
        data["flags"] = [
            f[:MAX_FLAG_CHARS] if isinstance(f, str) else f for f in data["flags"][:MAX_FLAGS]
        ]
    try:
        v = Verdict.model_validate(data, strict=False)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ParseFailure(f"field {where!r}: {first['msg']}") from None
    want = [c.name for c in rubric.criteria]
    if set(v.scores) != set(want):
        raise ParseFailure(f"scores must have exactly these criteria: {', '.join(want)}")
    lo, hi = rubric.scale.min, rubric.scale.max
    for name, s in [*v.scores.items(), ("score", v.score)]:
        if not lo <= s <= hi:
            raise ParseFailure(f"{name} = {s} is outside the scale {lo}..{hi}")
    return v


@dataclass(frozen=True)
class Reference:
    """Trusted facts the judge must cite (from --reference)."""

    facts: tuple[str, ...]
    sha256: str


def read_reference(path: Path) -> Reference:
    """A text file (one fact or passage per paragraph) or JSONL ({"text"|"fact"|...} per line)."""
    from synthgen.core.jsonl import iter_jsonl

    try:
        raw = path.read_bytes()
    except OSError as e:
        raise InputError(str(path), f"cannot read ({e.strerror})", hint="check --reference") from e
    facts: list[str] = []
    if path.suffix == ".jsonl":
        for n, obj in iter_jsonl(path):
            text = next((obj[k] for k in ("text", "fact", "content", "passage") if k in obj), None)
            if not isinstance(text, str) or not text.strip():
                raise InputError(
                    str(path),
                    "needs a text, fact, content or passage field",
                    line=n,
                    hint='write {"text": "..."} per line',
                )
            facts.append(text.strip())
    else:
        text = raw.decode("utf-8", errors="replace")
        facts = [p.strip() for p in text.split("\n\n") if p.strip()]
    if not facts:
        raise InputError(str(path), "holds no facts", hint="write one fact per paragraph")
    return Reference(tuple(facts), sha256_hex(raw))

"""Contracts between stages: frozen pydantic models and content-derived ids."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field

ID_SCHEME = "sg1"  # bump if the canonical form below ever changes


class Frozen(BaseModel):
    """Base of the strict contracts: immutable, and an unknown field is an error, not lost."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Open(BaseModel):
    """Frozen, but tolerant of fields written by newer synthgen versions."""

    model_config = ConfigDict(frozen=True, extra="allow")


def canonical_json(obj: Any) -> bytes:
    """Canonical JSON: sorted keys, UTF-8, no insignificant whitespace."""
    return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)


def sha256_hex(data: bytes | str) -> str:
    """The one hash synthgen uses for ids and fingerprints, over text or bytes."""
    return hashlib.sha256(data.encode("utf-8") if isinstance(data, str) else data).hexdigest()


def record_id(instruction: str, input: str, output: str) -> str:
    """Same content, same id: sha256 over canonical JSON of the three text fields."""
    body = canonical_json({"input": input, "instruction": instruction, "output": output})
    return f"sg_{sha256_hex(ID_SCHEME.encode() + b':' + body)[:32]}"


Role = Literal["system", "user", "assistant"]


class Turn(Frozen):
    """One turn of a conversation: who speaks, and what they say."""

    role: Role
    content: str


def conversation_id(messages: list[Turn]) -> str:
    """Same conversation, same id: sha256 over canonical JSON of every turn, system included."""
    turns = [{"content": t.content, "role": t.role} for t in messages]
    body = canonical_json({"messages": turns})
    return f"sg_{sha256_hex(ID_SCHEME.encode() + b':' + body)[:32]}"


def transcript(messages: list[Turn]) -> str:
    """A conversation as plain text, a turn per paragraph ("User: ...", "Assistant: ...")."""
    return "\n\n".join(f"{t.role.capitalize()}: {t.content}" for t in messages)


def dedup_fields(turns: list[tuple[str, str]]) -> tuple[str, str, str]:
    """A conversation's (instruction, input, output) as dedup compares them: every user turn,
    its system prompt, every assistant turn, each joined by newlines."""

    def said(role: str) -> str:
        return "\n".join(content for r, content in turns if r == role)

    return said("user"), said("system"), said("assistant")


def exchanges(messages: list[Turn]) -> int:
    """How many user → assistant exchanges a conversation holds."""
    return sum(1 for t in messages if t.role == "assistant")


class Seed(Frozen):
    """One human-written example; `source` says where it came from (file, line, format).
    A conversation keeps every turn in `messages` (its system prompt too); its instruction
    and output are then its first exchange, which single-turn strategies show."""

    id: str
    instruction: str
    input: str = ""
    output: str
    meta: dict[str, Any] = Field(default_factory=dict)
    source: dict[str, Any] = Field(default_factory=dict)
    messages: list[Turn] | None = None

    @property
    def ref(self) -> str:
        """How records name this seed as a parent, set apart from generated records' ids."""
        return f"seed:{self.id}"


class Usage(Frozen):
    """Tokens and dollars one answer (or a sum of them) cost, as provenance records it."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    # Of the prompt tokens, those served from the endpoint's prompt cache; left out when 0,
    # so records, ledgers and cache bodies keep their bytes.
    cached_tokens: int = Field(default=0, exclude_if=lambda v: not v)

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            cost_usd=self.cost_usd + other.cost_usd,
            cached_tokens=self.cached_tokens + other.cached_tokens,
        )


class Price(Frozen):
    """US dollars per million tokens."""

    input: float
    output: float
    # Prompt tokens from the prompt cache (default: input); left out when unset, so configs
    # without it keep their hashes.
    cached_input: float | None = Field(default=None, exclude_if=lambda v: v is None)


class PromptRef(Frozen):
    """Which prompt template made a record, pinned by hash so edits are visible."""

    template: str
    template_sha256: str


StructuredPath = Literal["json_schema", "json_object", "prompted", "none"]


class GeneratorInfo(Frozen):
    """Which model and settings produced an answer, and how, so a record can be reproduced."""

    model: str
    resolved_model: str
    endpoint: str  # host[:port] only: never a key, never credentials or a query string
    # The model a router (LiteLLM, a gateway) says answered, when it hides it behind an alias.
    upstream_model: str | None = None
    params: dict[str, Any]
    request_id: str | None = None
    finish_reason: str | None = None
    structured: StructuredPath = "none"
    sampling: Literal["single", "n", "separate"] = "single"
    repaired: bool = False
    cached: bool = False


class JudgeVerdict(Frozen):
    """The judge's verdict on one record, as `provenance.judge` holds it (this field order is
    its JSON's key order; fields left None are not written)."""

    models: list[str]
    score: float
    scores: dict[str, int | float]  # the panel's median per criterion
    rationale: str
    flags: list[str]
    rubric_sha256: str
    threshold: float
    passed: bool
    structured: dict[str, str]  # each model's structured-output path
    repaired: bool
    truncation_retry: dict[str, int] | None = None  # only when a cut-off verdict was retried
    panel: list[dict[str, Any]] | None = None  # each model's own verdict, for a panel
    spread: float | None = None  # a panel's highest score minus its lowest
    reference_sha256: str | None = None

    def as_json(self) -> dict[str, Any]:
        """`provenance.judge` as written."""
        return self.model_dump(mode="json", exclude_none=True)


class Provenance(Open):
    """Where a record came from. Records read from files synthgen did not write have
    method "imported", `source` (file, line, format, original id) and no prompt/generator."""

    run_id: str
    created_at: str
    synthgen_version: str
    config_sha256: str
    method: str
    operator: str | None = None
    parents: list[str]
    prompt: PromptRef | None = None
    generator: GeneratorInfo | None = None
    source: dict[str, Any] | None = None
    response_generator: GeneratorInfo | None = None
    usage: Usage
    judge: dict[str, Any] | None = None
    dedup: dict[str, Any] | None = None
    preference: dict[str, Any] | None = None
    checks: list[dict[str, str]] | None = None  # that execute, passed: check and executor
    evidence: list[dict[str, Any]] | None = None  # grounded: quotes, spans (expand/faithful.py)
    axes: dict[str, str] | None = None  # the values its call drew (generation.axes)
    grounded_verdict: dict[str, Any] | None = None  # grounded: the judge's model and verdict


class Response(Open):
    """One of several responses to the same instruction (`responses_per_instruction` ≥ 2),
    with the call that wrote it."""

    output: str
    generator: GeneratorInfo | None = None
    usage: Usage = Usage()


class Record(Open):
    """The canonical record: one JSON object per line of every dataset synthgen writes.
    A conversation also holds every turn in `messages`; its instruction and output are then
    its first exchange (what single-turn tools read) and its id covers every turn."""

    id: str
    instruction: str
    input: str = ""
    output: str
    messages: list[Turn] | None = None
    # Several responses to the instruction, from `expand --responses-per-instruction K`; the
    # judge makes a preference pair of them, and `output` is then the first (before) or the
    # chosen one (after filter).
    responses: list[Response] | None = None
    # A preference pair (TRL's standard preference format), written by `filter` from the
    # responses: the prompt (instruction, then input), the chosen and the rejected response.
    # provenance.preference says why: every score, the margin, the pairwise checks.
    prompt: str | None = None
    chosen: str | None = None
    rejected: str | None = None
    meta: dict[str, Any] = Field(default_factory=dict)
    provenance: Provenance


class DropReason(Frozen):
    """Which stage dropped a candidate, a stable reason code to count by, and details."""

    stage: str
    reason: str
    detail: str = ""


class LedgerEntry(Open):
    """A candidate that did not make it, with everything needed to see why."""

    id: str
    instruction: str | None = None
    input: str | None = None
    output: str | None = None
    messages: list[Turn] | None = None
    raw: str | None = None
    provenance: Provenance
    dropped: DropReason


def ledger_line(
    candidate: Mapping[str, Any], stage: str, reason: str, detail: str = "", **after: Any
) -> dict[str, Any]:
    """The one constructor of a drop, as the ledger line every stage writes: the candidate's
    fields as given and in their order, then `dropped`, then `after` (a match, a raw answer)
    unless None; a field the candidate already holds keeps its place."""
    # A plain dict, not a model: dedup ledgers up to a million records through here.
    line = dict(candidate)
    line["dropped"] = {"stage": stage, "reason": reason, "detail": detail}
    for key, value in after.items():
        if value is not None:
            line[key] = value
    return line


def ledger_entry(
    entry_id: str,
    provenance: Provenance,
    stage: str,
    reason: str,
    detail: str = "",
    *,
    instruction: str | None = None,
    input: str | None = None,
    output: str | None = None,
    raw: str | None = None,
    **extra: Any,
) -> LedgerEntry:
    """`ledger_line` typed, for a candidate synthgen made: its id, texts, provenance and why;
    `extra` (run's dedup `match`) is written after them."""
    head: dict[str, Any] = {"id": entry_id, "instruction": instruction, "input": input}
    head |= {"output": output, "raw": raw, "provenance": provenance}
    return LedgerEntry.model_validate(ledger_line(head, stage, reason, detail, **extra))


def read_drop(line: Mapping[str, Any]) -> DropReason:
    """A ledger line's `dropped` block, typed; read leniently ("?" for what it lacks), as a
    hand-edited ledger may say less than `ledger_line` writes."""
    d = line.get("dropped")
    d = d if isinstance(d, Mapping) else {}
    return DropReason(
        stage=str(d.get("stage", "?")),
        reason=str(d.get("reason", "?")),
        detail=str(d.get("detail", "")),
    )


def ledger_id(request_key: str, index: int, reason: str) -> str:
    """A stable drop id from where it came from and why, so a resumed run ledgers it once."""
    return f"drop_{sha256_hex(f'{request_key}:{index}:{reason}')[:32]}"


class RequestCounts(Frozen):
    """What a run asked of its endpoints: sent, replayed from the cache, retried, failed."""

    sent: int = 0
    cached: int = 0
    retried: int = 0
    failed: int = 0
    rate_limited: int = 0
    fallbacks: list[str] = []


class TokenUsage(Frozen):
    """Tokens over all of a run's answers (cached ones included)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0  # of the prompt tokens, served from the endpoints' prompt caches


# How a stage run ended, in every type that carries it (Outcome, the stages' results,
# StageSummary); the exit code of each is core/stage.py's EXIT_BY_STATUS. The Batch API's own
# states (validating, in_progress, ...) are another thing: llm/batchapi.py keeps those.
Status = Literal[
    "complete",
    "pending",  # batch mode: requests wait for a batch; the same command continues
    "interrupted",
    "failed",
    "exhausted",
    "stopped_budget",
    "stopped_gate",
    "stopped_calibration",
]


class StageSummary(Frozen):
    """How a stage run ended: what every stage returns and what `--json` prints."""

    command: str
    status: Status
    exit_code: int
    run_id: str | None = None
    resumed: bool = False
    counts: dict[str, Any]
    requests: RequestCounts = RequestCounts()
    usage: TokenUsage = TokenUsage()
    cost_usd: float = 0.0
    cost_usd_this_run: float = 0.0
    price_known: bool = True
    output: str
    ledger: str
    manifest: str
    warnings: list[str] = []
    error: str | None = None
    headline: str = ""  # what the run did, in one line for people (the CLI prints it)
    seconds: float = 0.0
    # What only one stage reports (the judge's block, capabilities, dedup's method...).
    details: dict[str, Any] = {}

    @property
    def ok(self) -> bool:
        """True when the run did all it was asked."""
        return self.exit_code == 0

    def to_json(self) -> dict[str, Any]:
        """The summary as `--json` prints it (and as the manifest records it): the stage's
        details at the top level beside the common fields, as before the summary was typed."""
        body = self.model_dump(mode="json", exclude={"details"}, exclude_none=True)
        return {**body, **self.details}

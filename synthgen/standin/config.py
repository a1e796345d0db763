"""Fault switches of the stand-in endpoint (all off by default) and its rate-limit emulation.

The stand-in is NOT A MODEL: it returns deterministic placeholder text. These switches only
make it misbehave the way real OpenAI-compatible endpoints do, so callers can be tested.
"""

from __future__ import annotations

import hashlib
import math
import random
import time
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from synthgen.standin.tasks import TaskFault

Probability = Annotated[float, Field(ge=0.0, le=1.0)]


GroundedFault = Literal[
    "empty", "malformed", "fabricated", "short", "elsewhere", "number", "unanswerable", "copy"
]

# The settings that make an answer's content (the rest are faults a client retries past).
ANSWER_SETTINGS = ("judge_score", "judge_score_by_length", "judge_low_marker")
# Answer settings added later: in the fingerprint only when set, so earlier ones stay valid.
LATER_ANSWER_SETTINGS = (
    "reply_variants",
    "grounded_faults",
    "judge_fail_axis",
    "judge_fail_share",
)


class StandinConfig(BaseModel):
    """Live configuration of a `StandinServer`; unknown keys are rejected."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    latency_s: float = Field(
        default=0.0, ge=0.0, description="delay of each admitted chat request (not rate-limit 429s)"
    )
    latency_jitter_s: float = Field(default=0.0, ge=0.0, description="extra uniform [0, j) delay")

    rpm_limit: int | None = Field(default=None, ge=1, description="emulated requests per minute")
    rpm_burst: int | None = Field(
        default=None, ge=1, description="request bucket size; default one second's worth"
    )
    tpm_limit: int | None = Field(default=None, ge=1, description="emulated tokens per minute")
    tpm_burst: int | None = Field(
        default=None, ge=1, description="token bucket size; default one second's worth"
    )
    ratelimit_headers: bool = Field(default=False, description="send x-ratelimit-* headers")

    p_429: Probability = 0.0
    retry_after_s: float = Field(default=0.05, ge=0.0, description="retry-after of random 429s")
    p_500: Probability = 0.0
    p_400: Probability = 0.0  # a request refused as too long (context_length_exceeded)
    fail_first: int = Field(default=0, ge=0, description="first N chat requests get 503")
    # Any other status, e.g. the 413 of a proxy's body-size limit or a 451 policy refusal.
    status_code: int | None = Field(
        default=None,
        ge=400,
        le=599,
        description="answer chat requests with this status: every one, or only those chosen "
        "by status_every and/or p_status",
    )
    status_every: int | None = Field(
        default=None, ge=1, description="only every k-th chat request (k, 2k, ...) gets it"
    )
    p_status: Probability = Field(
        default=0.0, description="each chat request gets it with this probability"
    )
    status_message: str | None = Field(
        default=None, min_length=1, description="the error body's message; default the reason"
    )

    # Task-shaped answers that fail when executed (standin/tasks.py): fault → probability.
    task_faults: dict[TaskFault, Probability] = Field(default_factory=dict)
    p_truncate: Probability = 0.0
    p_malformed: Probability = 0.0
    p_content_filter: Probability = 0.0
    ignore_n: bool = False

    reject_json_schema: bool = False
    reject_json_object: bool = False
    require_api_key: str | None = None

    # Streaming (`stream: true` is answered with server-sent events, as OpenAI does).
    reject_stream: bool = Field(default=False, description="400 on `stream: true`")
    reject_stream_options: bool = Field(default=False, description="400 on `stream_options`")
    stream_usage: bool = Field(
        default=True, description="send the usage chunk when include_usage asks for it"
    )
    stream_chunk_chars: int = Field(
        default=16, ge=1, description="characters of content per streamed chunk"
    )
    chunk_delay_s: float = Field(default=0.0, ge=0.0, description="delay before every chunk")
    stall_after_chunks: int | None = Field(
        default=None, ge=0, description="go silent for stall_s after this many chunks"
    )
    stall_s: float = Field(default=0.0, ge=0.0, description="how long a stall lasts")
    stall_first: int | None = Field(
        default=None, ge=1, description="stall only the first N chat requests (default: all)"
    )

    # Test controls for judge replies: they steer the numbers in a JSON reply so that tests
    # can predict a judge's verdicts. They make the stand-in no more of a model than before.
    judge_score: float | None = Field(
        default=None, description="every number in a JSON reply, clamped to the schema's range"
    )
    judge_score_by_length: int | None = Field(
        default=None,
        ge=1,
        description="every number = the schema minimum + one per this many characters of the "
        "judged text (the last <response>...</response> block, else the last user message)",
    )
    grounded_faults: list[GroundedFault] = Field(
        default_factory=list,
        description="faults of grounded replies (standin/grounded.py FAULTS): empty, malformed, "
        "fabricated, short, elsewhere, number, unanswerable, copy",
    )
    judge_low_marker: str | None = Field(
        default=None,
        min_length=1,
        description="every number = the schema minimum when the judged text contains this",
    )
    # generation.axes (standin/axes.py): judged instructions tagged with this `name: value`
    judge_fail_axis: str | None = Field(
        default=None, min_length=1, description="fail most judged records of this axis value"
    )
    judge_fail_share: float | None = Field(
        default=None, ge=0.0, le=1.0, description="the share judge_fail_axis fails (0.8)"
    )
    # A workload whose duplicates are exact (bench): replies repeat word for word.
    reply_variants: int | None = Field(
        default=None,
        ge=1,
        description="every request gets one of this many replies (chosen by its hash, without "
        "the prompt's words), so replies and the candidates in them repeat exactly",
    )

    # Files and Batches API (batches.py): a batch advances only when it is retrieved.
    batch_polls: int = Field(
        default=1, ge=1, description="retrieves a batch needs before it can finish"
    )
    batch_lines_per_poll: int | None = Field(
        default=None, ge=1, description="lines each retrieve processes at most (default: all)"
    )
    batch_fail_lines: Probability = Field(
        default=0.0, description="share of batch lines answered 500 (error file)"
    )
    batch_expire_lines: Probability = Field(
        default=0.0, description="share of batch lines that expire (error file, batch_expired)"
    )
    batch_expire: bool = Field(
        default=False,
        description="batches expire when they would finish; unprocessed lines "
        "go to the error file as batch_expired",
    )
    upload_fail_first: int = Field(
        default=0, ge=0, description="first N file uploads: connection closed, nothing stored"
    )
    upload_lost_reply_first: int = Field(
        default=0,
        ge=0,
        description="next N file uploads: stored, but the connection closes before the answer",
    )

    hold_after: int | None = Field(
        default=None,
        ge=0,
        description="answer the first N chat requests (since a reset), then hold every later "
        "one unanswered until the fault is cleared: a client killed meanwhile is mid-run",
    )
    batch_hold: Literal["upload", "create", "retrieve", "content"] | None = Field(
        default=None,
        description="do that batch step (store the file, create the batch...) but hold the "
        "answer until the fault is cleared: a client killed meanwhile never learns the result",
    )

    prompt_cache: bool = Field(
        default=False,
        description="report usage.prompt_tokens_details.cached_tokens for the prefix a prompt "
        "shares with a recent one (promptcache.py)",
    )

    fault_seed: int = 0

    def rpm_capacity(self) -> int | None:
        """Request bucket capacity, or None when requests are not limited."""
        if self.rpm_limit is None:
            return None
        return self.rpm_burst or max(1, self.rpm_limit // 60)

    def tpm_capacity(self) -> int | None:
        """Token bucket capacity, or None when tokens are not limited."""
        if self.tpm_limit is None:
            return None
        return self.tpm_burst or max(1, self.tpm_limit // 60)

    def status_fault(self, index: int) -> bool:
        """Does chat request `index` (0-based arrival order) get `status_code`?"""
        if self.status_code is None:
            return False
        if self.status_every is None and self.p_status == 0.0:
            return True
        if self.status_every is not None and (index + 1) % self.status_every == 0:
            return True
        # Its own generator, so turning this fault on leaves the other faults' draws alone.
        draw = random.Random(f"{self.fault_seed}:{index}:status").random()
        return self.p_status > 0.0 and draw < self.p_status

    def merged(self, changes: dict[str, Any]) -> StandinConfig:
        """A new validated config with `changes` applied (raises on unknown keys/bad values)."""
        return StandinConfig.model_validate({**self.model_dump(), **changes})

    def answers_sha256(self) -> str:
        """A fingerprint of the settings that decide what an answer says (the judge's
        numbers), which clients fold into their cache keys: changed, the cache asks again.
        Faults a retry gets past (429s, latency, drops) leave it alone, so a resume replays."""
        picked = {k: getattr(self, k) for k in ANSWER_SETTINGS}
        picked |= {k: v for k in LATER_ANSWER_SETTINGS if (v := getattr(self, k)) not in (None, [])}
        return hashlib.sha256(repr(sorted(picked.items())).encode()).hexdigest()

    def public_dump(self) -> dict[str, Any]:
        """The config as JSON-able data with the API key masked."""
        data = self.model_dump()
        if data.get("require_api_key"):
            data["require_api_key"] = "***"
        return data


def duration(seconds: float) -> str:
    """OpenAI's reset-duration format: "250ms", "1.5s", "6m0s"."""
    if seconds < 1:
        return f"{max(0, math.ceil(seconds * 1000))}ms"

    def secs(s: float) -> str:
        return f"{s:.3f}".rstrip("0").rstrip(".") + "s"

    if seconds < 60:
        return secs(seconds)
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}m{secs(rest)}"


class Bucket:
    """Token bucket refilling at `per_min / 60` per second; refilled when its limits change.

    A cost above the capacity passes only with a full bucket and leaves it in debt, so the
    long-run rate still matches `per_min`.
    """

    def __init__(self) -> None:
        self.key: tuple[int, int] | None = None
        self.tokens = 0.0
        self.at = 0.0

    def refill(self, cap: int, per_min: int, now: float) -> None:
        """Add what the time since the last look earned, up to `cap` (a new limit starts full)."""
        if self.key != (cap, per_min):
            self.key, self.tokens = (cap, per_min), float(cap)
        else:
            self.tokens = min(float(cap), self.tokens + (now - self.at) * per_min / 60)
        self.at = now

    def wait(self, cap: int, per_min: int, cost: int, now: float) -> float:
        """Seconds until `cost` can be taken (0.0 = now)."""
        self.refill(cap, per_min, now)
        need = min(cost, cap)
        return 0.0 if self.tokens >= need else (need - self.tokens) * 60 / per_min

    def take(self, cost: int) -> None:
        """Spend `cost` (wait() has already said it is there)."""
        self.tokens -= cost

    def state(self, cap: int, per_min: int, now: float) -> tuple[int, float]:
        """(whole tokens remaining, seconds until the bucket is full again)."""
        self.refill(cap, per_min, now)
        return max(0, int(self.tokens)), max(0.0, (cap - self.tokens) * 60 / per_min)


class RateLimiter:
    """The emulated requests-per-minute and tokens-per-minute limits of one server."""

    def __init__(self) -> None:
        self.rpm, self.tpm = Bucket(), Bucket()

    def _checks(self, cfg: StandinConfig, cost: int) -> list[tuple[str, Bucket, int, int, int]]:
        out = []
        for what, bucket, cap, limit, units in (
            ("requests", self.rpm, cfg.rpm_capacity(), cfg.rpm_limit, 1),
            ("tokens", self.tpm, cfg.tpm_capacity(), cfg.tpm_limit, cost),
        ):
            if cap is not None and limit is not None:
                out.append((what, bucket, cap, limit, units))
        return out

    def admit(self, cfg: StandinConfig, cost: int) -> tuple[str, int, float] | None:
        """None if admitted (tokens taken), else (which limit, its value, seconds to wait)."""
        now = time.monotonic()
        checks = self._checks(cfg, cost)
        for what, bucket, cap, limit, units in checks:
            wait = bucket.wait(cap, limit, units, now)
            if wait > 0:
                return what, limit, wait
        for _, bucket, _, _, units in checks:
            bucket.take(units)
        return None

    def headers(self, cfg: StandinConfig, cost: int) -> list[tuple[str, str]]:
        """x-ratelimit-{limit,remaining,reset}-{requests,tokens} (10000 rpm / 1M tpm if unset)."""
        now = time.monotonic()
        out: list[tuple[str, str]] = []
        for what, bucket, cap, limit, default, used in (
            ("requests", self.rpm, cfg.rpm_capacity(), cfg.rpm_limit, 10_000, 1),
            ("tokens", self.tpm, cfg.tpm_capacity(), cfg.tpm_limit, 1_000_000, cost),
        ):
            if cap is None or limit is None:
                shown, remaining, reset = default, default - used, used * 60 / default
            else:
                shown, (remaining, reset) = limit, bucket.state(cap, limit, now)
            out.append((f"x-ratelimit-limit-{what}", str(shown)))
            out.append((f"x-ratelimit-remaining-{what}", str(max(0, remaining))))
            out.append((f"x-ratelimit-reset-{what}", duration(reset)))
        return out

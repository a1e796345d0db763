"""The `grounding:` section: how grounded generation is checked and spread over the chunks
(the checks and the allocator themselves live in stages/expand)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class GroundingSettings(BaseModel):
    """Thresholds of the faithfulness checks, multi-hop, and the coverage gate."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # 2: each question rests on two neighbouring chunks of one document (multi-hop)
    hops: Literal[1, 2] = 1
    # a quote shorter than this proves nothing ("the company", "in 1998")
    min_quote_words: int = Field(default=6, ge=1, le=50)
    # rapidfuzz ratio (0-100) a near-verbatim quote must reach to count, marked `fuzzy`;
    # above 100: exact or normalised matches only
    fuzzy_min_score: float = Field(default=90.0, ge=50.0, le=101.0)
    # numbers, dates and capitalised names in an answer must appear in its chunk or question
    check_entities: bool = True
    # an answer repeating more than this share of its chunk verbatim is `copies_source`
    max_copied_share: float = Field(default=0.5, gt=0.0, le=1.0)
    # last, for answers every check above passed: the model reads the raw chunk, question
    # and answer ({supported, contradicts, answerable}); calibrated on the seeds first
    verdict: bool = True
    # who gives it: `run` asks its judge (filter.judge, the first model of a panel); `expand`
    # has no judge, so it asks this model (same endpoint) and without one leaves the verdict
    # to the deterministic checks (a model never gives the verdict on its own answers)
    verdict_model: str | None = None
    # `run`: stop with exit 3 when fewer than this share of chunks kept a record (CI gate)
    min_chunk_coverage: float | None = Field(default=None, ge=0.0, le=1.0)

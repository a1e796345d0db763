"""The `documents:` section of a run config: which documents, and how they are chunked."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from synthgen.documents.corpus import DEFAULT_CHUNK_TOKENS, DEFAULT_MIN_CHUNK_TOKENS


class DocumentsSettings(BaseModel):
    """Source documents (files, folders, globs; relative to the config file's folder) and
    the chunk size in tokens. A plain list is the paths."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Strings, not Paths: a glob is not a file, and the path as written is the one shown
    # in provenance.
    paths: list[str] = Field(default_factory=list)
    chunk_tokens: int = Field(default=DEFAULT_CHUNK_TOKENS, ge=16, le=100_000)
    # Default: 50, or a quarter of chunk_tokens when that is smaller.
    min_chunk_tokens: int = Field(default=DEFAULT_MIN_CHUNK_TOKENS, ge=0)

    @model_validator(mode="before")
    @classmethod
    def _plain_list(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"paths": [data]}
        if isinstance(data, list):
            return {"paths": data}
        size = data.get("chunk_tokens") if isinstance(data, dict) else None
        if isinstance(size, int) and "min_chunk_tokens" not in data:
            # Small chunks get a small minimum rather than an error about the default.
            return {**data, "min_chunk_tokens": min(DEFAULT_MIN_CHUNK_TOKENS, size // 4)}
        return data

    @model_validator(mode="after")
    def _min_below_size(self) -> DocumentsSettings:
        if self.min_chunk_tokens > self.chunk_tokens:
            raise ValueError(
                f"min_chunk_tokens ({self.min_chunk_tokens}) is above chunk_tokens "
                f"({self.chunk_tokens})"
            )
        return self

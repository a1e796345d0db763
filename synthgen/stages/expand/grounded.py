"""The `grounded` strategy: one chunk of the user's documents (or two of one document, for
multi-hop questions) gives the facts, the seeds show only the shape, and the reply brings
verbatim quotes that the faithfulness checks (faithful.py) locate in the chunk."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from synthgen import prompts
from synthgen.documents.grounding import GroundingSettings
from synthgen.documents.model import Chunk, Document
from synthgen.llm.types import ChatRequest
from synthgen.prompts import Template
from synthgen.records import Seed
from synthgen.stages.expand.sources import Sources

TEMPLATE = "grounded"


class GroundedItem(BaseModel):
    """One question the model wrote from a chunk, as it returns it."""

    model_config = ConfigDict(extra="ignore")
    instruction: str = Field(min_length=1)
    answer: str
    quotes: list[str] = Field(min_length=1, max_length=3)
    answerable: bool


@dataclass(frozen=True)
class Grounding:
    """What a grounded job rests on: its chunks (two for multi-hop, of one document), that
    document, the corpus the checks look a stray quote up in, and the checks' settings."""

    chunks: tuple[Chunk, ...]
    document: Document
    sources: Sources
    settings: GroundingSettings
    chat: bool = False  # conversation seeds: the job writes conversations (grounded_chat.py)

    def source(self) -> dict[str, Any]:
        """`provenance.source` of what the job yields (its drops too): the document, its
        extracted text and the chunk, each by hash, so anyone can recompute the spans (a
        second chunk under `hop`)."""
        doc = self.document
        block: dict[str, Any] = {
            "document": doc.path,
            "document_sha256": doc.sha256,
            "parser": doc.parser,
            "parser_version": doc.parser_version,
            "text_sha256": doc.text_sha256,
            **_chunk_fields(self.chunks[0]),
        }
        if len(self.chunks) > 1:
            block["hop"] = _chunk_fields(self.chunks[1])
        return block


def _chunk_fields(c: Chunk) -> dict[str, Any]:
    return {
        "chunk_id": c.id,
        "chunk_span": [c.start, c.end],
        "chunk_sha256": c.sha256,
        "heading_path": list(c.heading_path),
    }


def grounded_schema(k: int) -> dict[str, Any]:
    """The reply's JSON schema: up to `k` questions, each with its answer and 1-3 quotes."""
    item = {
        "type": "object",
        "properties": {
            "instruction": {"type": "string"},
            "answer": {"type": "string"},
            "quotes": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 3},
            "answerable": {"type": "boolean"},
        },
        "required": ["instruction", "answer", "quotes", "answerable"],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {"items": {"type": "array", "items": item, "minItems": 0, "maxItems": k}},
        "required": ["items"],
        "additionalProperties": False,
    }


def _example(seed: Seed, n: int) -> str:
    """A seed as the prompt shows it: question, answer and its quotes when it has some."""
    lines = [f"Example {n}:", f"Question: {seed.instruction}"]
    if seed.input.strip():
        lines.append(f"Input: {seed.input}")
    lines.append(f"Answer: {seed.output}")
    quotes = seed.meta.get("quotes")
    for q in quotes if isinstance(quotes, list) else []:
        lines.append(f'Quote: "{q}"')
    return "\n".join(lines)


def chunk_block(chunk: Chunk) -> str:
    """A chunk as the prompt shows it; its heading path orients, outside the quotable text."""
    where = " > ".join(chunk.heading_path)
    head = f"Section: {where}\n" if where else ""
    return f'{head}<chunk id="{chunk.id}">\n{chunk.text}\n</chunk>'


def template() -> Template:
    """The grounded prompt template."""
    return prompts.load(TEMPLATE)


def grounded_request(
    rng: random.Random,
    seeds: Sequence[Seed],
    shown: int,
    k: int,
    task_line: str,
    grounding: Grounding,
    base: dict[str, Any],
    job_seed: int,
) -> tuple[ChatRequest, list[Seed]]:
    """The request of one grounded job and the seeds it shows."""
    examples = rng.sample(list(seeds), min(shown, len(seeds)))
    where = grounding.document.path
    if len(grounding.chunks) > 1:
        where += "; the question must need both parts"
    msgs = template().render(
        task=task_line,
        examples="\n\n".join(_example(s, i + 1) for i, s in enumerate(examples)),
        where=where,
        chunks="\n\n".join(chunk_block(c) for c in grounding.chunks),
        k=str(k),
    )
    req = ChatRequest(
        messages=msgs, seed=job_seed, json_schema=grounded_schema(k), schema_name="grounded", **base
    )
    return req, examples

"""`synthgen topics propose`: one generator request for a two-level topic map of the task,
informed by the seeds (cached and priced like any request), written as YAML the user edits;
`generation.axes.topic: topics.yaml` then states one `topic / subtopic` per call."""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from synthgen import prompts
from synthgen.config import Config
from synthgen.errors import ConfigError, EndpointError
from synthgen.llm.client import LLMClient
from synthgen.llm.structured import ParseFailure, parse_json
from synthgen.llm.types import Answer, ChatRequest
from synthgen.records import Seed
from synthgen.stages.expand.strategies import _task_line, format_example

SHOWN_SEEDS = 20  # seeds the request shows at most (a sample, seeded)
SEP = " / "  # between a topic and a subtopic, as prompts state them


class Topic(BaseModel):
    """A topic and its subtopics."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    name: str = Field(min_length=1)
    subtopics: list[str] = Field(default_factory=list)


def topics_schema(k: int, sub: int) -> dict[str, Any]:
    """The JSON schema of a reply holding `k` topics of `sub` subtopics each."""
    topic = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "subtopics": {
                "type": "array",
                "items": {"type": "string"},
                "minItems": sub,
                "maxItems": sub,
            },
        },
        "required": ["name", "subtopics"],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {"topics": {"type": "array", "items": topic, "minItems": k, "maxItems": k}},
        "required": ["topics"],
        "additionalProperties": False,
    }


def topics_request(cfg: Config, seeds: Sequence[Seed], k: int, sub: int) -> ChatRequest:
    """The one request: the task, a seeded sample of the seeds, and the shape wanted."""
    gen = cfg.generation
    rng = random.Random(f"synthgen:topics:{gen.seed}")
    shown = rng.sample(list(seeds), min(SHOWN_SEEDS, len(seeds)))
    msgs = prompts.load("topics").render(
        task=_task_line(cfg.task, cfg.description),
        examples="\n\n".join(format_example(s, i + 1) for i, s in enumerate(shown)),
        k=str(k),
        sub=str(sub),
    )
    return ChatRequest(
        messages=msgs,
        temperature=gen.temperature,
        top_p=gen.top_p,
        max_tokens=gen.max_new_tokens,
        seed=rng.randrange(2**31),
        json_schema=topics_schema(k, sub),
        schema_name="topics",
    )


async def propose(
    client: LLMClient, cfg: Config, seeds: Sequence[Seed], k: int, sub: int
) -> tuple[list[Topic], Answer]:
    """Ask for the map; its topics (names de-duplicated) and the answer (usage, cache)."""
    (a,) = await client.chat(topics_request(cfg, seeds, k, sub))
    try:
        data = parse_json(a.content or "")
        items = data.get("topics") if isinstance(data, dict) else None
        if not isinstance(items, list) or not items:
            raise ParseFailure('expected an object with a non-empty "topics" list')
        topics = [Topic.model_validate(t) for t in items]
    except (ParseFailure, ValidationError) as e:
        raise EndpointError(
            f"the generator's topic map is not usable: {str(e).splitlines()[0]}",
            hint="try another model (--model), or write topics.yaml by hand",
        ) from None
    seen: set[str] = set()
    out = []
    for t in topics:
        if t.name.strip().lower() not in seen:
            seen.add(t.name.strip().lower())
            subs = list(dict.fromkeys(s.strip() for s in t.subtopics if s.strip()))
            out.append(Topic(name=t.name.strip(), subtopics=subs))
    return out, a


def topics_yaml(topics: Sequence[Topic], note: str) -> str:
    """The map as the YAML file the user edits (`topics:` topic → subtopics)."""
    head = "".join(f"# {line}\n" for line in note.splitlines())
    body = yaml.safe_dump(
        {"topics": {t.name: list(t.subtopics) for t in topics}},
        sort_keys=False,
        allow_unicode=True,
        width=100,
    )
    return head + body


def read_topics(path: Path) -> tuple[str, ...]:
    """A topic map file's values: `topic / subtopic` for every subtopic (a topic without
    subtopics is one value)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not YAML ({e})", hint="fix the file's syntax") from None
    topics = data.get("topics") if isinstance(data, dict) else None
    if isinstance(topics, list):  # a plain list of topics is fine too
        topics = {str(t): [] for t in topics}
    if not isinstance(topics, dict):
        raise ConfigError(
            f"{path}: no `topics:` map", hint="topics: {Billing: [Refunds, Double charges]}"
        )
    values: list[str] = []
    for name, subs in topics.items():
        subs = subs if isinstance(subs, list) else []
        values += [f"{name}{SEP}{s}" for s in subs] or [str(name)]
    return tuple(dict.fromkeys(values))

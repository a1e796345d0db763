"""Expansion strategies: each turns a job number into one chat request, deterministically."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, overload

from pydantic import BaseModel, ConfigDict, Field

from synthgen import prompts
from synthgen.config import Config, GenerationConfig
from synthgen.errors import UsageError
from synthgen.llm.types import ChatRequest
from synthgen.records import PromptRef, Record, Seed

if TYPE_CHECKING:
    from synthgen.stages.expand.grounded import Grounding

Example = Seed | Record


class Task(BaseModel):
    """One generated example as the model returns it."""

    model_config = ConfigDict(extra="ignore")
    instruction: str = Field(min_length=1)
    input: str = ""
    output: str = ""
    tests: str = ""  # generation.with_tests: Python asserts that check the output's code


def generation_of(cfg: Config) -> GenerationConfig:
    """The generation settings as expand asks: tests beside each answer when the python
    check is configured, even without `generation.with_tests`."""
    gen = cfg.generation
    if cfg.filter.checks.python is not None and not gen.with_tests:
        return gen.model_copy(update={"with_tests": True})
    return gen


def _task_schema(with_output: bool, with_tests: bool = False) -> dict[str, Any]:
    props: dict[str, Any] = {"instruction": {"type": "string"}, "input": {"type": "string"}}
    if with_output:
        props["output"] = {"type": "string"}
    if with_output and with_tests:
        props["tests"] = {"type": "string"}
    return {
        "type": "object",
        "properties": props,
        "required": list(props),
        "additionalProperties": False,
    }


def tasks_schema(k: int, with_output: bool, with_tests: bool = False) -> dict[str, Any]:
    """The JSON schema of a reply holding exactly `k` tasks."""
    return {
        "type": "object",
        "properties": {
            "tasks": {
                "type": "array",
                "items": _task_schema(with_output, with_tests),
                "minItems": k,
                "maxItems": k,
            }
        },
        "required": ["tasks"],
        "additionalProperties": False,
    }


@dataclass(frozen=True)
class Job:
    """One unit of work: a request and where its answers come from."""

    index: int
    method: str
    operator: str | None
    parents: list[str]
    prompt: PromptRef
    request: ChatRequest
    # "list" (JSON {"tasks": [...]}), "one" (a single task object per choice) or
    # "conversations" (JSON {"conversations": [...]})
    shape: str
    with_output: bool
    origin: Example | None = None  # the example an evol/paraphrase job rewrites
    grounding: Grounding | None = None  # the chunk(s) a grounded job's facts come from
    axes: dict[str, str] | None = None  # the values its prompt states (stages/expand/axes.py)


class PoolView(Sequence[Record]):
    """The first `size` records of a list, without copying it."""

    def __init__(self, items: list[Record], size: int) -> None:
        self.items, self.size = items, size

    def __len__(self) -> int:
        return self.size

    @overload
    def __getitem__(self, i: int) -> Record: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[Record]: ...
    def __getitem__(self, i: int | slice) -> Record | Sequence[Record]:
        if isinstance(i, slice):
            return self.items[: self.size][i]
        if not -self.size <= i < self.size:
            raise IndexError(i)
        return self.items[i % self.size]


def format_example(ex: Example, n: int | None = None) -> str:
    """An example as prompts show it, numbered when `n` is given."""
    head = f"Example {n}:\n" if n is not None else ""
    parts = [f"{head}Instruction: {ex.instruction}"]
    if ex.input.strip():
        parts.append(f"Input: {ex.input}")
    parts.append(f"Output: {ex.output}")
    return "\n".join(parts)


def job_rng(seed: int, index: int) -> random.Random:
    """The job's own random generator, derived from the run seed and the job number."""
    # Per job, so a rerun asks exactly the same requests whatever order jobs complete in.
    return random.Random(f"synthgen:{seed}:{index}")


def _weighted(
    rng: random.Random, seeds: list[Seed], weights: Sequence[float], k: int
) -> list[Seed]:
    """`k` distinct seeds, each drawn with probability proportional to its weight."""
    left = list(range(len(seeds)))
    chosen: list[Seed] = []
    for _ in range(k):
        i = rng.choices(range(len(left)), [weights[j] for j in left])[0]
        chosen.append(seeds[left.pop(i)])
    return chosen


def _task_line(task: str, description: str) -> str:
    named = task if task and task != "default" else ""
    if named and description:
        return f"{named} — {description}"
    return named or description or "the task that the examples below demonstrate"


def make_job(
    index: int,
    gen: GenerationConfig,
    seeds: list[Seed],
    pool: Sequence[Record],
    task: str,
    description: str = "",
    weights: Sequence[float] | None = None,
    ground: Callable[[int], Grounding] | None = None,
) -> Job:
    """Job `index` of the configured strategy (`_make_job`); with `gen.with_tests`, the
    request also asks for tests beside each answer (a `tests` field, prompts/with_tests.txt)."""
    job = _make_job(index, gen, seeds, pool, task, description, weights, ground)
    if not gen.with_tests or not _has_tests_field(job.request.json_schema):
        return job  # separate responses, conversations, grounded: no tests field to fill
    msgs = [dict(m) for m in job.request.messages]
    ask = prompts.load("with_tests").user.strip()
    msgs[-1]["content"] = f"{msgs[-1]['content']}\n\n{ask}"
    return dataclasses.replace(job, request=job.request.model_copy(update={"messages": msgs}))


def _has_tests_field(schema: dict[str, Any] | None) -> bool:
    if not schema:
        return False
    items = (schema.get("properties") or {}).get("tasks", {}).get("items") or schema
    return "tests" in (items.get("properties") or {})


def _make_job(
    index: int,
    gen: GenerationConfig,
    seeds: list[Seed],
    pool: Sequence[Record],
    task: str,
    description: str = "",
    weights: Sequence[float] | None = None,
    ground: Callable[[int], Grounding] | None = None,
) -> Job:
    """Job `index` of the configured strategy, drawing examples from seeds and `pool`
    (human seeds by `weights` when given: `run` leans toward under-used seeds; the chunks
    of a grounded job from `ground`)."""
    rng = job_rng(gen.seed, index)
    # K responses to an instruction are K calls: the instructions are asked for alone
    separate = gen.responses == "separate" or gen.responses_per_instruction > 1
    base = {"temperature": gen.temperature, "top_p": gen.top_p, "max_tokens": gen.max_new_tokens}
    job_seed = rng.randrange(2**31)
    if gen.strategy == "conversation":
        from synthgen.stages.expand.conversations import conversation_request

        line = _task_line(task, description)
        req, shown, tpl = conversation_request(
            rng, seeds, gen.human_examples, gen.per_call, line, base, job_seed
        )
        parents = [_ref(s) for s in shown]
        return Job(index, "conversation", None, parents, tpl.ref, req, "conversations", True)
    if gen.strategy == "grounded":
        from synthgen.stages.expand.grounded import grounded_request, template
        from synthgen.stages.expand.grounded_chat import METHOD, TEMPLATE, chat_request, is_chat

        if ground is None:
            raise UsageError(
                "the grounded strategy needs documents", hint="pass --documents PATH..."
            )
        g = ground(index)
        line = _task_line(task, description)
        if is_chat(seeds) and gen.responses_per_instruction > 1:
            raise UsageError(
                "K responses work with grounded questions, not grounded conversations",
                hint="give question/answer seeds, or set responses_per_instruction: 1",
            )
        if is_chat(seeds):  # conversation seeds: grounded conversations (grounded_chat.py)
            g = dataclasses.replace(g, chat=True)
            req, shown = chat_request(
                rng, seeds, gen.human_examples, gen.per_call, line, g, base, job_seed
            )
            ref, method = prompts.load(TEMPLATE).ref, METHOD
        else:
            req, shown = grounded_request(
                rng, seeds, gen.human_examples, gen.per_call, line, g, base, job_seed
            )
            ref, method = template().ref, "grounded"
        parents = [_ref(s) for s in shown]
        return Job(index, method, None, parents, ref, req, "grounded", True, grounding=g)
    if gen.strategy == "self-instruct":
        k = min(gen.human_examples, len(seeds))
        humans = rng.sample(seeds, k) if weights is None else _weighted(rng, seeds, weights, k)
        picks = rng.sample(range(len(pool)), min(gen.machine_examples, len(pool)))
        machines = [pool[i] for i in picks]
        examples: list[Example] = [*humans, *machines]
        rng.shuffle(examples)
        tpl = prompts.load("self_instruct_no_output" if separate else "self_instruct")
        msgs = tpl.render(
            task=_task_line(task, description),
            examples="\n\n".join(format_example(e, i + 1) for i, e in enumerate(examples)),
            k=str(gen.per_call),
        )
        req = ChatRequest(
            messages=msgs,
            seed=job_seed,
            json_schema=tasks_schema(gen.per_call, not separate, gen.with_tests),
            schema_name="tasks",
            **base,
        )
        parents = [_ref(e) for e in examples]
        return Job(index, "self-instruct", None, parents, tpl.ref, req, "list", not separate)
    if gen.strategy == "paraphrase":
        origin: Example = seeds[index % len(seeds)]
        tpl = prompts.load("paraphrase")
        msgs = tpl.render(
            task=_task_line(task, description),
            example=format_example(origin),
            k=str(gen.per_call),
        )
        req = ChatRequest(
            messages=msgs,
            seed=job_seed,
            json_schema=tasks_schema(gen.per_call, True, gen.with_tests),
            schema_name="tasks",
            **base,
        )
        return Job(index, "paraphrase", None, [_ref(origin)], tpl.ref, req, "list", True, origin)
    # evol: rewrite one parent with one operator; per_call choices through `n`.
    pick = rng.randrange(len(seeds) + len(pool))
    origin = seeds[pick] if pick < len(seeds) else pool[pick - len(seeds)]
    operator = gen.operators[rng.randrange(len(gen.operators))]
    tpl = prompts.evol(operator)
    msgs = tpl.render(
        task=_task_line(task, description),
        instruction=origin.instruction,
        input=origin.input or "(none)",
    )
    req = ChatRequest(
        messages=msgs,
        seed=job_seed,
        json_schema=_task_schema(True, gen.with_tests),
        schema_name="task",
        n=gen.per_call,
        **base,
    )
    return Job(index, "evol", operator, [_ref(origin)], tpl.ref, req, "one", True, origin)


def respond_request(task: Task, gen: GenerationConfig, seed: int) -> tuple[ChatRequest, PromptRef]:
    """The request that writes the output of an instruction generated on its own."""
    tpl = prompts.load("respond")
    msgs = tpl.render(instruction=task.instruction, input=task.input)
    req = ChatRequest(
        messages=msgs,
        temperature=gen.temperature,
        top_p=gen.top_p,
        max_tokens=gen.max_new_tokens,
        seed=seed,
    )
    return req, tpl.ref


def _ref(ex: Example) -> str:
    return ex.ref if isinstance(ex, Seed) else ex.id

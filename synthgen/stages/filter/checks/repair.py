"""`filter.checks.repair: 1`: one repair request for a record that failed a check.

The generator is shown the record, its failed answer and the executor's own message (the
SQLite error, the schema path, the failing test); the answer it sends back must pass the
same checks, else the record is dropped under the check's reason with the repair noted.
The request goes through the client like any other: it is cached (a resumed or offline run
replays it), counted, and priced against the same budget.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from synthgen.llm.structured import ParseFailure, parse_json
from synthgen.llm.types import ChatRequest
from synthgen.prompts import load
from synthgen.stages.filter.checks.runner import Checks, Failure

if TYPE_CHECKING:
    from synthgen.config import GenerationConfig
    from synthgen.llm.client import LLMClient

TEMPLATE = "check_repair"
REPLY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"output": {"type": "string"}},
    "required": ["output"],
    "additionalProperties": False,
}


@dataclass
class RepairStats:
    """How many repairs were asked, and how many answers then passed every check."""

    asked: int = 0
    repaired: int = 0
    by_check: dict[str, list[int]] = field(default_factory=dict)  # check → [asked, repaired]

    def as_json(self) -> dict[str, Any]:
        """The counts, overall and per check (the summary's and manifest's checks block)."""
        per = {k: {"asked": a, "repaired": r} for k, (a, r) in sorted(self.by_check.items())}
        return {"asked": self.asked, "repaired": self.repaired, "by_check": per}


@dataclass(frozen=True)
class Repair:
    """A repair's outcome: the new answer (None: the reply was unusable), what it failed
    (None: it passed every check), and `provenance.repair`."""

    output: str | None
    failure: Failure | None
    note: dict[str, Any]

    @property
    def passed(self) -> bool:
        """Whether the repaired answer passed every check."""
        return self.output is not None and self.failure is None


def repair_request(
    instruction: str, input: str, output: str, tests: str, failed: Failure, gen: GenerationConfig
) -> ChatRequest:
    """The one repair request: the record, its failed answer and the executor's message."""
    check, reason, message = failed
    shown_tests = f"\nThe tests it must pass:\n{tests}\n" if tests.strip() else ""
    messages = load(TEMPLATE).render(
        instruction=instruction,
        input=input or "(none)",
        output=output,
        tests=shown_tests,
        check=check,
        reason=reason,
        message=message,
    )
    return ChatRequest(
        messages=messages,
        temperature=gen.temperature,
        top_p=gen.top_p,
        max_tokens=gen.max_new_tokens,
        seed=gen.seed,
        json_schema=REPLY_SCHEMA,
        schema_name="repair",
    )


class Repairer:
    """Asks the generator once to fix a record a check failed, then checks the answer again."""

    def __init__(self, checks: Checks, client: LLMClient, gen: GenerationConfig) -> None:
        self.checks, self.client, self.gen = checks, client, gen
        self.stats = RepairStats()

    async def repair(
        self, instruction: str, input: str, output: str, meta: Any, failed: Failure
    ) -> Repair:
        """One request; the reply's `output` must pass the same checks (counted apart from
        the first attempts, so a check's pass rate stays the first answers')."""
        subject = self.checks.subject(instruction, input, output, meta)
        req = repair_request(instruction, input, output, subject.tests, failed, self.gen)
        answer = (await self.client.chat(req, followup=True))[0]
        st = self.stats
        st.asked += 1
        per = st.by_check.setdefault(failed[0], [0, 0])
        per[0] += 1
        u = answer.usage
        note: dict[str, Any] = {
            "check": failed[0],
            "reason": failed[1],
            "first_failure": failed[2][:500],
            "model": self.client.model,
            "template": TEMPLATE,
            "template_sha256": load(TEMPLATE).sha256,
            "request_key": answer.key,
            "usage": {
                "prompt_tokens": u.prompt_tokens,
                "completion_tokens": u.completion_tokens,
                "cost_usd": u.cost_usd,
            },
        }
        new = _output_of(answer.content or "")
        if new is None:
            note["result"] = "unusable reply: no JSON object with a string output"
            return Repair(None, None, note)
        again = self.checks.check(self.checks.subject(instruction, input, new, meta), count=False)
        if again is not None:
            note["result"] = f"still fails {again[0]}: {again[1]}: {again[2][:300]}"
            return Repair(new, again, note)
        note["result"] = "passed"
        st.repaired += 1
        per[1] += 1
        return Repair(new, None, note)


def _output_of(content: str) -> str | None:
    try:
        data = parse_json(content)
    except ParseFailure:
        return None
    value = data.get("output") if isinstance(data, dict) else None
    return value if isinstance(value, str) and value.strip() else None

"""Judge economy: what does not change comes first, byte for byte, and the candidate last, so
an endpoint's prompt cache can serve the shared prefix; cached prompt tokens are recorded
and priced at `cached_input`."""

from __future__ import annotations

import orjson
import pytest

from synthgen.llm.cost import Budget, cost_of
from synthgen.llm.types import WireCompletion
from synthgen.llm.wire import call_kwargs, completion_answers
from synthgen.records import Price, Usage
from synthgen.stages.filter.judge import Judge, Rubric, load_rubric
from synthgen.stages.filter.preference import comparison_request
from synthgen.stages.filter.verdicts import Reference


def _judge(reference: Reference | None = None) -> Judge:
    rubric: Rubric = load_rubric(None)
    return Judge(rubric, [], 3.5, 400, reference)


def _wire(messages: list[dict[str, str]]) -> bytes:
    return orjson.dumps(messages)


def _shared(a: bytes, b: bytes) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


@pytest.mark.parametrize("path", ["json_schema", "json_object", "prompted"])
@pytest.mark.parametrize("grounded", [False, True])
def test_two_candidates_share_the_judge_prompt_up_to_the_candidate(
    path: str, grounded: bool
) -> None:
    ref = Reference(facts=["Water boils at 100 C at sea level."], sha256="r") if grounded else None
    judge = _judge(ref)
    one = judge.request("Name a colour.", "", "Blue.")
    two = judge.request("Explain tides.", "for a child", "The moon pulls the sea.")
    a = _wire(call_kwargs("m", one, 1, 0, path)["messages"])  # type: ignore[arg-type]
    b = _wire(call_kwargs("m", two, 1, 0, path)["messages"])  # type: ignore[arg-type]
    n = _shared(a, b)
    # Everything before the candidate's instruction is the same bytes: the instructions,
    # the rubric, the reference facts and the user turn's lead-in.
    assert a[:n].endswith(b"<instruction>\\n") and b"Name a colour." not in a[:n]
    assert a.index(b"Name a colour.") == n and b.index(b"Explain tides.") == n
    system = one.messages[0]["content"]
    assert "Rubric" in system and (not grounded or "Water boils" in system)
    assert n > len(system)


def test_two_pairs_share_the_comparison_prompt_up_to_the_pair() -> None:
    judge = _judge()
    one = comparison_request(judge, "Name a colour.", "", "Blue.", "Red.")
    two = comparison_request(judge, "Explain tides.", "", "The moon.", "The sun.")
    a, b = _wire(one.messages), _wire(two.messages)
    n = _shared(a, b)
    assert a.index(b"Name a colour.") == n and n > len(one.messages[0]["content"])


def test_cached_prompt_tokens_are_priced_at_cached_input_or_input() -> None:
    full = Price(input=2.0, output=8.0)
    cheap = Price(input=2.0, output=8.0, cached_input=0.5)
    assert cost_of(full, 1000, 100, 800) == cost_of(full, 1000, 100)  # default: input price
    assert cost_of(cheap, 1000, 100, 800) == pytest.approx((200 * 2 + 800 * 0.5 + 800) / 1e6)
    assert cost_of(cheap, 1000, 100, 5000) == cost_of(cheap, 1000, 100, 1000)  # capped
    budget = Budget(cheap)
    r = budget.reserve(1000, 100)
    assert budget.settle(r, 1000, 100, 800) == pytest.approx(cost_of(cheap, 1000, 100, 800))


def test_usage_bytes_change_only_when_tokens_were_cached() -> None:
    plain = Usage(prompt_tokens=5, completion_tokens=2, cost_usd=0.0)
    assert plain.model_dump() == {"prompt_tokens": 5, "completion_tokens": 2, "cost_usd": 0.0}
    hit = Usage(prompt_tokens=5, completion_tokens=2, cached_tokens=4)
    assert hit.model_dump(mode="json")["cached_tokens"] == 4
    assert (plain + hit).cached_tokens == 4
    assert Usage.model_validate(hit.model_dump()) == hit
    assert Price(input=1, output=2).model_dump() == {"input": 1, "output": 2}
    assert Price(input=1, output=2, cached_input=0.1).model_dump()["cached_input"] == 0.1


def test_cached_tokens_are_read_from_prompt_tokens_details() -> None:
    body = {
        "choices": [{"index": 0, "message": {"content": "x"}, "finish_reason": "stop"}],
        "usage": {
            "prompt_tokens": 1200,
            "completion_tokens": 10,
            "prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 0},
        },
    }
    completion = WireCompletion.model_validate(body)
    assert completion.usage is not None and completion.usage.cached_tokens == 1024
    (a,) = completion_answers(completion, "m", None, "none", (1200, 10, 0.0))
    assert a.usage.cached_tokens == 1024
    del body["usage"]["prompt_tokens_details"]  # type: ignore[attr-defined]
    assert WireCompletion.model_validate(body).usage.cached_tokens == 0  # type: ignore[union-attr]

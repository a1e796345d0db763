"""generation.axes and coverage steering, with no endpoint: values read from the config and
files, draws that repeat, the prompt's statement, quotas, allocation, hard cells."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from synthgen.config import Config, GenerationConfig
from synthgen.errors import ConfigError
from synthgen.llm.types import ChatRequest
from synthgen.pipeline.steering import Steering, largest_remainder
from synthgen.records import PromptRef, Provenance, Record, Usage
from synthgen.settings.axes import AxisRange, CoverageConfig
from synthgen.stages.expand.axes import HEADING, Axis, draw, load_axes, with_axes
from synthgen.stages.expand.strategies import Job
from synthgen.standin.axes import attribute_tags, axis_fail_pin


def _gen(axes: dict[str, object]) -> GenerationConfig:
    return GenerationConfig.model_validate({"axes": axes})


def test_axes_read_values_weights_ranges_and_files(tmp_path: Path) -> None:
    (tmp_path / "products.txt").write_text("kettle\n\ntoaster\nkettle\n")
    (tmp_path / "personas.jsonl").write_text(
        '{"name": "Ana", "job": "nurse", "age": 34}\n"a retired sailor"\n'
    )
    (tmp_path / "tones.csv").write_text("tone,note\nterse,short\nwarm,\n")
    gen = _gen(
        {
            "difficulty": ["easy", "hard"],
            "channel": {"email": 2, "chat": 1},
            "n": {"min": 1, "max": 5},
            "product": "products.txt",
            "persona": {"file": "personas.jsonl", "fields": ["name", "job"]},
            "tone": "tones.csv",
        }
    )
    axes = {a.name: a for a in load_axes(gen, tmp_path)}
    assert axes["difficulty"].values == ("easy", "hard")
    assert axes["channel"].weights == (2.0, 1.0)
    assert axes["n"].span == AxisRange(min=1, max=5) and not axes["n"].categorical
    assert axes["product"].values == ("kettle", "toaster")
    assert axes["persona"].values == ("name: Ana; job: nurse", "a retired sailor")
    assert axes["tone"].values == ("tone: terse; note: short", "tone: warm")


def test_a_missing_axis_file_or_bad_weights_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no file"):
        load_axes(_gen({"persona": "nope.jsonl"}), tmp_path)
    with pytest.raises(ConfigError, match="weights"):
        load_axes(_gen({"channel": {"email": 0}}), tmp_path)


def test_draws_repeat_by_seed_and_job_follow_weights_and_stay_in_range() -> None:
    axes = (
        Axis("channel", ("email", "chat"), (9.0, 1.0)),
        Axis("n", span=AxisRange(min=2, max=4)),
        Axis("x", span=AxisRange(min=0, max=1, step=0.25)),
    )
    assert draw(axes, 7, 3) == draw(axes, 7, 3)
    drawn = [draw(axes, 7, i) for i in range(400)]
    assert drawn != [draw(axes, 8, i) for i in range(400)]
    assert Counter(d["channel"] for d in drawn)["email"] > 300
    assert {d["n"] for d in drawn} == {"2", "3", "4"}
    assert {d["x"] for d in drawn} == {"0", "0.25", "0.5", "0.75", "1"}
    # a fixed value leaves the other axes' draws where they were
    fixed = draw(axes, 7, 3, {"channel": "chat"})
    assert fixed == draw(axes, 7, 3) | {"channel": "chat"}


def test_the_prompt_states_the_values_and_the_job_records_them() -> None:
    req = ChatRequest(
        messages=[{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]
    )
    job = Job(
        0,
        "self-instruct",
        None,
        [],
        PromptRef(template="t", template_sha256="x"),
        req,
        "list",
        True,
    )
    out = with_axes(job, {"difficulty": "hard", "channel": "email"})
    assert out.axes == {"difficulty": "hard", "channel": "email"}
    text = out.request.messages[-1]["content"]
    assert text.endswith(f"{HEADING}\n- difficulty: hard\n- channel: email")
    assert with_axes(job, None) is job
    # the stand-in reads the statement back: its instructions carry the values
    assert attribute_tags(out.request.messages) == " [difficulty: hard; channel: email]"
    judged = [
        {"role": "user", "content": "<instruction>\nDo it [difficulty: hard]\n</instruction>"}
    ]
    fails = axis_fail_pin(judged, "difficulty: hard", 1.0)
    assert fails is not None and fails(1, 5) == 1
    assert axis_fail_pin(judged, "difficulty: easy", 1.0) is None


def test_largest_remainder_sums_to_the_total() -> None:
    assert largest_remainder(240, [1.0] * 12) == [20] * 12
    assert largest_remainder(10, [1.0, 1.0, 1.0]) == [4, 3, 3]
    assert sum(largest_remainder(101, [2.0, 1.0, 0.5])) == 101


def _steering(target: int = 24, **cov: object) -> Steering:
    axes = (Axis("d", ("easy", "hard")), Axis("c", ("email", "chat", "phone")))
    return Steering(axes, CoverageConfig.model_validate(cov), target)


def _rec(i: int, d: str, c: str) -> Record:
    prov = Provenance(
        run_id="r", created_at="", synthgen_version="0", config_sha256="x", method="m",
        parents=[], usage=Usage(), axes={"d": d, "c": c},
    )  # fmt: skip
    return Record(
        id=f"sg_{i}", instruction=f"write note {i} about thing {i * 7}", output="o", provenance=prov
    )


def test_quotas_follow_shares_and_a_full_cell_takes_no_more() -> None:
    s = _steering(30, shares={"d": {"easy": 2, "hard": 1}})
    quotas = {c: st.quota for c, st in s.state.items()}
    assert quotas[("easy", "email")] == 7 and quotas[("hard", "email")] == 3
    assert sum(quotas.values()) == 30
    for i in range(3):
        assert s.admit(_rec(i, "hard", "email")) is None
        assert s.take(_rec(i, "hard", "email")) is None
    assert s.admit(_rec(9, "hard", "email")) == "d=hard, c=email has its 3 kept"


def test_calls_go_to_the_cells_short_of_quota_in_proportion_to_need() -> None:
    s = _steering(24)  # 6 cells of 4
    for i in range(4):
        s.admit(_rec(i, "easy", "email"))
        s.take(_rec(i, "easy", "email"))
    order = s.plan(calls=10, per_call=2, rate=1.0)
    assert ("easy", "email") not in order and len(order) == 10
    assert {d["reason"] for d in s.decisions} == {"under_quota"}
    assert sum(d["calls"] for d in s.decisions) == 10
    # the round's calls state their cells' values, in the planned order
    s.order = order
    values = s.drawer(5)
    assert [tuple(values(j)[a] for a in ("d", "c")) for j in range(10)] == order


def test_a_cell_that_keeps_failing_becomes_hard_and_its_share_goes_to_the_others() -> None:
    s = _steering(24, max_asked=2)
    for i in range(8):  # 8 candidates = 2 × its quota of 4, none kept
        s.admit(_rec(i, "hard", "phone"))
    s.plan(calls=6, per_call=2, rate=0.5)
    assert s.decisions[0]["reason"] == "hard" and s.decisions[0]["cell"] == "d=hard, c=phone"
    assert s.caps is not None and s.caps[("hard", "phone")] == 0
    assert sum(s.caps.values()) == 24
    assert s.summary()["cells"][-1]["hard"] is True


def test_coverage_over_an_unknown_or_numeric_axis_is_a_config_error() -> None:
    axes = (Axis("d", ("a", "b")), Axis("n", span=AxisRange(min=1, max=3)))
    with pytest.raises(ConfigError, match="'n'"):
        Steering(axes, CoverageConfig(over=["n"]), 10)
    with pytest.raises(ConfigError, match="'zz'"):
        Steering(axes, CoverageConfig(shares={"zz": {"a": 1}}), 10)


def test_axes_and_coverage_load_from_a_config(tmp_path: Path) -> None:
    cfg = Config.model_validate(
        {"generation": {"axes": {"d": ["a", "b"]}, "coverage": {}}, "target": {"count": 5}}
    )
    from synthgen.pipeline.steering import steering_for

    s = steering_for(cfg)
    assert s is not None and sum(st.quota for st in s.state.values()) == 5


def test_cell_gates_trip_on_uncovered_cells_and_a_dominant_cell() -> None:
    from synthgen.config import GatesConfig
    from synthgen.pipeline.steering import cell_gate

    s = _steering(12)  # 6 cells of 2
    for i in range(4):
        s.admit(_rec(i, "easy", "email"))
        s.caps = None  # let one cell take more than its quota, as a run without caps could
        s.take(_rec(i, "easy", "email"))
    low = cell_gate(GatesConfig(min_cell_coverage=0.5), s)
    assert low is not None and low.gate == "min_cell_coverage" and low.measured == round(1 / 6, 4)
    assert cell_gate(GatesConfig(max_cell_share=1.0), s) is None  # all four in one cell
    tripped = cell_gate(GatesConfig(max_cell_share=0.5), s)
    assert tripped is not None and tripped.gate == "max_cell_share" and tripped.measured == 1.0
    assert cell_gate(GatesConfig(), s) is None

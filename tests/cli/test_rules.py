"""Every rule filter: unit checks on constructed candidates, and through `filter --no-judge`."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.filter_fixtures import counts_add_up, filter_args, synthgen_record, write_jsonl
from support.helpers import read_jsonl, run

from synthgen.config import RulesConfig, TaskRules
from synthgen.errors import UsageError
from synthgen.stages.filter.rules import RULE_NAMES, Candidate, Rules

GOOD_INSTR = "Summarise the following support ticket in one sentence."
GOOD_OUT = "The customer was charged twice for one order and wants a refund."

# One candidate per rule that fails exactly that rule (first in check order).
CASES: dict[str, tuple[Candidate, RulesConfig]] = {
    "empty_output": (Candidate(GOOD_INSTR, "", "  \n\t "), RulesConfig()),
    "truncated": (Candidate(GOOD_INSTR, "", GOOD_OUT, ("length",)), RulesConfig()),
    "instruction_too_short": (Candidate("Summarise this.", "", GOOD_OUT), RulesConfig()),
    "instruction_too_long": (Candidate("word " * 151, "", GOOD_OUT), RulesConfig()),
    "leading_punctuation": (
        Candidate("- Summarise the ticket below please.", "", GOOD_OUT),
        RulesConfig(),
    ),
    "nonprintable_start": (
        Candidate("\u200bSummarise the ticket below please.", "", GOOD_OUT),
        RulesConfig(),
    ),
    "blacklisted_keyword": (
        Candidate("Draw a picture of the ticket flow.", "", GOOD_OUT),
        RulesConfig(),
    ),
    "output_equals_input": (
        Candidate(GOOD_INSTR, "My order never came.", " my order  never came. "),
        RulesConfig(),
    ),
    "output_equals_instruction": (Candidate(GOOD_INSTR, "", GOOD_INSTR.upper()), RulesConfig()),
    "refusal": (
        Candidate(GOOD_INSTR, "", "As an AI language model, I cannot do that."),
        RulesConfig(),
    ),
    "output_not_json": (Candidate(GOOD_INSTR, "", "{not json"), RulesConfig(output_format="json")),
    "output_not_a_label": (
        Candidate(GOOD_INSTR, "", "maybe"),
        RulesConfig(output_format="label", labels=["billing", "shipping"]),
    ),
    "output_regex_mismatch": (
        Candidate(GOOD_INSTR, "", "priority: high"),
        RulesConfig(output_format="regex", output_regex=r"P[0-4]"),
    ),
}


def test_cases_cover_every_rule() -> None:
    assert set(CASES) == set(RULE_NAMES)


@pytest.mark.parametrize("name", RULE_NAMES)
def test_each_rule_fails_its_case_and_can_be_disabled(name: str) -> None:
    cand, cfg = CASES[name]
    failed = Rules(cfg).check(cand)
    assert failed is not None and failed[0] == name, failed
    assert failed[1]  # a detail for the ledger
    again = Rules(cfg.model_copy(update={"disable": [name]})).check(cand)
    assert again is None or again[0] != name


def test_clean_candidates_pass() -> None:
    rules = Rules(RulesConfig())
    assert rules.check(Candidate(GOOD_INSTR, "", GOOD_OUT)) is None
    # Whole words only: "profile" and "mapping" are not "file" and "map".
    assert (
        rules.check(Candidate("Update the profile mapping for this user account.", "", GOOD_OUT))
        is None
    )
    # Opening quotes are not "leading punctuation"; a JSON/label/regex output passes its check.
    assert (
        rules.check(Candidate('"Hello" means what in French? Answer briefly.', "", "Bonjour."))
        is None
    )
    assert (
        Rules(RulesConfig(output_format="json")).check(Candidate(GOOD_INSTR, "", '{"a": 1}'))
        is None
    )
    labels = RulesConfig(output_format="label", labels=["Billing", "Shipping"])
    assert Rules(labels).check(Candidate(GOOD_INSTR, "", " billing ")) is None
    regex = RulesConfig(output_format="regex", output_regex=r"P[0-4]")
    assert Rules(regex).check(Candidate(GOOD_INSTR, "", "P2")) is None
    assert Rules(RulesConfig(enabled=False)).check(CASES["empty_output"][0]) is None


@pytest.mark.parametrize(
    "output",
    [
        "I\u2019m sorry, but I can\u2019t help with that request.",  # typographic apostrophes
        "I'm SORRY,  but I\ncan't help with that.",
    ],
)
def test_refusals_match_either_apostrophe_any_case_and_spacing(output: str) -> None:
    failed = Rules(RulesConfig()).check(Candidate(GOOD_INSTR, "", output))
    assert failed is not None and failed[0] == "refusal", failed
    custom = RulesConfig(refusal_phrases=["I won\u2019t do"])
    assert Rules(custom).check(Candidate(GOOD_INSTR, "", "Sorry, I won't do it."))[0] == "refusal"  # type: ignore[index]


def test_word_bounds_and_blacklist_are_configurable_and_per_task() -> None:
    cfg = RulesConfig(
        min_words=2,
        blacklist=["refund"],
        tasks={"drawing": TaskRules(blacklist=[], output_format="label", labels=["yes", "no"])},
    )
    rules = Rules(cfg)
    assert rules.check(Candidate("Summarise this.", "", GOOD_OUT)) is None
    assert (
        rules.check(Candidate("Issue a refund to the customer now.", "", GOOD_OUT))[0]
        == "blacklisted_keyword"
    )  # type: ignore[index]
    draw = Candidate("Draw a picture of the ticket flow.", "", "yes")
    assert rules.check(draw) is None  # default blacklist replaced
    assert rules.check(draw, "drawing") is None
    assert rules.check(Candidate(GOOD_INSTR, "", "perhaps"), "drawing")[0] == "output_not_a_label"  # type: ignore[index]
    assert rules.check(Candidate(GOOD_INSTR, "", "perhaps"), "other") is None


@pytest.mark.parametrize(
    ("cfg", "message"),
    [
        (RulesConfig(disable=["nope"]), "unknown rules"),
        (RulesConfig(min_words=10, max_words=5), "min_words"),
        (RulesConfig(output_format="label"), "needs labels"),
        (RulesConfig(output_format="regex", output_regex="(unclosed"), "invalid output regex"),
        (
            RulesConfig(tasks={"triage": TaskRules(output_format="label")}),
            "rules of task 'triage': output format 'label' needs labels",
        ),
    ],
)
def test_bad_rule_settings_are_usage_errors(cfg: RulesConfig, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        Rules(cfg)


def test_filter_no_judge_ledgers_every_rule_by_name(tmp_path: Path) -> None:
    records = [
        synthgen_record(GOOD_INSTR, GOOD_OUT),
        synthgen_record(GOOD_INSTR, "   "),
        synthgen_record(GOOD_INSTR + " Be brief.", GOOD_OUT, finish_reason="length"),
        synthgen_record("Summarise this.", GOOD_OUT),
        synthgen_record("word " * 151, GOOD_OUT),
        synthgen_record("- Summarise the ticket below please.", GOOD_OUT),
        synthgen_record("\x07Summarise the ticket below please.", GOOD_OUT),
        synthgen_record("Describe the video attached to this ticket.", GOOD_OUT),
        synthgen_record(GOOD_INSTR, "Order 7 is late.", "Order 7 is late."),
        synthgen_record(GOOD_INSTR, GOOD_INSTR),
        synthgen_record(GOOD_INSTR, "I'm sorry, but I can't help with that request."),
        synthgen_record("Classify the urgency of this ticket please.", "urgent", task="triage"),
        synthgen_record("Classify the urgency of this ticket now.", "P9", task="triage"),
        synthgen_record(GOOD_INSTR, GOOD_OUT),  # the same record again
    ]
    inp = write_jsonl(tmp_path / "raw.jsonl", records)
    cfg = tmp_path / "rules.yaml"
    cfg.write_text(
        "filter:\n  rules:\n    tasks:\n      triage:\n"
        "        output_format: label\n        labels: [urgent, normal, low]\n"
    )
    out = tmp_path / "kept.jsonl"
    r = run(
        [
            *filter_args(inp, out, "http://127.0.0.1:9/v1", "--no-judge", "--json"),
            "--config",
            str(cfg),
        ]
    )
    assert r.code == 0, r.stderr
    s = r.json()
    ledger = read_jsonl(tmp_path / "kept.ledger.jsonl")
    reasons = [e["dropped"]["reason"] for e in ledger]
    assert reasons == [
        "empty_output",
        "truncated",
        "instruction_too_short",
        "instruction_too_long",
        "leading_punctuation",
        "nonprintable_start",
        "blacklisted_keyword",
        "output_equals_input",
        "output_equals_instruction",
        "refusal",
        "output_not_a_label",
        "duplicate_id",
    ]
    assert {e["dropped"]["stage"] for e in ledger} == {"rules"}
    kept = read_jsonl(out)
    assert [k["output"] for k in kept] == [GOOD_OUT, "urgent"]
    assert s["judge"] is None and s["requests"]["sent"] == 0
    counts_add_up(s, ledger, 2)
    # The ledger keeps the record's own provenance.
    assert ledger[1]["provenance"]["generator"]["finish_reason"] == "length"
    manifest = (tmp_path / "kept.manifest.json").read_text()
    assert '"dropped_total": 12' in manifest


def test_cli_rule_flags(tmp_path: Path) -> None:
    rows = [
        {"instruction": "Plot the sales numbers for this quarter.", "output": "Done as asked."},
        {"instruction": "Name it.", "output": '{"name": "x"}'},
        {"instruction": "Give the ticket a priority code please.", "output": "not json"},
    ]
    inp = write_jsonl(tmp_path / "a.jsonl", rows)
    out = tmp_path / "kept.jsonl"
    args = filter_args(inp, out, "http://127.0.0.1:9/v1", "--no-judge", "--json")
    r = run([*args, "--blacklist", "", "--min-words", "2", "--output-format", "json"])
    assert r.code == 0, r.stderr
    assert r.json()["counts"]["dropped"] == {"rules": {"output_not_json": 2}}
    r = run([*args, "--disable-rule", "blacklisted_keyword", "--min-words", "3"])
    assert r.json()["counts"]["dropped"] == {"rules": {"instruction_too_short": 1}}
    r = run([*args, "--output-format", "label"])
    assert r.code == 2 and "needs labels" in r.stderr and "Traceback" not in r.stderr


def test_identical_instances_on_one_line_are_each_accounted_for(tmp_path: Path) -> None:
    inst = {"input": "", "output": "Paris."}
    task = {
        "id": "t1",
        "name": "capital",
        "instruction": "Name the capital city of France in one word.",
        "instances": [inst, inst, inst, {"input": "", "output": "As an AI language model, no."}],
        "is_classification": False,
    }
    inp = write_jsonl(tmp_path / "tasks.jsonl", [task])
    out = tmp_path / "kept.jsonl"
    r = run(filter_args(inp, out, "http://127.0.0.1:9/v1", "--no-judge", "--json"))
    assert r.code == 0, r.stderr
    ledger = read_jsonl(tmp_path / "kept.ledger.jsonl")
    reasons = [e["dropped"]["reason"] for e in ledger]
    assert reasons == ["duplicate_id", "duplicate_id", "refusal"]
    counts_add_up(r.json(), ledger, 1)

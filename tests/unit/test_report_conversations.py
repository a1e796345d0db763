"""Multi-turn data in `report` (diversity over every turn, exchanges vs seeds) and `audit`
(the whole conversation on screen, in verdict lines and in exports)."""

from __future__ import annotations

import csv
import json
import random
import statistics
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rich.console import Console
from support.helpers import read_jsonl, run
from support.report_data import VERBS, VOCAB, record, varied_examples, write_jsonl

from synthgen.stages.audit.review import draw_sample, run_loop, show
from synthgen.stages.audit.store import VerdictStore
from synthgen.stages.report.build import Built, ReportInputs, build_report
from synthgen.stages.report.card import CardFacts, card_text
from synthgen.stages.report.html import render_html
from synthgen.stages.report.render import render_report
from synthgen.stages.report.warnings import Thresholds

N = 40
DATA_EXCHANGES = [2, 3, 4, 5]  # cycled over the N records
SEED_EXCHANGES = [1, 2, 2, 3, 3, 4]  # the first seed is a single exchange
LATE_WORD = "zanzibarquux"  # only ever in a third user turn
SYSTEM = "You are a terse travel agent."


def words(rng: random.Random, lo: int, hi: int) -> str:
    return " ".join(rng.sample(VOCAB, rng.randint(lo, hi)))


def conversation(
    rng: random.Random, exchanges: int, *, first: tuple[str, str] | None = None
) -> list[dict[str, str]]:
    """A system prompt, then `exchanges` user → assistant turns of varied words (the first
    exchange fixed when `first` is given)."""
    turns = [{"role": "system", "content": SYSTEM}]
    for k in range(exchanges):
        if k == 0 and first is not None:
            ask, answer = first
        else:
            ask = f"{rng.choice(VERBS)} {words(rng, 5, 10)}"
            answer = words(rng, 10, 25).capitalize() + "."
        if k == 2:
            ask += f" {LATE_WORD}"
        turns += [{"role": "user", "content": ask}, {"role": "assistant", "content": answer}]
    return turns


def convo_record(i: int, turns: list[dict[str, str]], **kw: Any) -> dict[str, Any]:
    """A synthgen record holding a conversation: its first exchange as instruction/output."""
    user = next(t["content"] for t in turns if t["role"] == "user")
    answer = next(t["content"] for t in turns if t["role"] == "assistant")
    ex = {"instruction": user, "input": "", "output": answer}
    return {**record(i, ex, **kw), "messages": turns}


def convo_dataset(
    tmp_path: Path, *, first: tuple[str, str] | None = None, name: str = "data.jsonl"
) -> Path:
    rng = random.Random(5)
    rows = [
        convo_record(i, conversation(rng, DATA_EXCHANGES[i % 4], first=first), score=i % 5 + 1)
        for i in range(N)
    ]
    return write_jsonl(tmp_path / name, rows)


def messages_seeds(tmp_path: Path) -> Path:
    """Seeds in OpenAI messages format, conversations of SEED_EXCHANGES exchanges."""
    rng = random.Random(11)
    rows = [{"id": f"c{k}", "messages": conversation(rng, n)} for k, n in enumerate(SEED_EXCHANGES)]
    return write_jsonl(tmp_path / "seeds.jsonl", rows)


def stats(xs: list[int]) -> dict[str, float]:
    return {
        "median": float(statistics.median(xs)),
        "p90": float(np.percentile(xs, 90)),
        "max": float(max(xs)),
        "mean": round(sum(xs) / len(xs), 2),
    }


def built(data: Path, seeds: Path | None = None) -> Built:
    inputs = ReportInputs(data, seed_files=(seeds,) if seeds else ())
    return build_report(inputs, Thresholds())


def test_report_json_counts_exchanges_against_the_seeds(tmp_path: Path) -> None:
    data, seeds = convo_dataset(tmp_path), messages_seeds(tmp_path)
    res = run(["report", str(data), "--seeds", str(seeds), "--json"])
    assert res.code == 0, res.stderr
    block = res.json()["conversations"]
    mine = [DATA_EXCHANGES[i % 4] for i in range(N)]
    assert block == {
        "records": N,
        "share": 1.0,
        "exchanges": stats(mine),
        "seeds": {"records": 5, "share": 5 / 6, "exchanges": stats(SEED_EXCHANGES)},
        "exchange_ratio": pytest.approx(3.5 / 2.5),
    }
    # Without seeds the block stands alone.
    alone = run(["report", str(data), "--json"]).json()["conversations"]
    assert alone["seeds"] is None and alone["exchange_ratio"] is None
    assert alone["exchanges"] == stats(mine)


def test_single_turn_data_vs_conversation_seeds_has_the_block(tmp_path: Path) -> None:
    rows = [record(i, e) for i, e in enumerate(varied_examples(N))]
    data = write_jsonl(tmp_path / "flat.jsonl", rows)
    block = run(["report", str(data), "--seeds", str(messages_seeds(tmp_path)), "--json"]).json()[
        "conversations"
    ]
    assert block["records"] == 0 and block["exchanges"]["median"] == 1.0
    assert block["exchange_ratio"] == pytest.approx(1 / 2.5)


def test_single_turn_report_has_no_conversations_key(tmp_path: Path) -> None:
    rows = [record(i, e) for i, e in enumerate(varied_examples(N))]
    data = write_jsonl(tmp_path / "flat.jsonl", rows)
    seeds = write_jsonl(
        tmp_path / "flat_seeds.jsonl",
        [{"id": f"s{i}", **e} for i, e in enumerate(varied_examples(10, seed=4))],
    )
    for args in ([], ["--seeds", str(seeds)]):
        out = run(["report", str(data), *args, "--json"])
        assert out.code == 0 and "conversations" not in out.json()
    r = built(data).report
    assert r.conversations is None and "conversations" not in r.model_dump()
    assert '"conversations"' not in r.model_dump_json()
    assert "Conversations" not in render_html(built(data))


def test_later_turns_count_in_diversity_and_traits(tmp_path: Path) -> None:
    # Every conversation opens with the same exchange: read as first exchanges only, the
    # set would be one record repeated; its later turns are what make it diverse.
    same = ("Hello there", "Hi! How can I help?")
    whole = built(convo_dataset(tmp_path, first=same))
    rows = read_jsonl(tmp_path / "data.jsonl")
    firsts = write_jsonl(
        tmp_path / "firsts.jsonl", [{k: v for k, v in r.items() if k != "messages"} for r in rows]
    )
    first_only = built(firsts)
    texts = [s.text for s in whole.data.sample]
    assert any(LATE_WORD in t for t in texts)  # a third user turn is in the sampled text
    assert not any(SYSTEM in t for t in texts)  # the shared system prompt is not
    m, f = whole.report.metrics, first_only.report.metrics
    assert m["distinct_1"] > f["distinct_1"]  # type: ignore[operator]
    assert m["mean_pairwise_rouge_l"] < f["mean_pairwise_rouge_l"]  # type: ignore[operator]
    assert m["exact_duplicate_share"] == 0.0
    assert f["exact_duplicate_share"] == pytest.approx(1 - 1 / N)
    assert [o["word"] for o in whole.report.openers] == ["hello"]  # the first user turn
    # An apology only in a later answer is the conversation's habit.
    for r in rows:
        r["messages"][-1]["content"] += " Sorry about that!"
    apologetic = built(write_jsonl(tmp_path / "sorry.jsonl", rows)).report
    assert apologetic.traits["apology"] == 1.0 and first_only.report.traits["apology"] == 0.0


def test_terminal_html_card_and_compare_show_the_block(tmp_path: Path) -> None:
    data, seeds = convo_dataset(tmp_path), messages_seeds(tmp_path)
    b = built(data, seeds)
    console = Console(record=True, width=200, color_system=None)
    render_report(b.report, console)
    assert (
        "Conversations: 40 of 40 records · exchanges median 3.5 (seeds 2.5) · p90 5 · max 5"
        in console.export_text()
    )
    page = render_html(b)
    assert "<h2>Conversations</h2>" in page and "<td>exchanges median</td>" in page
    facts = CardFacts(
        synthgen_version="0",
        generator_models=["m"],
        strategy="self-instruct",
        seed_files=[str(seeds)],
        seeds=6,
        candidates=N,
        kept=N,
        report=b.report,
    )
    text = card_text(
        tmp_path,
        task="text-generation",
        description="",
        license="mit",
        language=["en"],
        data_files={"train": "data.jsonl"},
        facts=facts,
    )
    assert "Conversations: 40 of 40 records · exchanges median 3.5 (seeds 2.5)" in text
    other = convo_dataset(tmp_path, name="other.jsonl")
    res = run(["report", str(data), "--compare", str(other), "--json"])
    changes = {c["metric"]: c for c in res.json()["compare"]["changes"]}
    assert (
        changes["exchanges_median"]["value"] == 3.5 and changes["exchanges_median"]["change"] == 0
    )


def test_audit_shows_every_turn_and_keeps_them_in_the_verdict(tmp_path: Path) -> None:
    data = convo_dataset(tmp_path)
    item = next(i for i in draw_sample(data, N, seed=0) if i.messages and len(i.messages) == 9)
    turns = item.messages or ()  # a system prompt and 4 exchanges
    console = Console(record=True, width=1000, color_system=None)
    show(item, 1, 4, console)
    shown = console.export_text()
    assert "Instruction" not in shown and "conversation: 4 exchanges" in shown
    assert shown.count("\nUser\n") == 4 and shown.count("\nAssistant\n") == 4
    assert "System\n" + SYSTEM in shown and LATE_WORD in shown
    at = [shown.index(f"{role.capitalize()}\n{content}") for role, content in turns]
    assert at == sorted(at)  # every turn, in order, under its speaker
    store = VerdictStore(tmp_path / "v.jsonl")
    run_loop([item], store, lambda _: "a", Console(record=True), "ann")
    store.close()
    (line,) = read_jsonl(tmp_path / "v.jsonl")
    assert [(t["role"], t["content"]) for t in line["messages"]] == list(turns)
    assert line["instruction"] == item.instruction  # the first exchange, for anchors


def test_audit_export_carries_the_conversation(tmp_path: Path) -> None:
    data = convo_dataset(tmp_path)
    for ext in ("jsonl", "csv"):
        res = run(["audit", str(data), "--sample", "3", "--export", str(tmp_path / f"r.{ext}")])
        assert res.code == 0, res.stderr
    rows = read_jsonl(tmp_path / "r.jsonl")
    assert all(r["messages"][0] == {"role": "system", "content": SYSTEM} for r in rows)
    table = list(csv.DictReader((tmp_path / "r.csv").open(encoding="utf-8")))
    assert list(table[0])[:5] == ["id", "instruction", "input", "output", "conversation"]
    assert all(c["conversation"].startswith(f"System: {SYSTEM}\n\nUser: ") for c in table)
    # Imported back by id from the sample, a verdict keeps the turns.
    rows[0]["verdict"] = "reject"
    (tmp_path / "r.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    res = run(["audit", str(data), "--sample", "3", "--import", str(tmp_path / "r.jsonl")])
    assert res.code == 0, res.stderr
    (line,) = read_jsonl(tmp_path / "data.verdicts.jsonl")
    assert line["messages"] == rows[0]["messages"]

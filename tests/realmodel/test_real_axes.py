"""generation.axes against llama.cpp's server and SmolLM2-135M: each call states its values,
the records carry provenance.axes and the report counts them by value; distinct-2,
compression ratio and opener entropy are printed beside the shared expand without axes, and
nothing is asserted about their values. (Coverage steering over real HTTP is the stand-in's
end-to-end test: a `run` to a quota takes this model minutes.)"""

from __future__ import annotations

from pathlib import Path

import pytest
from support.helpers import Ran
from support.llamacpp import CONFIG, LlamaServer, expand_cmd, read_jsonl, sg

pytestmark = [pytest.mark.realmodel, pytest.mark.timeout(300)]

AXES = "  axes: {difficulty: [easy, hard], channel: [email, chat]}\n"
METRICS = ("distinct_2", "compression_ratio", "opener_entropy")


def _metrics(out: Path) -> dict[str, float | None]:
    r = sg(["report", str(out), "--json"])
    assert r.code == 0, r.stderr
    report = r.json()
    return {k: report["metrics"][k] for k in METRICS} | {"axes": report.get("axes")}


def test_expand_with_axes_on_smollm2_states_records_and_counts_the_values(
    llama: LlamaServer, raw_expand: tuple[Ran, Path], tmp_path: Path
) -> None:
    config = tmp_path / "axes.yaml"
    config.write_text(CONFIG.replace("generation:\n", "generation:\n" + AXES))
    out = tmp_path / "axes.jsonl"
    r = sg(expand_cmd(llama, config, out, "self-instruct", 1, "--per-call", "1", "--json"))
    assert r.code in (0, 1), r.stderr  # 1: the model's answers yielded too few (exhausted)
    records = read_jsonl(out)
    ledgered = read_jsonl(out.with_name("axes.ledger.jsonl"))
    for rec in records + ledgered:  # kept or dropped, every candidate says what its call drew
        axes = rec["provenance"]["axes"]
        assert axes["difficulty"] in ("easy", "hard") and axes["channel"] in ("email", "chat")
    assert records or ledgered, r.stderr
    if not records:
        print("SmolLM2 wrote no usable record this time: the ledger's candidates carry the axes")
        return
    with_axes = _metrics(out)
    counted = with_axes["axes"]
    assert counted is not None
    assert sum(v["kept"] for v in counted["values"] if v["axis"] == "difficulty") == len(records)
    without = _metrics(raw_expand[1]) if read_jsonl(raw_expand[1]) else dict.fromkeys(METRICS)
    for name in METRICS:
        print(f"SmolLM2 {name}: without axes {without[name]}  with axes {with_axes[name]}")

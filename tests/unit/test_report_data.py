"""The report/audit dataset builders make real, seeded synthgen records."""

from __future__ import annotations

from pathlib import Path

from support.report_data import (
    BOILER_IN,
    BOILER_OUT_TAIL,
    record,
    varied_examples,
    wrapped,
    write_jsonl,
)

from synthgen.seeds.dataset import iter_rows, to_record


def test_built_records_are_valid_synthgen_records(tmp_path: Path) -> None:
    rows = [record(i, e, parents=["seed:s01"], score=4.0) for i, e in enumerate(varied_examples(3))]
    path = write_jsonl(tmp_path / "d.jsonl", rows)
    read = list(iter_rows(path))
    assert [r.fmt for r in read] == ["synthgen"] * 3
    assert to_record(read[0], str(path)).provenance.judge["passed"] is True  # type: ignore[index]


def test_builders_are_seeded() -> None:
    assert varied_examples(5) == varied_examples(5)
    assert varied_examples(5) != varied_examples(5, seed=2)
    w = wrapped(varied_examples(2))
    assert w[0]["instruction"].startswith(BOILER_IN) and w[0]["output"].endswith(BOILER_OUT_TAIL)

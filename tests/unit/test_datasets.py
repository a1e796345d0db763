"""Where a dataset's data and ledger are: one rule for run dirs and stage outputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from synthgen.core.datasets import dataset_of, ledger_beside, ledger_names, ledger_of
from synthgen.core.sink import ledger_path_for
from synthgen.errors import InputError


def test_a_stage_output_has_its_ledger_beside_it(tmp_path: Path) -> None:
    out = tmp_path / "raw.jsonl"
    assert ledger_beside(out) == tmp_path / "raw.ledger.jsonl" == ledger_path_for(out)
    assert ledger_names(out) == [tmp_path / "raw.ledger.jsonl"]
    assert ledger_of(out) is None
    (tmp_path / "raw.ledger.jsonl").write_text("")
    assert ledger_of(out) == tmp_path / "raw.ledger.jsonl"


def test_a_run_dir_reads_data_jsonl_and_dropped_jsonl_first(tmp_path: Path) -> None:
    (tmp_path / "data.jsonl").write_text("")
    assert dataset_of(tmp_path) == tmp_path / "data.jsonl"
    assert ledger_of(tmp_path) is None
    (tmp_path / "data.ledger.jsonl").write_text("")
    assert ledger_of(tmp_path) == tmp_path / "data.ledger.jsonl"  # an older output
    (tmp_path / "dropped.jsonl").write_text("")
    assert ledger_of(tmp_path) == ledger_of(tmp_path / "data.jsonl") == tmp_path / "dropped.jsonl"


def test_stdin_and_plain_files_are_themselves(tmp_path: Path) -> None:
    assert dataset_of(Path("-")) == Path("-") and ledger_of(Path("-")) is None
    assert dataset_of(tmp_path / "x.jsonl") == tmp_path / "x.jsonl"


def test_a_directory_without_data_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"is a directory without data\.jsonl") as e:
        dataset_of(tmp_path)
    assert e.value.exit_code == 2

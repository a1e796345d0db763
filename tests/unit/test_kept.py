"""What `run` holds of its kept records: counts, lineage, the round's texts and a bounded,
seeded sample for the prompts, never the records themselves."""

from __future__ import annotations

from synthgen.pipeline.kept import Kept
from synthgen.records import Provenance, Record, Usage


def rec(i: int) -> Record:
    prov = Provenance(
        run_id="run",
        created_at="2026-01-01T00:00:00Z",
        synthgen_version="0",
        config_sha256="cfg",
        method="self-instruct",
        parents=[f"seed:s{i % 3}", "sg_other"],
        usage=Usage(),
    )
    return Record(id=f"sg_{i}", instruction=f"Instruction {i}", output="o", provenance=prov)


def test_a_small_run_shows_exactly_what_it_kept_in_order() -> None:
    k = Kept(seed=7, size=8)
    for i in range(5):
        k.add(rec(i))
    assert [r.id for r in k.pool] == [f"sg_{i}" for i in range(5)]
    assert k.count == 5 and k.parents == {"seed:s0": 2, "seed:s1": 2, "seed:s2": 1}
    assert k.end_round() == [f"instruction {i}" for i in range(5)] and k.end_round() == []


def test_the_sample_stays_bounded_uniform_and_a_function_of_the_seed() -> None:
    def fill(seed: int) -> list[str]:
        k = Kept(seed=seed, size=50)
        for i in range(5000):
            k.add(rec(i))
        assert k.count == 5000 and len(k.pool) == 50
        return [r.id for r in k.pool]

    a = fill(7)
    assert a == fill(7) and a != fill(8)
    late = sum(int(i.removeprefix("sg_")) >= 2500 for i in a)
    assert 10 <= late <= 40  # about half from the second half: not the first 50 kept


def test_grounded_records_are_counted_per_chunk_for_the_next_rounds_plan() -> None:
    k = Kept(seed=7)
    for i, chunk in enumerate(["d#0", "d#2", "d#0"]):
        r = rec(i)
        source = {"chunk_id": chunk, "text_sha256": "t"}
        k.add(
            r.model_copy(update={"provenance": r.provenance.model_copy(update={"source": source})})
        )
    k.add(rec(9))  # not grounded: no chunk to count
    assert k.chunks == {"d#0": 2, "d#2": 1} and k.count == 4

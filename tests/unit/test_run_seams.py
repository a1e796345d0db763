"""The run loop's typed seams: clients grouped by role once, a round's candidates taken as a
Sink would take them and passed on as they come, and the one ledger-entry constructor."""

from __future__ import annotations

import asyncio
from typing import cast

import orjson

from synthgen.core.clients import Clients
from synthgen.llm.client import LLMClient
from synthgen.pipeline.expand_round import RoundStream
from synthgen.records import LedgerEntry, Provenance, Record, Usage, ledger_entry

PROV = Provenance(
    run_id="run",
    created_at="2026-01-01T00:00:00Z",
    synthgen_version="0",
    config_sha256="cfg",
    method="self-instruct",
    parents=["seed:s0"],
    usage=Usage(),
)


def client(name: str) -> LLMClient:
    return cast("LLMClient", name)  # only their identity matters here


def test_clients_are_grouped_by_role_in_order() -> None:
    g, j1, j2, r1, r2 = (client(n) for n in ("g", "j1", "j2", "r1", "r2"))
    roles = Clients.by_role(
        ["generator", "judge", "judge", "responder", "responder"], [g, j1, j2, r1, r2]
    )
    assert roles == Clients(g, (j1, j2), (r1, r2))
    assert Clients.by_role(["judge"], [j1]) == Clients(None, (j1,), ())


def test_a_round_stream_takes_each_record_and_each_drop_once_screening_as_they_come() -> None:
    screened: list[str] = []
    drops: list[LedgerEntry] = []

    def screen(rec: Record) -> bool:
        screened.append(rec.id)
        return rec.output != "dropped"

    out = RoundStream(screen, drops.append)
    rec = Record(id="sg_1", instruction="i", output="o", provenance=PROV)
    gone = Record(id="sg_2", instruction="j", output="dropped", provenance=PROV)
    assert out.add(rec) and not out.add(rec) and out.add(gone)
    drop = ledger_entry("drop_1", PROV, "expand", "parse_failure", "bad JSON", raw="{")
    out.drop(drop)
    out.drop(drop)
    out.flush()
    out.close()
    assert out.count == 2 and screened == ["sg_1", "sg_2"] and drops == [drop]

    async def survivors() -> list[Record]:
        return [r async for r in out.survivors()]

    assert asyncio.run(survivors()) == [rec]  # the survivors, in order, until closed


def test_a_ledger_entry_is_written_in_one_shape_extras_last() -> None:
    entry = ledger_entry(
        "sg_1",
        PROV,
        "dedup",
        "near_duplicate",
        "minhash similarity 0.9 to sg_0",
        instruction="i",
        input="",
        output="o",
        match={"id": "sg_0", "similarity": 0.9, "source": None},
    )
    assert isinstance(entry, LedgerEntry)
    line = entry.model_dump(mode="json", exclude_none=True)
    assert list(line) == ["id", "instruction", "input", "output", "provenance", "dropped", "match"]
    assert line["dropped"] == {
        "stage": "dedup",
        "reason": "near_duplicate",
        "detail": "minhash similarity 0.9 to sg_0",
    }
    assert orjson.dumps(line["match"]) == b'{"id":"sg_0","similarity":0.9,"source":null}'

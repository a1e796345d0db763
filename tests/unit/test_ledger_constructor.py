"""One ledger-entry constructor: only synthgen/records.py decides what a drop looks like.

Every other module ledgers through `records.ledger_line` / `records.ledger_entry` and reads
drops back through `records.read_drop`, so no stage can write a drop shaped its own way.
"""

from __future__ import annotations

import ast
from pathlib import Path

from synthgen.records import ledger_entry, ledger_line, read_drop

PKG = Path(__file__).resolve().parents[2] / "synthgen"
TYPES = {"DropReason", "LedgerEntry"}
BUILDERS = {"model_validate", "model_construct", "model_validate_json"}


def _is_dict(node: ast.AST | None) -> bool:
    """A dict made here, field by field (a `dict(mapping)` copy of counts is not one)."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return node.func.id == "dict" and bool(node.keywords)
    return isinstance(node, ast.Dict | ast.DictComp)


def _is_key(node: ast.AST | None) -> bool:
    return isinstance(node, ast.Constant) and node.value == "dropped"


def _name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def own_drops(source: str) -> list[int]:
    """Lines that build a drop without records.py: a `"dropped": {...}` block (a literal, or
    assigned into a dict), a `dropped={...}` keyword, or a DropReason/LedgerEntry made here."""
    found: list[int] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Dict):
            if any(_is_key(k) and _is_dict(v) for k, v in zip(node.keys, node.values, strict=True)):
                found.append(node.lineno)
        elif isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            subscripted = [t for t in targets if isinstance(t, ast.Subscript)]
            if any(_is_key(t.slice) for t in subscripted) and _is_dict(node.value):
                found.append(node.lineno)
        elif isinstance(node, ast.Call):
            func = node.func
            made = _name(func) in TYPES
            if isinstance(func, ast.Attribute) and func.attr in BUILDERS:
                made = made or _name(func.value) in TYPES
            if made or any(k.arg == "dropped" and _is_dict(k.value) for k in node.keywords):
                found.append(node.lineno)
    return found


def test_only_records_builds_a_drop() -> None:
    offenders = []
    for path in sorted(PKG.rglob("*.py")):
        if path == PKG / "records.py":
            continue
        offenders += [f"{path.relative_to(PKG)}:{n}" for n in own_drops(path.read_text())]
    assert not offenders, f"build drops with records.ledger_line/ledger_entry: {offenders}"


def test_the_drop_check_catches_what_it_forbids() -> None:
    forbidden = [
        'e = {"id": i, "dropped": {"stage": s, "reason": r, "detail": d}}',
        'rec["dropped"] = {"stage": "dedup", "reason": r, "detail": d}',
        'rec["dropped"] = dict(stage="dedup", reason=r)',
        "d = DropReason(stage=s, reason=r)",
        "d = records.DropReason(stage=s, reason=r)",
        "e = LedgerEntry(id=i, provenance=p, dropped=d)",
        "e = LedgerEntry.model_construct(id=i)",
        "e = Line(dropped={'stage': s})",
    ]
    assert [bool(own_drops(src)) for src in forbidden] == [True] * len(forbidden)
    allowed = [
        'counts = {"input": n, "dropped": dict(sorted(by_reason.items()))}',
        "e = ledger_line(rec, 'dedup', reason, detail, match=m)",
        'stage = obj["dropped"]["stage"]',
        "drop = read_drop(obj)",
    ]
    assert [own_drops(src) for src in allowed] == [[]] * len(allowed)


def test_a_drop_reads_back_as_written() -> None:
    line = ledger_line({"id": "x", "dropped": None, "output": "o"}, "dedup", "r", "d", match=1)
    # A field the candidate already had keeps its place; None after-fields are not written.
    assert list(line) == ["id", "dropped", "output", "match"]
    assert ledger_line({"id": "x"}, "judge", "r", raw=None) == {
        "id": "x",
        "dropped": {"stage": "judge", "reason": "r", "detail": ""},
    }
    assert read_drop(line).model_dump() == {"stage": "dedup", "reason": "r", "detail": "d"}
    assert read_drop({"dropped": {"stage": 3}}).model_dump() == {
        "stage": "3",
        "reason": "?",
        "detail": "",
    }


def test_the_typed_entry_dumps_as_the_line() -> None:
    from synthgen.records import Provenance, Usage

    prov = Provenance(
        run_id="r",
        created_at="t",
        synthgen_version="0",
        config_sha256="",
        method="m",
        parents=[],
        usage=Usage(),
    )
    entry = ledger_entry("x", prov, "judge", "low", "why", output="o", match={"id": "y"})
    line = ledger_line(
        {"id": "x", "output": "o", "provenance": prov.model_dump(mode="json", exclude_none=True)},
        "judge",
        "low",
        "why",
        match={"id": "y"},
    )
    dumped = entry.model_dump(mode="json", exclude_none=True)
    assert dumped == line and list(dumped) == list(line)

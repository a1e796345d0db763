"""Task-shaped answers that can be executed, and their faults on demand.

NOTHING HERE IS USEFUL DATA (see content.py). For an SQL task the stand-in writes a small
schema as the record's input and a read query that runs against it, so the `sql` check has
something true to pass; `task_faults` then makes some answers fail in the ways models do:
a column the schema lacks, a write (DELETE, ATTACH), a query that never ends, JSON with a
value outside the examples' labels or without one of their keys.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

from synthgen.standin.content import _RESPONSE_RE, NOUNS, judged_text, message_text

TaskFault = Literal[
    "sql_missing_column",
    "sql_delete",
    "sql_attach",
    "sql_loop",
    "json_enum",
    "json_missing_key",
    "code_fails_tests",
    "code_loop",
    "code_alloc",
    "code_raise",
]
TASK_FAULTS: tuple[str, ...] = get_args(TaskFault)
_IDENT_RE = re.compile(r"[a-z][a-z_]{2,20}")
_LABEL_RE = re.compile(r"[\w\-./:+#]{1,40}")
# SQL words that would not read as names (and SQLite keywords that would not parse as ones).
_RESERVED = frozenset(
    re.findall(
        r"\w+",
        """
    abort action add after all alter always analyze and as asc attach autoincrement before begin
    between by cascade case cast check collate column commit conflict constraint create cross
    current current_date current_time current_timestamp database default deferrable deferred
    delete desc detach distinct do drop each else end escape except exclude exclusive exists
    explain fail filter first following for foreign from full generated glob group groups having
    if ignore immediate in index indexed initially inner insert instead intersect into is isnull
    join key last left like limit match materialized natural no not nothing notnull null nulls
    of offset on or order others outer over partition plan pragma preceding primary query raise
    range recursive references regexp reindex release rename replace restrict returning right
    rollback row rows savepoint select set table temp temporary then ties to transaction trigger
    unbounded union unique update using vacuum values view virtual when where window with
    without id rowid oid count
    """,
    )
)
_TYPES = ("TEXT", "INTEGER", "REAL")


@dataclass(frozen=True)
class Table:
    """One table of a placeholder schema: its name and (column, type) pairs."""

    name: str
    columns: tuple[tuple[str, str], ...]

    def ddl(self) -> str:
        """Its CREATE TABLE statement."""
        cols = ", ".join(
            f"{c} INTEGER PRIMARY KEY" if c == "id" else f"{c} {t}" for c, t in self.columns
        )
        return f"CREATE TABLE {self.name} ({cols});"


def _names(rng: random.Random, words: list[str], n: int, taken: set[str]) -> list[str]:
    pool = [w for w in dict.fromkeys(words) if _IDENT_RE.fullmatch(w) and w not in _RESERVED]
    out: list[str] = []
    while len(out) < n:
        w = rng.choice(pool) if pool and rng.random() < 0.5 else rng.choice(NOUNS)
        if w not in taken and w not in _RESERVED and _IDENT_RE.fullmatch(w):
            taken.add(w)
            out.append(w)
    return out


def make_schema(rng: random.Random, words: list[str]) -> tuple[Table, ...]:
    """One or two small tables (the second refers to the first), named from `words`."""
    taken: set[str] = {"id"}
    first, *cols = _names(rng, words, rng.randint(3, 5), taken)
    tables = [Table(first, (("id", "INTEGER"), *((c, rng.choice(_TYPES)) for c in cols)))]
    if rng.random() < 0.4:
        second, *more = _names(rng, words, rng.randint(2, 3), taken)
        ref = (f"{first}_id", "INTEGER")
        tables.append(
            Table(second, (("id", "INTEGER"), ref, *((c, rng.choice(_TYPES)) for c in more)))
        )
    return tuple(tables)


def _cond(rng: random.Random, col: str, kind: str) -> str:
    if kind == "TEXT":
        noun = rng.choice(NOUNS)
        return rng.choice((f"{col} LIKE '%{noun}%'", f"{col} = '{noun}'", f"{col} IS NOT NULL"))
    op = rng.choice(("=", "<", ">", ">=", "<="))
    return f"{col} {op} {rng.randint(1, 500)}"


def query(rng: random.Random, tables: tuple[Table, ...], target: int) -> str:
    """A read query over `tables` that runs, about `target` characters long."""
    t = tables[0]
    cols = [c for c, _ in t.columns[1:]]
    shown = rng.sample(cols, k=min(len(cols), rng.randint(1, 2)))
    kinds = dict(t.columns)
    if len(tables) > 1 and rng.random() < 0.6:
        u = tables[1]
        extra = [c for c, _ in u.columns[2:]][:1]
        names = ", ".join([*(f"a.{c}" for c in shown), *(f"b.{c}" for c in extra)])
        base = f"SELECT {names} FROM {t.name} a JOIN {u.name} b ON b.{t.name}_id = a.id"
        prefix = "a."
    else:
        base, prefix = f"SELECT {', '.join(shown)} FROM {t.name}", ""
    conds: list[str] = []
    while True:
        col = rng.choice(cols)
        conds.append(_cond(rng, prefix + col, kinds[col]))
        text = f"{base} WHERE {' AND '.join(conds)}"
        if len(text) >= target - 20 or len(conds) >= 5:
            break
    if rng.random() < 0.4:
        text += f" ORDER BY {prefix}{shown[0]} DESC"
    if rng.random() < 0.3:
        text += " LIMIT 10"
    return text


def pick(faults: Mapping[str, float], prefix: str, rng: random.Random) -> str | None:
    """The fault this answer gets, if any (one draw, only when a fault of its kind is on)."""
    mine = [(f, faults[f]) for f in TASK_FAULTS if f.startswith(prefix) and faults.get(f)]
    if not mine:
        return None
    r, edge = rng.random(), 0.0
    for fault, p in mine:
        edge += p
        if r < edge:
            return fault
    return None


def sql_fault(fault: str, rng: random.Random, tables: tuple[Table, ...], good: str) -> str:
    """`good` (a query that runs) turned into the fault's kind of bad answer."""
    t = tables[0]
    cols = [c for c, _ in t.columns[1:]]
    if fault == "sql_missing_column":  # a column the query names, misspelt
        names = {n for tb in tables for n in (tb.name, *(c for c, _ in tb.columns))}
        col = rng.choice([c for c in cols if re.search(rf"\b{c}\b", good)])
        typo = col[:-1] if len(col) > 4 and col[:-1] not in names else col + "_total"
        return re.sub(rf"\b{col}\b", typo, good, count=1)
    if fault == "sql_delete":
        return (
            f"DELETE FROM {t.name} WHERE {_cond(rng, rng.choice(cols), dict(t.columns)[cols[0]])}"
        )
    if fault == "sql_attach":
        name = rng.choice(NOUNS)
        return f"ATTACH DATABASE '{name}_archive.db' AS {name}_archive"
    # sql_loop: a recursive CTE with no end, and a filter no row ever passes
    return (
        f"WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq) "
        f"SELECT n FROM seq WHERE n < 0 AND n IN (SELECT id FROM {t.name}) LIMIT 1"
    )


def json_fault(
    fault: str, rng: random.Random, value: dict[str, Any], examples: list[Any]
) -> dict[str, Any]:
    """`value` (keyed like the examples) without a key, or with a label not theirs."""
    out = dict(value)
    if fault == "json_missing_key":
        if len(out) > 1:
            del out[rng.choice(sorted(out))]
        return out
    labels = [
        k
        for k in out
        if all(
            isinstance(ex, dict) and isinstance(ex.get(k), str) and _LABEL_RE.fullmatch(ex[k])
            for ex in examples
        )
    ]
    if labels:
        key = rng.choice(labels)
        seen = {ex[key] for ex in examples}
        out[key] = next(n for n in rng.sample(NOUNS, len(NOUNS)) if n not in seen)
    return out


def judged_sha256(messages: list[Any]) -> str | None:
    """For a judge request (a <response> block in it): the sha256 of the response it asks
    about, logged so a test can tell which outputs reached the judge; else None."""
    texts = [message_text(m.get("content")) for m in messages if isinstance(m, dict)]
    if not any(_RESPONSE_RE.search(t) for t in texts):
        return None
    return hashlib.sha256(judged_text(messages).strip().encode()).hexdigest()

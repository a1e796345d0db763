"""Task-shaped placeholder outputs: JSON keyed like the prompt's example outputs, or SQL.

NOTHING HERE IS USEFUL DATA (see content.py). The values are still placeholder words; only
the outer shape follows the task, so that a task's rule filters (`output_format: json`,
an SQL `output_regex`) pass most of the time when the stand-in is the endpoint. A few
outputs stay word salad on purpose, so that those filters still have something to catch.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from synthgen.standin.code import code_answer
from synthgen.standin.content import NOUNS, Pin, Writer, message_text
from synthgen.standin.tasks import Table, json_fault, make_schema, pick, query, sql_fault

# Share of shaped outputs left as word salad (drawn from the choice's own RNG).
OFF_SHAPE_RATE = 0.05

# An example's output, as strategies.format_example shows it, runs to the next example or
# to the prompt's closing request.
_OUTPUT_RE = re.compile(r"^Output: (.*?)(?=\n\n(?:Example \d+:|Write |Reply )|\Z)", re.M | re.S)
_SQL_START_RE = re.compile(r"\s*(SELECT|WITH|INSERT|UPDATE|DELETE)\b", re.I)
_CODE_START_RE = re.compile(r"\s*(def|class|import|from)\s", re.I)
_TASK_RE = re.compile(r"^Task: (.*)$", re.M)
# Evol prompts show no outputs; a task about SQL, or a schema as input, still wants SQL.
_SQL_TASK_RE = re.compile(r"\bSQL\b", re.I)
_SCHEMA_RE = re.compile(r"\bCREATE\s+TABLE\b", re.I)
# One token with no spaces: a label from a small closed set ("billing", "high"), kept as seen.
_LABEL_RE = re.compile(r"[\w\-./:+#]{1,40}")
_IDENT_RE = re.compile(r"[a-z][a-z_]{1,30}")
# Prompt words that would read as SQL, not as a name, are not used as names.
_RESERVED = frozenset(
    re.findall(
        r"\w+",
        "select from where table group order limit and not null join with update delete insert"
        " into values set create like between having case when then else end union all distinct"
        " count index key primary references default check",
    )
)
# Statement kinds for a task known only by its cues, mostly queries as in text-to-SQL sets.
_SQL_KINDS = ("SELECT",) * 7 + ("WITH", "UPDATE", "DELETE")


@dataclass(frozen=True)
class Shape:
    """How a task's outputs look: "json" (objects like `examples`) or "sql" (statements)."""

    kind: Literal["json", "sql", "code"]
    examples: tuple[Any, ...] = ()
    compact: bool = False  # JSON written without spaces after "," and ":"
    semicolon: bool = True  # SQL statements end with ";"


def output_shape(messages: list[Any]) -> Shape | None:
    """The shape of the task's outputs, read from the prompt's examples (None: prose)."""
    for msg in reversed(messages):
        if not (isinstance(msg, dict) and msg.get("role") == "user"):
            continue
        # A repair turn shows no examples; the prompt before it does.
        text = message_text(msg.get("content"))
        outputs = [o.strip() for o in _OUTPUT_RE.findall(text) if o.strip()]
        if outputs:
            return _from_outputs(outputs)
        task = _TASK_RE.search(text)
        if task:
            return Shape("sql") if _sql_cue(task.group(1), text) else None
    return None


def _sql_cue(task: str, text: str) -> bool:
    return bool(_SQL_TASK_RE.search(task) or _SCHEMA_RE.search(text))


def _json_object(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) and value else None


def _from_outputs(outputs: list[str]) -> Shape | None:
    # A majority decides: machine examples shown beside the seeds may be off shape.
    objects = [(o, obj) for o in outputs if (obj := _json_object(o)) is not None]
    if 2 * len(objects) > len(outputs):
        spaced = any('": ' in raw for raw, _ in objects)
        return Shape("json", tuple(obj for _, obj in objects), compact=not spaced)
    if 2 * sum(bool(_CODE_START_RE.match(o)) for o in outputs) > len(outputs):
        return Shape("code", tuple(outputs))
    sql = [o for o in outputs if _SQL_START_RE.match(o)]
    if 2 * len(sql) > len(outputs):
        ends = sum(o.rstrip().endswith(";") for o in sql)
        return Shape("sql", tuple(sql), semicolon=2 * ends >= len(sql))
    return None


class ShapedWriter(Writer):
    """A Writer whose output-like fields take the task's shape (prose when there is none)."""

    def __init__(
        self,
        rng: random.Random,
        topics: list[str],
        pin: Pin | None,
        shape: Shape | None,
        faults: Mapping[str, float] | None = None,
    ) -> None:
        super().__init__(rng, topics, pin)
        self.shape = shape
        self.faults = faults or {}  # StandinConfig.task_faults (tasks.py)
        self.tables: tuple[Table, ...] | None = None  # the schema this answer's input shows
        self.tests: str | None = None  # a code answer's asserts (code.py), for its tests field

    def input_text(self, min_length: int = 0) -> str:
        """An SQL task's input: a small schema its output query runs against (tasks.py)."""
        if self.shape is None or self.shape.kind != "sql":
            return super().input_text(min_length)
        self.tables = make_schema(self.rng, self.topics)
        return "\n".join(t.ddl() for t in self.tables)

    def tests_text(self) -> str:
        """A code answer's asserts (written with it), else the base's placeholder."""
        return self.tests if self.tests is not None else super().tests_text()

    def output(self) -> str:
        """An output shaped like the prompt's example outputs (JSON, SQL or prose)."""
        shape = self.shape
        # No draw without a shape, so prose tasks get exactly the replies they always got.
        if shape is None or self.rng.random() < OFF_SHAPE_RATE:
            return super().output()
        if shape.kind == "code":
            source, self.tests = code_answer(self.rng, pick(self.faults, "code", self.rng))
            return source
        if shape.kind == "json":
            value = _object(list(shape.examples), self, 0)
            fault = pick(self.faults, "json", self.rng)
            if fault is not None:
                value = json_fault(fault, self.rng, value, list(shape.examples))
            seps = (",", ":") if shape.compact else (", ", ": ")
            return json.dumps(value, ensure_ascii=False, separators=seps)
        if self.tables is None:  # no schema shown beside it: a statement of the examples' kind
            return _sql(shape, self)
        model = self.rng.choice(shape.examples) if shape.examples else ""
        text = query(self.rng, self.tables, len(model) if model else self.rng.randint(80, 200))
        fault = pick(self.faults, "sql", self.rng)
        if fault is not None:
            text = sql_fault(fault, self.rng, self.tables, text)
        return text + (";" if shape.semicolon else "")


def _object(examples: list[dict[str, Any]], w: Writer, depth: int) -> dict[str, Any]:
    keys: dict[str, None] = {}
    for ex in examples:
        keys.update(dict.fromkeys(ex))
    return {k: _like([ex[k] for ex in examples if k in ex], w, depth + 1) for k in keys}


def _like(values: list[Any], w: Writer, depth: int) -> Any:
    """A placeholder of the same kind as `values` (one key's values across the examples)."""
    r = w.rng
    seen = [v for v in values if v is not None]
    if not seen or depth > 8:
        return None if not seen else w.phrase()
    if all(isinstance(v, bool) for v in seen):
        return r.random() < 0.5
    if all(isinstance(v, int) and not isinstance(v, bool) for v in seen):
        return r.randint(min(seen), max(seen))
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in seen):
        return round(r.uniform(min(seen), max(seen)), 2)
    if all(isinstance(v, str) for v in seen):
        if all(_LABEL_RE.fullmatch(v) for v in seen):
            return r.choice(seen)  # label-like: stay inside the values the examples use
        words = len(r.choice(seen).split())  # prose about as long as an example's
        return w.text(max(3, words - 5), max(4, words + 5))
    if all(isinstance(v, dict) for v in seen):
        return _object(seen, w, depth)
    if all(isinstance(v, list) for v in seen):
        items = [x for v in seen for x in v]
        n = len(r.choice(seen))
        return [_like(items, w, depth + 1) for _ in range(n)] if items else []
    return w.phrase()


def _sql(shape: Shape, w: Writer) -> str:
    """A placeholder statement of one example's kind and about its length."""
    r = w.rng
    model = r.choice(shape.examples) if shape.examples else ""
    m = _SQL_START_RE.match(model)
    kind = m.group(1).upper() if m else r.choice(_SQL_KINDS)
    # About as long as the examples, so a length-steered judge treats both alike.
    target = len(model) if model else r.randint(80, 200)
    table, other = _ident(w), _ident(w)
    cols = list(dict.fromkeys(_ident(w) for _ in range(r.randint(1, 3))))
    conds, value = [_cond(w)], _value(w)
    extras = {x for x in ("group", "order", "limit") if r.random() < 0.35}
    while True:
        where = " AND ".join(conds)
        if kind == "UPDATE":
            text = f"UPDATE {table} SET {cols[0]} = {value} WHERE {where}"
        elif kind == "DELETE":
            text = f"DELETE FROM {table} WHERE {where}"
        elif kind == "INSERT":
            names = ", ".join(cols)
            text = f"INSERT INTO {table} ({names}) SELECT {names} FROM {other} WHERE {where}"
        else:
            text = _select(kind, table, other, cols, where, extras)
        if len(text) >= target - 8 or len(conds) >= 6:
            break
        conds.append(_cond(w))
    return text + (";" if shape.semicolon else "")


def _select(
    kind: str, table: str, other: str, cols: list[str], where: str, extras: set[str]
) -> str:
    names = ", ".join(cols)
    if "group" in extras:
        body = f"SELECT {names}, COUNT(*) AS total FROM {table} WHERE {where} GROUP BY {names}"
    else:
        body = f"SELECT {names} FROM {table} WHERE {where}"
    if kind == "WITH":
        body = f"WITH {other} AS ({body}) SELECT {names} FROM {other}"
    if "order" in extras:
        body += f" ORDER BY {cols[0]} DESC"
    if "limit" in extras:
        body += " LIMIT 10"
    return body


def _ident(w: Writer) -> str:
    word = w.noun()
    return word if _IDENT_RE.fullmatch(word) and word not in _RESERVED else w.rng.choice(NOUNS)


def _value(w: Writer) -> str:
    r = w.rng
    return str(r.randint(1, 500)) if r.random() < 0.5 else f"'{r.choice(NOUNS)}'"


def _cond(w: Writer) -> str:
    r = w.rng
    col, pick = _ident(w), r.random()
    if pick < 0.5:
        return f"{col} {r.choice(('=', '<', '>', '>=', '<='))} {_value(w)}"
    if pick < 0.7:
        return f"{col} LIKE '%{r.choice(NOUNS)}%'"
    if pick < 0.85:
        return f"{col} IS {r.choice(('NULL', 'NOT NULL'))}"
    lo = r.randint(1, 100)
    return f"{col} BETWEEN {lo} AND {lo + r.randint(1, 400)}"

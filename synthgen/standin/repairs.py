"""Check repairs at the stand-in: a repair request (prompts/check_repair.txt) is answered
without the task fault, over the schema the request shows, so `filter.checks.repair` has
something true to show over HTTP.

NOTHING HERE IS USEFUL DATA (see content.py).
"""

from __future__ import annotations

import re
from typing import Any

from synthgen.standin.content import message_text
from synthgen.standin.tasks import Table

# The repair prompt's own words (prompts/check_repair.txt), which no other prompt uses.
MARK = "failed an automatic check"
_NOT_COLUMNS = frozenset({"PRIMARY", "FOREIGN", "UNIQUE", "CHECK", "CONSTRAINT"})
_TABLE_RE = re.compile(r"CREATE\s+TABLE\s+(\w+)\s*\((.*?)\)\s*;", re.I | re.S)


def is_check_repair(messages: list[Any]) -> bool:
    """Whether the request asks to repair an answer a check failed."""
    return any(
        isinstance(m, dict) and m.get("role") == "user" and MARK in message_text(m.get("content"))
        for m in messages
    )


def shown_tables(messages: list[Any]) -> tuple[Table, ...] | None:
    """The tables of the schema a repair request shows (None: none the stand-in can query:
    its first column must be `id`; a second table must refer to the first as `<first>_id`)."""
    text = "\n".join(message_text(m.get("content")) for m in messages if isinstance(m, dict))
    tables: list[Table] = []
    for name, body in _TABLE_RE.findall(text):
        cols = []
        for part in body.split(","):
            words = part.split()
            if (
                len(words) >= 2
                and re.fullmatch(r"\w+", words[0])
                and words[0].upper() not in _NOT_COLUMNS
            ):
                cols.append((words[0], words[1].upper()))
        tables.append(Table(name, tuple(cols)))
    if not tables or len(tables[0].columns) < 2 or tables[0].columns[0][0] != "id":
        return None
    first = tables[0]
    linked = len(tables) > 1 and len(tables[1].columns) > 2
    if linked and tables[1].columns[1][0] == f"{first.name}_id":
        return (first, tables[1])
    return (first,)

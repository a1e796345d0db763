"""Code-task answers: a small Python function and the asserts that test it, with faults on
demand (tests that fail, a loop with no end, allocation without bound, a raise on import),
so the `python` check has something true to pass and each of its reasons to give.

NOTHING HERE IS USEFUL DATA (see content.py): the functions are a handful of one-liners.
"""

from __future__ import annotations

import random
import re

from synthgen.standin.content import NOUNS

# (body, tests): `{f}` is the function's name.
_FUNCTIONS = (
    ("def {f}(a, b):\n    return a + b\n", ("assert {f}(2, 3) == 5", "assert {f}(-1, 1) == 0")),
    ("def {f}(items):\n    return max(items)\n", ("assert {f}([3, 9, 4]) == 9",)),
    ("def {f}(text):\n    return text[::-1]\n", ("assert {f}('abc') == 'cba'",)),
    ("def {f}(n):\n    return n * n\n", ("assert {f}(4) == 16", "assert {f}(-3) == 9")),
    (
        "def {f}(text):\n    return sum(1 for c in text.lower() if c in 'aeiou')\n",
        ("assert {f}('Banana') == 3", "assert {f}('xyz') == 0"),
    ),
)
# What each fault puts at the top of the function's body (code_raise: after it, on import).
_FAULT_BODY = {
    "code_fails_tests": "    return None\n",
    "code_loop": "    while True:\n        pass\n",
    "code_alloc": "    hoard = []\n    while True:\n        hoard.append(bytearray(1 << 24))\n",
}
_NAME_RE = re.compile(r"[a-z]{3,12}")


def code_answer(rng: random.Random, fault: str | None) -> tuple[str, str]:
    """(source, tests): a function that passes its tests, unless `fault` says otherwise."""
    body, tests = rng.choice(_FUNCTIONS)
    noun = rng.choice([n for n in NOUNS if _NAME_RE.fullmatch(n)] or ["value"])
    name = f"{rng.choice(('compute', 'get', 'make', 'count'))}_{noun}"
    source = body.format(f=name)
    if fault in _FAULT_BODY:
        head, _, rest = source.partition("\n")
        source = f"{head}\n{_FAULT_BODY[fault]}{rest}"
    elif fault == "code_raise":
        source += '\nDEFAULT = int("n/a")\n'
    return source, "\n".join(t.format(f=name) for t in tests)

"""synthgen: synthetic instruction data with provenance, budgets and judges.

The stages as functions (the CLI is a thin layer over them)::

    import synthgen
    s = synthgen.expand("seeds.jsonl", count=200, output="raw.jsonl", base_url=URL)
    s = synthgen.filter("raw.jsonl", output="kept.jsonl", seeds=["seeds.jsonl"])
    s = synthgen.dedup("kept.jsonl", output="unique.jsonl", against=["seeds.jsonl"])
    r = synthgen.report("unique.jsonl", seeds="seeds.jsonl")
    s = synthgen.run("configs/support-triage.yaml", count=500, max_cost_usd=5)
    h = synthgen.review("out/run", seeds="seeds.jsonl"); print(h.url); h.stop()

Each stage returns a `StageSummary` (`report` returns the typed `Report`). Importing synthgen
loads nothing heavy: each function imports its stage when called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from synthgen.version import __version__ as __version__

__all__ = [
    "RunSummary",
    "StageSummary",
    "SynthgenError",
    "audit",
    "dedup",
    "expand",
    "export",
    "filter",
    "report",
    "review",
    "run",
    "verify",
]

if TYPE_CHECKING:
    from synthgen.api import audit, dedup, expand, export, filter, report, review, run, verify
    from synthgen.errors import SynthgenError
    from synthgen.pipeline.stage import RunSummary
    from synthgen.records import StageSummary

# Each public name and the module that defines it, imported on first use.
_LAZY = {
    **dict.fromkeys(
        ("audit", "dedup", "expand", "export", "filter", "report", "review", "run", "verify"),
        "synthgen.api",
    ),
    "RunSummary": "synthgen.pipeline.stage",
    "StageSummary": "synthgen.records",
    "SynthgenError": "synthgen.errors",
}


def __getattr__(name: str) -> Any:
    """The API's functions and types, imported on first use (keeps `import synthgen` light);
    each function carries its real signature, every keyword typed (see `help(synthgen.run)`)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'synthgen' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    """The public names, for `dir(synthgen)` and tab completion, without importing them."""
    return sorted({*__all__, "__version__"})

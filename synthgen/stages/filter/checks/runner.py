"""The configured checks as one step of the screen: built once, run on the human seeds
first, then on every record that passed the rules; tallies pass rates and messages."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from synthgen.config import Config
from synthgen.errors import UsageError
from synthgen.records import Seed
from synthgen.settings.checks import ChecksConfig
from synthgen.stages.filter.checks.outcome import CheckFailure, Executor, Subject

Failure = tuple[str, str, str]  # (check, reason, detail)


@dataclass
class CheckStats:
    """One check's counts: records run, passed, and the most common messages of failures."""

    run: int = 0
    passed: int = 0
    messages: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0  # spent executing (bench: the checks' share of a run's wall time)

    def as_json(self, top: int = 5) -> dict[str, Any]:
        """The counts, the pass rate and the `top` most common messages."""
        rate = round(self.passed / self.run, 4) if self.run else None
        common = [{"message": m, "count": n} for m, n in self.messages.most_common(top)]
        return {
            "run": self.run,
            "passed": self.passed,
            "pass_rate": rate,
            "top_messages": common,
            "seconds": round(self.seconds, 4),
        }


def build(cfg: ChecksConfig, seeds: Sequence[Seed] = ()) -> list[Executor]:
    """The executors the config turns on, in the order they run; json_schema without a
    schema file infers one from `seeds` (exit 2 when it cannot)."""
    out: list[Executor] = []
    if cfg.sql is not None:
        from synthgen.stages.filter.checks.sql import SqlExecutor

        out.append(SqlExecutor(cfg.sql, seeds))
    if cfg.json_schema is not None:
        from synthgen.stages.filter.checks.json_schema import (
            JsonSchemaExecutor,
            infer_schema,
            read_schema,
        )

        path = cfg.json_schema.schema_file
        schema = read_schema(path) if path is not None else infer_schema([s.output for s in seeds])
        if schema is None:
            raise UsageError(
                "the json_schema check has no schema: no schema_file, and the seeds' outputs "
                "are not all JSON objects to infer one from",
                hint="write one with `synthgen seeds inspect SEEDS --emit-schema schema.json` "
                "and set filter.checks.json_schema.schema_file",
            )
        out.append(JsonSchemaExecutor(schema))
    if cfg.python is not None:
        from synthgen.stages.filter.checks.python import PythonExecutor

        out.append(PythonExecutor(cfg.python))
    return out


def tests_of(meta: Mapping[str, Any] | None, key: str = "tests") -> str:
    """The tests a record carries in meta[key]: code, or a list of assert lines. A row read
    from a plain file has its whole object as meta, so its own `meta` is looked in too."""
    meta = meta or {}
    inner = meta.get("meta")
    value = meta.get(key, inner.get(key) if isinstance(inner, Mapping) else None)
    if isinstance(value, list):
        return "\n".join(str(v) for v in value)
    return value if isinstance(value, str) else ""


class Checks:
    """The configured checks, run in order on one output; the first failure names the drop."""

    def __init__(
        self,
        cfg: ChecksConfig,
        seeds: Sequence[Seed] = (),
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.cfg, self.clock = cfg, clock
        self.executors = build(cfg, seeds)
        self.stats = {e.name: CheckStats() for e in self.executors}
        self.tests_key = cfg.python.tests_key if cfg.python is not None else "tests"

    def __bool__(self) -> bool:
        return bool(self.executors)

    def subject(
        self, instruction: str, input: str, output: str, meta: Mapping[str, Any] | None
    ) -> Subject:
        """What the executors run, from a record's fields."""
        return Subject(instruction, input, output, tests_of(meta, self.tests_key))

    def check(self, subject: Subject, count: bool = True) -> Failure | None:
        """The first check `subject` fails, as (check, reason, detail); None: passed all."""
        for ex in self.executors:
            started = self.clock()
            failed: CheckFailure | None = ex.run(subject)
            if count:
                st = self.stats[ex.name]
                st.seconds += self.clock() - started
                st.run += 1
                if failed is None:
                    st.passed += 1
                else:
                    st.messages[failed.detail[:120]] += 1
            if failed is not None:
                return ex.name, failed.reason, failed.detail
        return None

    def reset(self) -> None:
        """Start the counts afresh (a pass that walks the same rows again)."""
        self.stats = {e.name: CheckStats() for e in self.executors}

    def provenance(self) -> list[dict[str, str]]:
        """`provenance.checks` of a record that passed: each check and what executed it."""
        return [{"check": e.name, "executor": e.executor} for e in self.executors]

    def check_seeds(self, seeds: Sequence[Seed]) -> None:
        """Every check on the human seeds before anything is paid: a seed that fails one
        stops the command (exit 2) naming the seed and the executor's message."""
        if not self.executors or not self.cfg.check_seeds:
            return
        for seed in seeds:
            if seed.messages:
                continue  # a conversation has no single output to execute
            failed = self.check(
                self.subject(seed.instruction, seed.input, seed.output, seed.meta), count=False
            )
            if failed is not None:
                src = seed.source
                where = f"{src.get('file', 'seeds')}:{src.get('line', '?')}"
                raise UsageError(
                    f"seed {seed.id} ({where}) fails the {failed[0]} check: "
                    f"{failed[1]}: {failed[2]}",
                    hint="the check, its schema or the seed is wrong: fix it before paying for "
                    "candidates (filter.checks.check_seeds: false skips this)",
                )

    def report(self) -> dict[str, Any]:
        """Each check's pass rate and most common messages (summary and manifest)."""
        return {name: st.as_json() for name, st in self.stats.items()}


def for_config(cfg: Config, seeds: Sequence[Seed] | None = None) -> Checks | None:
    """The config's checks (None when none is on), already run on the human seeds: `seeds`,
    else those the config names (the task's, else the judge's calibration seeds)."""
    if not cfg.filter.checks.enabled:
        return None
    if seeds is None:
        from synthgen.seeds.reader import read_seeds

        files = cfg.seeds or cfg.filter.judge.seeds
        fmt = cfg.seed_format if cfg.seeds else cfg.filter.judge.seed_format
        seeds = read_seeds(files, fmt) if files else []  # type: ignore[arg-type]
    checks = Checks(cfg.filter.checks, seeds)
    checks.check_seeds(seeds)
    return checks


def job_part(cfg: Config) -> dict[str, Any]:
    """What the checks add to a job hash: their settings and the files' contents ({} when
    none is on, so the hashes from before checks hold)."""
    from synthgen.core.manifest import file_sha256
    from synthgen.fingerprint import fingerprint_dump

    c = cfg.filter.checks
    if not c.enabled:
        return {}
    files = [p for p in (c.sql and c.sql.schema_file, c.sql and c.sql.fixtures) if p]
    files += [c.json_schema.schema_file] if c.json_schema and c.json_schema.schema_file else []
    shas = {str(p): file_sha256(p) for p in files}
    return {"checks": {**fingerprint_dump(c, "filter", "checks"), "files": shas}}

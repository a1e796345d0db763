"""`filter.checks`: the checks that execute a record's output (sql, json_schema, python)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

CHECK_NAMES = ("sql", "json_schema", "python")
# Every reason a check drops with, by check (docs/checks.md explains each); the report reads it.
CHECK_REASONS = {
    "sql": ("sql_error", "sql_not_readonly", "sql_timeout", "sql_empty_result"),
    "json_schema": ("schema_mismatch",),
    "python": ("code_error", "tests_failed", "code_timeout"),
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SqlCheck(_Strict):
    """Run the output query in an in-memory SQLite built from the record's schema."""

    # The schema's CREATE TABLE statements; default: the record's `input`.
    schema_file: Path | None = None
    # The seeds' SQL dialect (sqlglot's name, e.g. postgres), translated to SQLite first.
    dialect: str | None = None
    # INSERT statements run after the schema: a query returning no rows is sql_empty_result.
    fixtures: Path | None = None
    # SQLite virtual-machine steps a query may take (deterministic, unlike a clock) ...
    max_steps: int = Field(default=2_000_000, ge=1000)
    # ... and a wall-clock backstop in milliseconds.
    timeout_ms: int = Field(default=2000, ge=10)
    max_rows: int = Field(default=1000, ge=1)  # rows fetched at most (the rest never read)


class JsonSchemaCheck(_Strict):
    """Validate the output, parsed as JSON, against a JSON Schema."""

    # A JSON Schema file (`seeds inspect --emit-schema` writes one to edit); without it the
    # schema is inferred from the seeds' outputs.
    schema_file: Path | None = None


class PythonCheck(_Strict):
    """Run the output with the tests the record carries, in a separate limited process."""

    timeout_s: float = Field(default=10.0, gt=0)  # wall time
    cpu_s: int = Field(default=5, ge=1)  # RLIMIT_CPU
    memory_mb: int = Field(default=512, ge=32)  # RLIMIT_AS
    file_mb: int = Field(default=1, ge=0)  # RLIMIT_FSIZE: what it may write, output included
    tests_key: str = "tests"  # where a record carries its tests: meta[tests_key]


class ChecksConfig(_Strict):
    """Which checks run after the rules (unset: off), and whether a failure gets a repair."""

    sql: SqlCheck | None = None
    json_schema: JsonSchemaCheck | None = None
    python: PythonCheck | None = None
    repair: int = Field(default=0, ge=0, le=1)
    # A seed that fails a check stops the run (exit 2) before anything is generated.
    check_seeds: bool = True

    @property
    def enabled(self) -> tuple[str, ...]:
        """The configured checks, in the order they run."""
        return tuple(n for n in CHECK_NAMES if getattr(self, n) is not None)

"""The command line: parse options, build config, call one core function, render the result.

Imports are lazy so that `synthgen --help` starts fast.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Any

import click

from synthgen.cli.common import (
    check_stdout_use,
    emit_json,
    endpoint_cli_values,
    endpoint_options,
    fail,
    finish_run,
)

# Commands defined in their own modules, imported only when used (keeps --help fast and
# cli.py small). name -> "module:attribute".
LAZY_COMMANDS = {
    "filter": "synthgen.cli.filter:filter_cmd",
    "dedup": "synthgen.cli.dedup:dedup_cmd",
    "report": "synthgen.cli.report:report_cmd",
    "audit": "synthgen.cli.audit:audit_cmd",
}

EXIT_CODES_HELP = """Exit codes: 0 ok · 1 runtime failure · 2 usage, config or input error ·
3 stopped by a budget or quality gate (rerun to resume) · 130 interrupted (rerun to resume)."""


class LazyGroup(click.Group):
    """A group whose LAZY_COMMANDS are imported on first use."""

    def invoke(self, ctx: click.Context) -> object:
        # click turns Ctrl-C into "Aborted!" and exit 1; every synthgen command resumes on a
        # rerun, so an interruption exits 130 and says so, whichever command was running.
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            click.echo("\ninterrupted: rerun the same command to resume", err=True)
            raise click.exceptions.Exit(130) from None

    def list_commands(self, ctx: click.Context) -> list[str]:
        lazy = [n for n, ref in LAZY_COMMANDS.items() if _importable(ref)]
        return sorted({*super().list_commands(ctx), *lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        ref = LAZY_COMMANDS.get(cmd_name)
        if ref is None or not _importable(ref):
            return super().get_command(ctx, cmd_name)
        module, attr = ref.split(":")
        command = getattr(importlib.import_module(module), attr)
        assert isinstance(command, click.Command)
        return command


def _importable(ref: str) -> bool:
    return importlib.util.find_spec(ref.split(":")[0]) is not None


@click.group(cls=LazyGroup, epilog=EXIT_CODES_HELP)
@click.version_option(package_name="synthgen")
def cli() -> None:
    """synthgen: expand a few hand-written seed examples into a large, traceable dataset.

    Every record carries its provenance (seeds, prompt, model, settings); every dropped
    candidate is ledgered with a reason; answers are cached so reruns resume for free.
    """


@cli.command()
@click.argument("seeds", nargs=-1, type=click.Path(path_type=Path))
@click.option("-n", "--count", type=int, help="How many records to write [default: 100].")
@click.option("-o", "--output", required=True, help="Output JSONL path, or - for stdout.")
@click.option(
    "--strategy",
    type=click.Choice(["self-instruct", "evol", "paraphrase"]),
    help="How to expand [default: self-instruct].",
)
@click.option("--per-call", type=int, help="New examples asked for per call [default: 5].")
@click.option("--human-examples", type=int, help="Seeds shown per self-instruct call [default: 3].")
@click.option(
    "--machine-examples",
    type=int,
    help="Kept machine records shown next to them (never instead) [default: 2].",
)
@click.option("--temperature", type=float, help="Sampling temperature [default: 1.0].")
@click.option("--top-p", type=float, help="Nucleus sampling [default: 1.0].")
@click.option("--seed", type=int, help="Seed of every random choice [default: 0].")
@click.option(
    "--responses",
    type=click.Choice(["inline", "separate"]),
    help="Outputs in the same call as instructions, or one call per instruction.",
)
@click.option("--format", "seed_format", help="Force the seed format (else autodetected).")
@click.option("--task", help="Task name recorded in meta and shown to the model.")
@click.option("--ledger", type=click.Path(path_type=Path), help="Where dropped candidates go.")
@endpoint_options
@click.option(
    "--dry-run", is_flag=True, help="Show prompts, requests, tokens and cost; send nothing."
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary on stdout.")
def expand(**opts: Any) -> None:
    """Expand SEEDS into new instruction/response records through an LLM.

    Writes OUTPUT (records with provenance), OUTPUT's .ledger.jsonl (every dropped
    candidate and why) and .manifest.json. Running the same command again after a crash,
    kill or Ctrl-C resumes: answered requests are replayed from the cache, never re-paid.

    Examples:

      synthgen expand seeds.jsonl -n 2000 -o raw.jsonl

      synthgen expand seeds.jsonl -n 500 -o raw.jsonl --strategy evol --max-cost-usd 5

      OPENAI_BASE_URL=http://localhost:8000/v1 synthgen expand seeds.jsonl -n 50 -o - --model qwen
    """
    from synthgen.errors import SynthgenError

    try:
        _expand(opts)
    except SynthgenError as e:
        fail(e)


def _expand(opts: dict[str, Any]) -> None:
    from synthgen.config import load_config

    check_stdout_use(opts["output"], opts["as_json"], opts["dry_run"])

    cli_values = {
        "seeds": [str(p) for p in opts["seeds"]] or None,
        "seed_format": opts["seed_format"],
        "task": opts["task"],
        "generation.count": opts["count"],
        "generation.strategy": opts["strategy"],
        "generation.per_call": opts["per_call"],
        "generation.human_examples": opts["human_examples"],
        "generation.machine_examples": opts["machine_examples"],
        "generation.temperature": opts["temperature"],
        "generation.top_p": opts["top_p"],
        "generation.seed": opts["seed"],
        "generation.responses": opts["responses"],
        **endpoint_cli_values(opts),
    }
    cfg = load_config(opts["config_file"], cli_values)
    if opts["dry_run"]:
        return _dry_run(cfg, opts["as_json"])
    from synthgen.core.console import ProgressLine, say
    from synthgen.stages.expand.engine import Progress
    from synthgen.stages.expand.stage import run_expand

    line = ProgressLine()

    def progress(p: Progress) -> None:
        rate = line.rate(p.written)
        text = (
            f"expand: {p.written}/{p.target} records · {p.jobs_done} calls · {rate:.1f} records/s"
        )
        line.show(text, final=p.written >= p.target)

    summary = run_expand(cfg, opts["output"], opts["ledger"], say, progress)
    line.done()
    c = summary["counts"]
    dropped = sum(c["ledgered"].values())
    what = f"{c['written']}/{c['requested']} records → {summary['output']} · {dropped} ledgered"
    finish_run(summary, what, say, opts["as_json"])


def _dry_run(cfg: Any, as_json: bool) -> None:
    from synthgen.errors import UsageError
    from synthgen.seeds.reader import read_seeds
    from synthgen.stages.expand.dryrun import plan

    if not cfg.seeds:
        raise UsageError("no seed files given", hint="synthgen expand SEEDS.jsonl --dry-run")
    result: dict[str, Any] = plan(cfg, read_seeds(cfg.seeds, cfg.seed_format))
    if as_json:
        emit_json(result)
        return
    err = sys.stderr
    for i, msgs in enumerate(result["first_prompts"], 1):
        err.write(f"── prompt {i} " + "─" * 60 + "\n")
        for m in msgs:
            err.write(f"[{m['role']}]\n{m['content']}\n\n")
    cost = (
        "unknown (no price for this model)"
        if result["cost_usd"] is None
        else (f"${result['cost_usd']:.4f}")
    )
    err.write(
        f"dry run: {result['requests']} requests · ~{result['prompt_tokens']} prompt + "
        f"~{result['completion_tokens']} completion tokens ({result['token_count_method']}) · "
        f"cost ~{cost} · ~{result['estimated_seconds']} s\n"
    )


@cli.group()
def seeds() -> None:
    """Look at seed files before expanding them."""


@seeds.command("inspect")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--format", "seed_format", help="Force the seed format (else autodetected).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON on stdout.")
def seeds_inspect(files: tuple[Path, ...], seed_format: str | None, as_json: bool) -> None:
    """Counts, format, length stats, duplicates and problems of seed FILES.

    Examples:

      synthgen seeds inspect seeds/support_triage.jsonl

      synthgen seeds inspect data/*.jsonl --json
    """
    from synthgen.errors import SynthgenError

    try:
        from rich.console import Console

        from synthgen.seeds.inspect import inspect_seeds, render_report

        report = inspect_seeds(list(files), seed_format)  # type: ignore[arg-type]
        if as_json:
            emit_json(report.model_dump(mode="json"))
        else:
            render_report(report, Console(stderr=True))
    except SynthgenError as e:
        fail(e)


@cli.command("standin-server")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8765, show_default=True, type=int, help="0 picks a free port.")
@click.option("--port-file", type=click.Path(path_type=Path), help="Write the bound port here.")
@click.option("--faults", "faults_json", default="{}", help="Fault switches as JSON.")
def standin_server(host: str, port: int, port_file: Path | None, faults_json: str) -> None:
    """Serve a FAKE OpenAI-compatible endpoint that produces NO USEFUL DATA.

    Deterministic placeholder text for tests, demos, benchmarks and CI dry runs, with
    switchable faults (429s, 5xx, latency, truncation, malformed JSON, ignored n,
    rejected json_schema, rate-limit headers). Never train on what it returns.

    Examples:

      synthgen standin-server --port 8765

      synthgen standin-server --faults '{"p_429": 0.2, "ignore_n": true}'
    """
    import orjson
    from pydantic import ValidationError

    from synthgen.standin import StandinConfig, serve

    try:
        config = StandinConfig.model_validate(orjson.loads(faults_json))
    except (orjson.JSONDecodeError, ValidationError) as e:
        click.echo(
            f"error: --faults: {e}\n  how to fix: pass a JSON object of fault switches", err=True
        )
        sys.exit(2)
    serve(
        config,
        host,
        port,
        port_file,
        lambda url: click.echo(f"stand-in endpoint (NO USEFUL DATA) at {url}", err=True),
    )


def main() -> None:
    try:
        cli(standalone_mode=True)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)

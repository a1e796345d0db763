"""`synthgen expand`: seeds in; records with provenance, a ledger and a manifest out."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from synthgen.cli.common import (
    batch_options,
    check_stdout_use,
    endpoint_options,
    finish_run,
    json_option,
    output_options,
    show_plan,
)

if TYPE_CHECKING:
    from synthgen.api import BatchFlags, EndpointOptions, ExpandOptions, Progress


@click.command("expand")
@click.argument("seeds", nargs=-1, type=click.Path(path_type=Path))
@click.option("-n", "--count", type=int, help="How many records to write.", show_default="100")
@output_options
@click.option(
    "--strategy",
    type=click.Choice(["self-instruct", "evol", "paraphrase", "conversation", "grounded"]),
    help="How to expand (grounded: facts from --documents, quotes checked).",
    show_default="self-instruct",
)
@click.option("--per-call", type=int, help="New examples asked for per call.", show_default="5")
@click.option(
    "--human-examples", type=int, help="Seeds shown per self-instruct call.", show_default="3"
)
@click.option(
    "--machine-examples",
    type=int,
    help="Kept machine records shown next to them (never instead).",
    show_default="2",
)
@click.option("--temperature", type=float, help="Sampling temperature.", show_default="1.0")
@click.option("--top-p", type=float, help="Nucleus sampling.", show_default="1.0")
@click.option("--seed", type=int, help="Seed of every random choice.", show_default="0")
@click.option(
    "--responses",
    type=click.Choice(["inline", "separate"]),
    help="Outputs in the same call as instructions, or one call per instruction.",
)
@click.option(
    "--responses-per-instruction",
    type=int,
    help="K ≥ 2: K responses to every instruction, each its own call, which `filter` turns "
    "into a chosen/rejected preference pair.",
    show_default="1",
)
@click.option(
    "--documents",
    "documents",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Documents (files, folders, globs; repeatable) the answers must be grounded in: "
    "implies --strategy grounded.",
)
@click.option(
    "--verdict-model",
    help="Grounded: the model (same endpoint) that judges each answer against its raw chunk; "
    "without it only the deterministic checks run (never the generator's own verdict).",
)
@click.option("--format", "fmt", help="Force the seed format (else autodetected).")
@click.option("--task", help="Task name recorded in meta and shown to the model.")
@endpoint_options
@batch_options
@click.option(
    "--dry-run", is_flag=True, help="Show prompts, requests, tokens and cost; send nothing."
)
@json_option
def expand_cmd(
    seeds: tuple[Path, ...],
    count: int | None,
    output: str,
    ledger: Path | None,
    strategy: str | None,
    per_call: int | None,
    human_examples: int | None,
    machine_examples: int | None,
    temperature: float | None,
    top_p: float | None,
    seed: int | None,
    responses: str | None,
    responses_per_instruction: int | None,
    documents: tuple[Path, ...],
    verdict_model: str | None,
    fmt: str | None,
    task: str | None,
    endpoint: EndpointOptions,
    config_file: Path | None,
    batch: BatchFlags,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Expand SEEDS into new instruction/response records through an LLM.

    Writes OUTPUT (records with provenance), OUTPUT's .ledger.jsonl (every dropped
    candidate and why) and .manifest.json. Running the same command again after a crash,
    kill or Ctrl-C resumes: answered requests are replayed from the cache, never re-paid.

    Examples:

      synthgen expand seeds.jsonl -n 2000 -o raw.jsonl

      synthgen expand seeds.jsonl -n 500 -o raw.jsonl --strategy evol --max-cost-usd 5

      synthgen expand qa_seeds.jsonl --documents docs/ -n 50 -o grounded.jsonl

      OPENAI_BASE_URL=http://localhost:8000/v1 synthgen expand seeds.jsonl -n 50 -o - --model qwen
    """
    import synthgen.api as api
    from synthgen.core.console import Console

    check_stdout_use(output, as_json, dry_run)
    options: ExpandOptions = {
        "format": fmt,
        "task": task,
        "strategy": strategy,
        "per_call": per_call,
        "human_examples": human_examples,
        "machine_examples": machine_examples,
        "temperature": temperature,
        "top_p": top_p,
        "seed": seed,
        "responses": responses,
        "responses_per_instruction": responses_per_instruction,
        "documents": list(documents) or None,
        "verdict_model": verdict_model,
        **endpoint,
    }
    if dry_run:
        shown = api.expand_plan(seeds, count=count, config=config_file, **options)
        show_plan(shown.data, shown.text, as_json)
        return
    console = Console()
    line = console.progress()
    live = console.request_line(line, "expand: starting")

    def progress(p: Progress) -> None:
        rate = line.rate(p.written)
        text = (
            f"expand: {p.written}/{p.target} records · {p.jobs_done} calls · {rate:.1f} records/s"
        )
        live.update(text, final=p.written >= p.target)

    with live.ticking():  # requests in flight and tokens/s, even while no call completes
        summary = api.expand(
            seeds,
            output=output,
            count=count,
            ledger=ledger,
            config=config_file,
            say=console.say,
            on_progress=progress,
            live=console.requests,
            **batch,
            **options,
        )
    line.done()
    finish_run(summary, as_json, console.say)

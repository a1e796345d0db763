"""`synthgen run CONFIG`: exactly N good records within a budget, from one config."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from synthgen.cli.common import batch_options, finish_run, json_option, show_plan

if TYPE_CHECKING:
    from synthgen.api import BatchFlags, RunOptions, RunProgress


@click.command("run")
@click.argument("config", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="Run dir (outputs.dir).",
    show_default="out/<task> beside the config file",
)
@click.option("--out", "out_alias", type=click.Path(path_type=Path), hidden=True)
@click.option("-n", "--count", type=int, help="Records to keep (target.count).")
@click.option("--max-cost-usd", type=float, help="Hard cap on the run's cost; exit 3 when hit.")
@click.option("--max-tokens", type=int, help="Hard cap on the run's tokens; exit 3 when hit.")
@click.option(
    "--base-url",
    help="Endpoint of the generator (and of the judge, unless the config gives it its own).",
)
@click.option("--model", help="Generator model.")
@click.option("--judge-model", "judge_models", multiple=True, help="Judge model; repeatable.")
@click.option("--no-judge", is_flag=True, help="Rules and dedup only; no judge.")
@click.option("--concurrency", type=int, help="Requests in flight at once.")
@click.option("--state-dir", type=click.Path(path_type=Path), help="Cache and run state.")
@click.option(
    "--offline",
    is_flag=True,
    help="Answer every request from the cache; send "
    "nothing (no key needed); a request never answered is an error.",
)
@batch_options
@click.option(
    "--dry-run",
    is_flag=True,
    help="Estimate requests, tokens, cost and time to reach the target; send nothing.",
)
@json_option
def run_cmd(
    config: Path,
    output: Path | None,
    out_alias: Path | None,
    count: int | None,
    max_cost_usd: float | None,
    max_tokens: int | None,
    base_url: str | None,
    model: str | None,
    judge_models: tuple[str, ...],
    no_judge: bool,
    concurrency: int | None,
    state_dir: Path | None,
    offline: bool,
    batch: BatchFlags,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Generate, rule, dedup and judge in rounds until exactly N records are kept.

    Writes the run dir (default out/<task>/ beside CONFIG, where its state dir .synthgen/
    lies too): data.jsonl (kept records with provenance), dropped.jsonl (every dropped
    candidate and why), manifest.json, report.html, README.md (a dataset card) and the
    configured exports. Stops at the target, at the budget (exit
    3; rerun with more to continue) or at a quality gate (exit 3, naming it). Rerunning
    replays every answer from the cache: nothing is paid twice, and the records come out
    the same, byte for byte (--offline proves it with no endpoint at all).

    Examples:

      synthgen run configs/support-triage.yaml --count 500 --max-cost-usd 5

      synthgen run configs/support-triage.yaml --dry-run

      synthgen run configs/text-to-sql.yaml --offline --json
    """
    import synthgen.api as api
    from synthgen.core.console import Console

    options: RunOptions = {
        "output": output or out_alias,
        "count": count,
        "max_cost_usd": max_cost_usd,
        "max_tokens": max_tokens,
        "base_url": base_url,
        "model": model,
        "judge_model": list(judge_models) or None,
        "concurrency": concurrency,
        "state_dir": state_dir,
    }
    if dry_run:
        shown = api.run_plan(config, judge=not no_judge, **options)
        show_plan(shown.data, shown.text, as_json)
        return
    console = Console()
    line = console.progress()
    live = console.request_line(line, "run: starting")

    def progress(p: RunProgress) -> None:
        rate = "–" if p.keep_rate is None else f"{p.keep_rate:.0%}"
        proj = "" if p.projected_cost_usd is None else f" → ~${p.projected_cost_usd:.4f}"
        per_s = line.rate(p.kept)
        eta = f" · ETA {(p.target - p.kept) / per_s:.0f} s" if p.kept and per_s > 0 else ""
        live.update(
            f"run: {p.kept}/{p.target} kept · round {p.round + 1} {p.in_round} · "
            f"{p.candidates} candidates · {p.judged} judged · keep rate {rate} · "
            f"${p.cost_usd:.4f}{proj}{eta}"
        )

    with live.ticking():  # requests in flight and tokens/s, even while no round moves
        summary = api.run(
            config,
            judge=not no_judge,
            offline=offline,
            say=console.say,
            on_progress=progress,
            live=console.requests,
            **batch,
            **options,
        )
    line.done()
    finish_run(summary, as_json, console.say)

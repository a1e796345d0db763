"""`synthgen filter`: rule filters, then an LLM judge that is checked before it is trusted."""

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
    from synthgen.api import BatchFlags, EndpointOptions, FilterOptions, Tally


def _csv(value: str | None) -> list[str] | None:
    if value is None:
        return None
    return [x.strip() for x in value.split(",") if x.strip()]


@click.command("filter")
@click.argument("input_path", metavar="IN.jsonl", type=click.Path(path_type=Path))
@output_options
@click.option(
    "--judge-model",
    "judge_models",
    multiple=True,
    help="Judge model; repeat for a panel (median score).",
    show_default="--model",
)
@click.option(
    "--threshold", type=float, help="Keep records scoring at least this.", show_default="3.5"
)
@click.option("--rubric", type=click.Path(path_type=Path), help="Rubric YAML file.")
@click.option("--reference", type=click.Path(path_type=Path), help="Trusted facts to cite.")
@click.option(
    "--seeds",
    "seed_files",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Human seeds the judge must pass before it judges anything.",
)
@click.option(
    "--max-seed-fail",
    type=float,
    help="Stop (exit 3) above this seed fail share.",
    show_default="0.2",
)
@click.option("--anchors", type=click.Path(path_type=Path), help="Human-labelled examples.")
@click.option(
    "--length-bias-max",
    type=float,
    help="Flag Spearman(score, length) above this.",
    show_default="0.3",
)
@click.option("--no-judge", is_flag=True, help="Rules only; no request is sent.")
@click.option("--no-rules", is_flag=True, help="Judge only.")
@click.option("--min-words", type=int, help="Fewest words in an instruction.", show_default="4")
@click.option("--max-words", type=int, help="Most words in an instruction.", show_default="150")
@click.option("--blacklist", help='Comma-separated instruction keywords to drop ("" for none).')
@click.option(
    "--output-format",
    type=click.Choice(["any", "json", "label", "regex"]),
    help="What every output must be.",
    show_default="any",
)
@click.option("--labels", help="Comma-separated labels for --output-format label.")
@click.option("--output-regex", help="Regex every output must match (--output-format regex).")
@click.option("--disable-rule", "disable", multiple=True, help="Skip a rule by name; repeatable.")
@click.option(
    "--check",
    "checks",
    multiple=True,
    type=click.Choice(["sql", "json_schema", "python"]),
    help="Execute outputs after the rules (docs/checks.md); repeatable.",
)
@endpoint_options
@batch_options
@click.option("--dry-run", is_flag=True, help="Count rule drops and judge cost; send nothing.")
@json_option
def filter_cmd(
    input_path: Path,
    output: str,
    ledger: Path | None,
    judge_models: tuple[str, ...],
    threshold: float | None,
    rubric: Path | None,
    reference: Path | None,
    seed_files: tuple[Path, ...],
    max_seed_fail: float | None,
    anchors: Path | None,
    length_bias_max: float | None,
    no_judge: bool,
    no_rules: bool,
    min_words: int | None,
    max_words: int | None,
    blacklist: str | None,
    output_format: str | None,
    labels: str | None,
    output_regex: str | None,
    disable: tuple[str, ...],
    checks: tuple[str, ...],
    endpoint: EndpointOptions,
    config_file: Path | None,
    batch: BatchFlags,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Drop bad records from IN.jsonl by rules, then by an LLM judge.

    IN.jsonl is the output of `expand`, or any alpaca, messages, sharegpt or self-instruct
    file. Cheap rules run first (length, blacklist, refusals, truncation, format); what
    passes is scored by a rubric judge (temperature 0, structured verdicts) and kept at or
    above --threshold. Every drop goes to the ledger with its stage and reason; every
    verdict goes into provenance.judge. With --seeds the judge first scores human seeds
    and the run stops (exit 3) if it fails too many. Rerunning resumes from the cache.

    Examples:

      synthgen filter raw.jsonl -o kept.jsonl --judge-model gpt-4o

      synthgen filter raw.jsonl -o kept.jsonl --seeds seeds.jsonl --dry-run

      synthgen filter alpaca.json -o kept.jsonl --no-judge --min-words 3

      synthgen filter raw.jsonl -o kept.jsonl --judge-model a --judge-model b

      synthgen filter sql.jsonl -o kept.jsonl --no-judge --check sql
    """
    import synthgen.api as api
    from synthgen.core.console import Console

    check_stdout_use(output, as_json, dry_run)
    options: FilterOptions = {
        "judge_model": list(judge_models) or None,
        "threshold": threshold,
        "rubric": rubric,
        "reference": reference,
        "seeds": list(seed_files) or None,
        "max_seed_fail": max_seed_fail,
        "anchors": anchors,
        "length_bias_max": length_bias_max,
        "min_words": min_words,
        "max_words": max_words,
        "blacklist": _csv(blacklist),
        "output_format": output_format,
        "labels": _csv(labels),
        "output_regex": output_regex,
        "disable_rule": list(disable) or None,
        "check": list(checks) or None,
        **endpoint,
    }
    judge, rules = not no_judge, not no_rules
    if dry_run:
        shown = api.filter_plan(input_path, judge=judge, rules=rules, config=config_file, **options)
        show_plan(shown.data, shown.text, as_json)
        return
    console = Console()
    line = console.progress()
    live = console.request_line(line, "filter: starting")

    def progress(t: Tally) -> None:
        rate = line.rate(t.input)
        live.update(
            f"filter: {t.input} done · {t.kept} kept · {t.judged} judged · {rate:.0f} records/s"
        )

    def calibrating(done: int, total: int) -> None:
        live.update(f"filter: calibrating: {done}/{total} seeds judged", final=done == total)

    with live.ticking():  # requests in flight and tokens/s, even while no row completes
        summary = api.filter(
            input_path,
            output=output,
            judge=judge,
            rules=rules,
            ledger=ledger,
            config=config_file,
            say=console.say,
            on_progress=progress,
            on_calibration=calibrating,
            live=console.requests,
            **batch,
            **options,
        )
    line.done()
    finish_run(summary, as_json, console.say)

"""`synthgen filter`: rule filters, then an LLM judge that is checked before it is trusted."""

from __future__ import annotations

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


def _csv(value: str | None) -> list[str] | None:
    if value is None:
        return None
    return [x.strip() for x in value.split(",") if x.strip()]


@click.command("filter")
@click.argument("input_path", metavar="IN.jsonl", type=click.Path(path_type=Path))
@click.option("-o", "--output", required=True, help="Kept records (JSONL), or - for stdout.")
@click.option(
    "--rejected",
    "--ledger",
    "ledger",
    type=click.Path(path_type=Path),
    help="Ledger of dropped records [default: OUTPUT's .ledger.jsonl].",
)
@click.option(
    "--judge-model",
    "judge_models",
    multiple=True,
    help="Judge model; repeat for a panel (median score) [default: --model].",
)
@click.option("--threshold", type=float, help="Keep records scoring at least this [3.5].")
@click.option("--rubric", type=click.Path(path_type=Path), help="Rubric YAML file.")
@click.option("--reference", type=click.Path(path_type=Path), help="Trusted facts to cite.")
@click.option(
    "--seeds",
    "seed_files",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Human seeds the judge must pass before it judges anything.",
)
@click.option("--max-seed-fail", type=float, help="Stop (exit 3) above this seed fail share [0.2].")
@click.option("--anchors", type=click.Path(path_type=Path), help="Human-labelled examples.")
@click.option("--length-bias-max", type=float, help="Flag Spearman(score, length) above [0.3].")
@click.option("--no-judge", is_flag=True, help="Rules only; no request is sent.")
@click.option("--no-rules", is_flag=True, help="Judge only.")
@click.option("--min-words", type=int, help="Fewest words in an instruction [4].")
@click.option("--max-words", type=int, help="Most words in an instruction [150].")
@click.option("--blacklist", help='Comma-separated instruction keywords to drop ("" for none).')
@click.option(
    "--output-format",
    type=click.Choice(["any", "json", "label", "regex"]),
    help="What every output must be [any].",
)
@click.option("--labels", help="Comma-separated labels for --output-format label.")
@click.option("--output-regex", help="Regex every output must match (--output-format regex).")
@click.option("--disable-rule", "disable", multiple=True, help="Skip a rule by name; repeatable.")
@endpoint_options
@click.option("--dry-run", is_flag=True, help="Count rule drops and judge cost; send nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary on stdout.")
def filter_cmd(**opts: Any) -> None:
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
    """
    from synthgen.errors import SynthgenError

    try:
        _filter(opts)
    except SynthgenError as e:
        fail(e)


def _filter(opts: dict[str, Any]) -> None:
    from synthgen.config import load_config
    from synthgen.errors import UsageError

    check_stdout_use(opts["output"], opts["as_json"], opts["dry_run"])
    judge_inputs = ("seed_files", "anchors", "reference", "rubric")
    if opts["no_judge"] and any(opts[k] for k in judge_inputs):
        raise UsageError(
            "--seeds, --anchors, --reference and --rubric need the judge",
            hint="drop --no-judge, or drop those options",
        )

    cli_values = {
        "filter.rules.enabled": False if opts["no_rules"] else None,
        "filter.rules.min_words": opts["min_words"],
        "filter.rules.max_words": opts["max_words"],
        "filter.rules.blacklist": _csv(opts["blacklist"]),
        "filter.rules.output_format": opts["output_format"],
        "filter.rules.labels": _csv(opts["labels"]),
        "filter.rules.output_regex": opts["output_regex"],
        "filter.rules.disable": list(opts["disable"]) or None,
        "filter.judge.enabled": False if opts["no_judge"] else None,
        "filter.judge.models": list(opts["judge_models"]) or None,
        "filter.judge.threshold": opts["threshold"],
        "filter.judge.rubric": opts["rubric"],
        "filter.judge.reference": opts["reference"],
        "filter.judge.seeds": [str(p) for p in opts["seed_files"]] or None,
        "filter.judge.max_seed_fail": opts["max_seed_fail"],
        "filter.judge.anchors": opts["anchors"],
        "filter.judge.length_bias_threshold": opts["length_bias_max"],
        **endpoint_cli_values(opts),
    }
    cfg = load_config(opts["config_file"], cli_values)
    if opts["dry_run"]:
        return _dry_run(cfg, opts["input_path"], opts["as_json"])
    from synthgen.core.console import ProgressLine, say
    from synthgen.stages.filter.stage import run_filter

    line = ProgressLine()

    def progress(t: Any) -> None:
        rate = line.rate(t.input)
        line.show(
            f"filter: {t.input} done · {t.kept} kept · {t.judged} judged · {rate:.0f} records/s"
        )

    summary = run_filter(cfg, opts["input_path"], opts["output"], opts["ledger"], say, progress)
    line.done()
    c, j = summary["counts"], summary["judge"]
    mean = "–" if not j or j["mean_score"] is None else f"{j['mean_score']:.2f}"
    judged = (
        f" · judge {', '.join(j['models'])}: mean {mean}, {j['parse_failures']} parse failures"
        if j
        else ""
    )
    what = f"{c['kept']}/{c['input']} kept → {summary['output']} · {c['dropped_total']} ledgered"
    finish_run(summary, what + judged, say, opts["as_json"])


def _dry_run(cfg: Any, input_path: Path, as_json: bool) -> None:
    from synthgen.stages.filter.dryrun import plan_filter

    result = plan_filter(cfg, input_path)
    if as_json:
        emit_json(result)
        return
    err = sys.stderr
    if result["first_prompt"]:
        err.write("── first judge prompt " + "─" * 50 + "\n")
        for m in result["first_prompt"]:
            err.write(f"[{m['role']}]\n{m['content']}\n\n")
    cost = "unknown (no price)" if result["cost_usd"] is None else f"${result['cost_usd']:.4f}"
    dropped = sum(result["dropped_by_rules"].values())
    err.write(
        f"dry run: {result['input_records']} records · {dropped} dropped by rules · "
        f"{result['to_judge']} to judge · {result['requests']} requests · "
        f"~{result['prompt_tokens']} prompt + ~{result['completion_tokens']} completion tokens "
        f"({result['token_count_method']}) · cost ~{cost} · ~{result['estimated_seconds']} s\n"
    )

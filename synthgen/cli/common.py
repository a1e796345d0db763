"""What every command shares: error rendering, JSON summaries, endpoint options.

Only click is imported here, so that loading a command for `--help` stays fast.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def fail(e: Exception) -> NoReturn:
    """Print a SynthgenError the one way users see errors, and exit with its code."""
    from synthgen.errors import SynthgenError

    assert isinstance(e, SynthgenError)
    click.echo(f"error: {e.render()}", err=True)
    sys.exit(e.exit_code)


def check_stdout_use(output: str, as_json: bool, dry_run: bool = False) -> None:
    """Records and the --json summary cannot share stdout: a pipe would get both."""
    if output == "-" and as_json and not dry_run:
        from synthgen.errors import UsageError

        raise UsageError(
            "-o - and --json both write to stdout, so a pipe would get the records and the "
            "summary mixed",
            hint="write the records to a file with -o FILE and keep --json, or drop --json "
            "(the summary is also in the manifest)",
        )


def finish_run(
    summary: dict[str, Any], what: str, say: Callable[[str], None], as_json: bool
) -> NoReturn:
    """The last word of a paid run (expand, filter): status, what it did, requests and cost;
    the JSON summary on request; the summary's exit code."""
    req = summary["requests"]
    say(
        f"{summary['status']}: {what} · {req['sent']} sent, {req['cached']} cached · "
        f"${summary['cost_usd']:.4f}" + ("" if summary["price_known"] else " (price unknown)")
    )
    if "error" in summary:
        say(f"error: {summary['error']}")
    if as_json:
        emit_json(summary)
    sys.exit(summary["exit_code"])


def emit_json(obj: Any) -> None:
    import orjson

    sys.stdout.buffer.write(orjson.dumps(obj, option=orjson.OPT_INDENT_2) + b"\n")
    sys.stdout.flush()


def endpoint_options(fn: F) -> F:
    """--model, --base-url, throughput limits, budgets, state dir and --config."""
    opts = [
        click.option("--model", help="Model name at the endpoint [default: gpt-4o-mini]."),
        click.option(
            "--base-url",
            help="OpenAI-compatible base URL (vLLM, Ollama, llama.cpp, LiteLLM...), "
            "else $OPENAI_BASE_URL, else OpenAI.",
        ),
        click.option("--concurrency", type=int, help="Requests in flight at once [default: 16]."),
        click.option("--rpm", type=float, help="Requests per minute limit (else learned)."),
        click.option("--tpm", type=float, help="Tokens per minute limit (else learned)."),
        click.option("--timeout", type=float, help="Seconds per request [default: 120]."),
        click.option(
            "--max-attempts", type=int, help="Tries per request, retries included [default: 6]."
        ),
        click.option(
            "--max-cost-usd", type=float, help="Hard cap on the job's cost; exit 3 when reached."
        ),
        click.option("--max-tokens", type=int, help="Hard cap on the job's tokens; exit 3."),
        click.option(
            "--state-dir",
            type=click.Path(path_type=Path),
            help="Cache and run state [default: .synthgen].",
        ),
        click.option(
            "--config",
            "config_file",
            type=click.Path(path_type=Path),
            help="YAML config (see configs/); CLI options override it.",
        ),
    ]
    for opt in reversed(opts):
        fn = opt(fn)
    return fn


def endpoint_cli_values(opts: dict[str, Any]) -> dict[str, Any]:
    """The dotted config keys that `endpoint_options` fill (None = not given)."""
    return {
        "endpoint.model": opts.get("model"),
        "endpoint.base_url": opts.get("base_url"),
        "endpoint.concurrency": opts.get("concurrency"),
        "endpoint.rpm": opts.get("rpm"),
        "endpoint.tpm": opts.get("tpm"),
        "endpoint.timeout_s": opts.get("timeout"),
        "endpoint.max_attempts": opts.get("max_attempts"),
        "budget.max_cost_usd": opts.get("max_cost_usd"),
        "budget.max_tokens": opts.get("max_tokens"),
        "state_dir": str(opts["state_dir"]) if opts.get("state_dir") else None,
    }

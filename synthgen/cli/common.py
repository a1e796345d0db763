"""What every command shares: option decorators, JSON and summary output, exits.

Only click is imported here, so that loading a command for `--help` stays fast. Commands
raise; the group's one error boundary (app.py) turns errors into messages and exit codes.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar, cast

import click

if TYPE_CHECKING:
    from synthgen.api import BatchFlags, EndpointOptions, StageSummary

F = TypeVar("F", bound=Callable[..., Any])


class SuggestingGroup(click.Group):
    """A command group that answers a mistyped command with the commands it may have meant."""

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        """Find the command; for a mistyped one, say which commands it may have meant (from
        `list_commands`: a lazy group's commands are not in `self.commands`)."""
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError:
            name = args[0] if args else ""
            if not name or name.startswith("-") or self.get_command(ctx, name) is not None:
                raise
            from difflib import get_close_matches

            close = get_close_matches(name, self.list_commands(ctx), n=3, cutoff=0.6)
            message = f"No such command {name!r}."
            if close:
                message += f" Did you mean {' or '.join(repr(c) for c in close)}?"
            raise click.UsageError(message, ctx) from None


def _apply(fn: F, opts: list[Callable[[F], F]]) -> F:
    for opt in reversed(opts):
        fn = opt(fn)
    return fn


def output_options(fn: F) -> F:
    """-o/--output and --ledger (--rejected kept as a hidden alias)."""
    return _apply(
        fn,
        [
            click.option(
                "-o", "--output", required=True, help="Output JSONL path, or - for stdout."
            ),
            click.option(
                "--ledger",
                "--rejected",
                "ledger",
                type=click.Path(path_type=Path),
                help="Where dropped candidates go.",
                show_default="OUTPUT's .ledger.jsonl",
            ),
        ],
    )


def format_option(fn: F) -> F:
    """--format: force the input format instead of detecting it."""
    return click.option("--format", "fmt", help="Force the input format (else autodetected).")(fn)


def json_option(fn: F) -> F:
    """--json: the summary as JSON on stdout."""
    return click.option("--json", "as_json", is_flag=True, help="Print a JSON summary on stdout.")(
        fn
    )


def state_dir_option(fn: F) -> F:
    """--state-dir: the cache and run state."""
    return click.option(
        "--state-dir",
        type=click.Path(path_type=Path),
        help="Cache and run state: a path given here is relative to the current directory; "
        "with a config file and none given, .synthgen beside that file.",
        show_default=".synthgen",
    )(fn)


# The endpoint options' parameter names, which are also the API's keywords.
ENDPOINT_KEYS = (
    "model",
    "base_url",
    "concurrency",
    "rpm",
    "tpm",
    "timeout",
    "max_attempts",
    "max_cost_usd",
    "max_tokens",
    "state_dir",
)


def endpoint_options(fn: F) -> F:
    """--model, --base-url, throughput limits, budgets, state dir and --config; the command
    gets the endpoint ones as one `endpoint` dict of API keywords (and `config_file`)."""

    @functools.wraps(fn)
    def packed(*args: Any, **kwargs: Any) -> Any:
        endpoint = cast("EndpointOptions", {k: kwargs.pop(k) for k in ENDPOINT_KEYS})
        return fn(*args, endpoint=endpoint, **kwargs)

    return _apply(
        cast(F, packed),
        [
            click.option("--model", help="Model name at the endpoint.", show_default="gpt-4o-mini"),
            click.option(
                "--base-url",
                help="OpenAI-compatible base URL (vLLM, Ollama, llama.cpp, LiteLLM...), "
                "else $OPENAI_BASE_URL, else OpenAI.",
            ),
            click.option(
                "--concurrency", type=int, help="Requests in flight at once.", show_default="16"
            ),
            click.option("--rpm", type=float, help="Requests per minute limit (else learned)."),
            click.option("--tpm", type=float, help="Tokens per minute limit (else learned)."),
            click.option(
                "--timeout",
                type=float,
                help="Seconds of silence allowed: between chunks of a streamed answer, or for "
                "a whole answer that is not streamed.",
                show_default="120",
            ),
            click.option(
                "--max-attempts",
                type=int,
                help="Tries per request, retries included.",
                show_default="6",
            ),
            click.option(
                "--max-cost-usd",
                type=float,
                help="Hard cap on the job's cost; exit 3 when reached.",
            ),
            click.option("--max-tokens", type=int, help="Hard cap on the job's tokens; exit 3."),
            state_dir_option,
            click.option(
                "--config",
                "config_file",
                type=click.Path(path_type=Path),
                help="YAML config (see configs/); CLI options override it.",
            ),
        ],
    )


BATCH_KEYS = ("batch", "wait", "batch_repairs")


def batch_options(fn: F) -> F:
    """--batch, --wait and --batch-repairs, given to the command as one `batch` dict of API
    keywords."""

    @functools.wraps(fn)
    def packed(*args: Any, **kwargs: Any) -> Any:
        batch = cast("BatchFlags", {k: kwargs.pop(k) for k in BATCH_KEYS})
        return fn(*args, batch=batch, **kwargs)

    return _apply(
        cast(F, packed),
        [
            click.option(
                "--batch",
                is_flag=True,
                help="Send what the cache cannot answer through the Batch API (half price, "
                "done within 24 h); rerun the same command to collect and continue.",
            ),
            click.option(
                "--wait",
                is_flag=True,
                help="With --batch: poll until the batches end and finish in this command.",
            ),
            click.option(
                "--batch-repairs",
                is_flag=True,
                help="With --batch: repair re-asks wait for a follow-up batch too (else "
                "they are sent online).",
            ),
        ],
    )


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


def finish_run(summary: StageSummary, as_json: bool, say: Callable[[str], None]) -> NoReturn:
    """The last word of a run: status, what it did, requests and cost; the error if any;
    the JSON summary on request; the summary's exit code."""
    req, hit = summary.requests, summary.usage.cached_tokens
    paid = summary.command != "dedup"
    say(
        f"{summary.status}: {summary.headline}"
        + (
            f" · {req.sent} sent, {req.cached} cached · ${summary.cost_usd:.4f}"
            + ("" if summary.price_known else " (price unknown)")
            + (f" · {hit:,} prompt tokens from the endpoint's cache" if hit else "")
            if paid
            else ""
        )
    )
    if summary.error is not None:
        say(f"error: {summary.error}")
    if as_json:
        emit_json(summary.to_json())
    exit_with(summary.exit_code)


def show_plan(data: dict[str, Any], text: str, as_json: bool) -> None:
    """A dry run: its JSON on stdout with --json, else the text for people on stderr."""
    if as_json:
        emit_json(data)
    else:
        sys.stderr.write(text)


def exit_with(code: int) -> NoReturn:
    """End the command with `code` (the group's boundary lets click's Exit through)."""
    raise click.exceptions.Exit(code)


def emit_json(obj: Any) -> None:
    """`obj` as indented JSON on stdout."""
    import orjson

    sys.stdout.buffer.write(orjson.dumps(obj, option=orjson.OPT_INDENT_2) + b"\n")
    sys.stdout.flush()

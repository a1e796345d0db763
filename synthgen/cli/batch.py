"""`synthgen batch status|cancel`: the Batch API jobs of a state directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from synthgen.cli.common import SuggestingGroup, emit_json, json_option, state_dir_option

_BASE_URL = click.option(
    "--base-url", help="Ask this endpoint, not the one each batch was made at."
)
_CONFIG = click.option(
    "--config", "config_file", type=click.Path(path_type=Path), help="YAML config."
)


@click.group("batch", cls=SuggestingGroup)
def batch_group() -> None:
    """Batches made by `expand --batch`, `filter --batch` and `run --batch`: list and cancel
    them.

    Rerunning the stage command itself collects finished batches and continues.
    """


def _print(result: dict[str, Any]) -> None:
    from synthgen.core.console import say

    rows = result["batches"]
    if not rows:
        say("no batches in this state directory")
    for r in rows:
        status = r["status"] or r["state"]
        say(
            f"{r['batch_id'] or '(not created)'} · {status} · {r['completed']}/{r['requests']} "
            f"completed, {r['failed']} failed · {r['model']} at {r['endpoint']} · "
            f"{r['age']} old · ≤ ${r['worst_cost_usd']:.4f}"
        )
    counts = ", ".join(f"{n} {s}" for s, n in sorted(result["requests"].items()))
    say(f"requests: {counts or 'none'} · reserved ≤ ${result['reserved_usd']:.4f}")


@batch_group.command("status")
@state_dir_option
@_BASE_URL
@_CONFIG
@click.option("--no-refresh", is_flag=True, help="Show what is recorded; ask the endpoint nothing.")
@json_option
def batch_status_cmd(
    state_dir: Path | None,
    base_url: str | None,
    config_file: Path | None,
    no_refresh: bool,
    as_json: bool,
) -> None:
    """List batches: requests, completed and failed counts, status, age, worst-case cost."""
    import synthgen.api as api

    result = api.batch_status(
        state_dir=state_dir, base_url=base_url, refresh=not no_refresh, config=config_file
    )
    if as_json:
        emit_json(result)
    else:
        _print(result)


@batch_group.command("cancel")
@state_dir_option
@_BASE_URL
@_CONFIG
@click.option("--no-wait", is_flag=True, help="Ask for the cancel and return at once.")
@json_option
def batch_cancel_cmd(
    state_dir: Path | None,
    base_url: str | None,
    config_file: Path | None,
    no_wait: bool,
    as_json: bool,
) -> None:
    """Cancel every open batch and keep what completed (its answers are cached).

    Then rerun the stage without --batch to finish the rest online, or with --batch to
    submit it again.
    """
    import synthgen.api as api
    from synthgen.core.console import say

    result = api.batch_cancel(
        state_dir=state_dir, base_url=base_url, wait=not no_wait, config=config_file, say=say
    )
    if as_json:
        emit_json(result)
    else:
        _print(result)

"""`synthgen config`: check a config file, or show the settings it resolves to."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from synthgen.cli.common import emit_json

if TYPE_CHECKING:
    from synthgen.config import Config


@click.group("config")
def config_group() -> None:
    """Check config files, or show the settings one resolves to."""


@config_group.command("check")
@click.argument(
    "files", metavar="FILE...", nargs=-1, required=True, type=click.Path(path_type=Path)
)
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON on stdout.")
def check_cmd(files: tuple[Path, ...], as_json: bool) -> None:
    """Validate config FILEs as `synthgen run` reads them.

    Every key must be known and every value in range (errors name file, line and key),
    and every input file the config names must exist: seeds, the judge's rubric,
    reference, anchors and seeds, dedup's against and decontaminate sets; the rubric must
    parse. SYNTHGEN_* variables apply, as they do in a run. Exit 0 when all are ok, 2
    otherwise.

    Examples:

    \b
      synthgen config check configs/support-triage.yaml
      synthgen config check configs/*.yaml --json
    """
    from synthgen.config import check_config
    from synthgen.core.console import say
    from synthgen.errors import ConfigError, UsageError
    from synthgen.stages.filter.judge import load_rubric

    results: list[dict[str, Any]] = []
    failed: list[UsageError] = []
    for file in files:
        try:
            cfg = check_config(file)
            if cfg.filter.judge.enabled and cfg.filter.judge.rubric is not None:
                load_rubric(cfg.filter.judge.rubric)  # a rubric that does not parse stops a run
        except UsageError as e:
            failed.append(e)
            results.append({"file": str(file), "ok": False, "error": e.message, "hint": e.hint})
            if len(files) > 1:  # the others are still checked; the last word is the count
                say(f"error: {e.render()}")
            continue
        facts = _facts(cfg)
        results.append({"file": str(file), "ok": True, **facts})
        budget = f"${facts['max_cost_usd']:.2f}" if facts["max_cost_usd"] else "none"
        judge = ", ".join(facts["judge"]) if facts["judge"] else "off"
        say(
            f"{file}: ok (task {facts['task']}, target {facts['target']} records, "
            f"budget {budget}, generator {facts['generator']}, judge {judge})"
        )
    if as_json:
        emit_json({"ok": not failed, "configs": results})
    if len(failed) == 1 and len(files) == 1:
        raise failed[0]
    if failed:
        raise ConfigError(
            f"{len(failed)} of {len(files)} config files have errors",
            hint="fix the errors above",
        )


@config_group.command("show")
@click.argument("file", required=False, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of YAML.")
def show_cmd(file: Path | None, as_json: bool) -> None:
    """Print the settings FILE resolves to, without secrets.

    Precedence: defaults < FILE < environment (SYNTHGEN_*, OPENAI_BASE_URL). Every
    setting is printed, defaults included, as YAML (or JSON) on stdout; paths are as a
    run reads them (relative to the config file's folder). Nothing secret is printed:
    API keys never live in a config, and URLs lose their user info and query. Without
    FILE, shows the defaults and the environment.

    Examples:

    \b
      synthgen config show configs/text-to-sql.yaml
      synthgen config show configs/support-triage.yaml --json | jq .filter.judge
      SYNTHGEN_MODEL=qwen2.5 synthgen config show configs/support-triage.yaml
    """
    from synthgen.config import load_config

    data = _scrubbed(load_config(file, {}).redacted())
    if as_json:
        emit_json(data)
        return
    import yaml

    source = f"{file} < " if file else ""
    click.echo(f"# resolved: defaults < {source}environment; no secrets")
    click.echo(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), nl=False)


def _facts(cfg: Config) -> dict[str, Any]:
    """What `config check` says about a config that passed."""
    judge = cfg.filter.judge
    return {
        "task": cfg.task,
        "target": cfg.target.count,
        "max_cost_usd": cfg.budget.max_cost_usd,
        "generator": cfg.endpoint.model,
        "judge": (judge.models or [cfg.endpoint.model]) if judge.enabled else [],
    }


def _scrubbed(tree: Any) -> Any:
    """Every base_url without credentials: redacted() covers the generator's only."""
    from synthgen.llm.types import scrub_url

    if isinstance(tree, dict):
        return {
            k: scrub_url(v) if k.endswith("base_url") and isinstance(v, str) else _scrubbed(v)
            for k, v in tree.items()
        }
    if isinstance(tree, list):
        return [_scrubbed(v) for v in tree]
    return tree

"""`synthgen config`: check a config file, or show the settings it resolves to."""

from __future__ import annotations

from pathlib import Path

import click

from synthgen.cli.common import SuggestingGroup, emit_json


@click.group("config", cls=SuggestingGroup)
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
    import synthgen.api as api
    from synthgen.core.console import Console
    from synthgen.errors import ConfigError

    checked = api.check_configs(files, say=Console().say)
    if as_json:
        emit_json(checked.to_json())
    if len(checked.errors) == 1 and len(files) == 1:
        raise checked.errors[0]
    if checked.errors:
        raise ConfigError(
            f"{len(checked.errors)} of {len(files)} config files have errors",
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
    import synthgen.api as api

    data = api.show_config(file)
    if as_json:
        emit_json(data)
        return
    import yaml

    source = f"{file} < " if file else ""
    click.echo(f"# resolved: defaults < {source}environment; no secrets")
    click.echo(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), nl=False)

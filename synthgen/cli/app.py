"""The click group and the one error boundary: every command's errors end here.

Commands are imported lazily so that `synthgen --help` starts fast.
"""

from __future__ import annotations

import importlib
import os
import sys
import traceback

import click

from synthgen.cli.common import SuggestingGroup

# name -> "module:attribute", imported only when used.
LAZY_COMMANDS = {
    "expand": "synthgen.cli.expand:expand_cmd",
    "filter": "synthgen.cli.filter:filter_cmd",
    "dedup": "synthgen.cli.dedup:dedup_cmd",
    "report": "synthgen.cli.report:report_cmd",
    "audit": "synthgen.cli.audit:audit_cmd",
    "run": "synthgen.cli.run:run_cmd",
    "seeds": "synthgen.cli.seeds:seeds_group",
    "documents": "synthgen.cli.documents:documents_group",
    "standin-server": "synthgen.cli.standin:standin_server",
    "config": "synthgen.cli.config:config_group",
    "export": "synthgen.cli.export:export_cmd",
    "verify": "synthgen.cli.verify:verify_cmd",
    "review": "synthgen.cli.review:review_cmd",
    "batch": "synthgen.cli.batch:batch_group",
    "topics": "synthgen.cli.axes:topics_group",
    "personas": "synthgen.cli.axes:personas_group",
}

EXIT_CODES_HELP = """Exit codes: 0 ok · 1 runtime failure · 2 usage, config or input error ·
3 stopped by a budget or quality gate (rerun to resume) · 130 interrupted (rerun to resume)."""


class LazyGroup(SuggestingGroup):
    """A group whose commands are imported on first use, with the one error boundary."""

    def invoke(self, ctx: click.Context) -> object:
        """Run the command; turn whatever ends it into one message and an exit code."""
        from synthgen.errors import SynthgenError

        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
            raise
        except SynthgenError as e:
            click.echo(f"error: {e.render()}", err=True)
            raise click.exceptions.Exit(e.exit_code) from None
        except KeyboardInterrupt:
            # click would say "Aborted!" and exit 1; every synthgen command resumes on a rerun.
            click.echo("\ninterrupted: rerun the same command to resume", err=True)
            raise click.exceptions.Exit(130) from None
        except Exception as e:
            if os.environ.get("SYNTHGEN_DEBUG") == "1":
                traceback.print_exception(e, file=sys.stderr)
            what = str(e).splitlines()[0] if str(e) else ""
            click.echo(
                f"internal error: {type(e).__name__}: {what}\n"
                "  how to fix: this is a bug in synthgen; rerun with SYNTHGEN_DEBUG=1 for the "
                "traceback and report it",
                err=True,
            )
            raise click.exceptions.Exit(1) from None

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every command, without importing any."""
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """Import a command's module when it is asked for."""
        ref = LAZY_COMMANDS.get(cmd_name)
        if ref is None:
            return super().get_command(ctx, cmd_name)
        module, attr = ref.split(":")
        command = getattr(importlib.import_module(module), attr)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=LazyGroup, epilog=EXIT_CODES_HELP)
@click.version_option(package_name="synthgen")
def cli() -> None:
    """synthgen: expand a few hand-written seed examples into a large, traceable dataset.

    Every record carries its provenance (seeds, prompt, model, settings); every dropped
    candidate is ledgered with a reason; answers are cached so reruns resume for free.
    """


def main() -> None:
    """The console script: the group, and Ctrl-C outside any command (e.g. while loading)."""
    try:
        cli(standalone_mode=True)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        raise SystemExit(130) from None

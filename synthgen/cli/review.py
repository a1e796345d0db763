"""`synthgen review`: the local web app for seeds, audit samples, drift and the ledger."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from synthgen.api import ReviewHandle


@click.command("review")
@click.argument("path", metavar="RUN_DIR|DATA.jsonl", type=click.Path(path_type=Path))
@click.argument("compare", metavar="[PATH2]", required=False, type=click.Path(path_type=Path))
@click.option(
    "--seeds",
    type=click.Path(path_type=Path),
    help="Seed file for the Seeds page.",
    show_default="a run dir's own seeds",
)
@click.option(
    "--port",
    type=int,
    show_default="8765 if free, else any",
    help="Port to listen on (0: any free one).",
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to bind; any other than loopback needs --token.",
)
@click.option("--token", help="The URL's secret.", show_default="a random one")
@click.option(
    "--sample",
    type=int,
    default=50,
    show_default=True,
    help="Records to audit (0: all), as `synthgen audit --sample`.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the sample.")
@click.option(
    "--include-dropped",
    is_flag=True,
    help="Also sample candidates the judge dropped, as `synthgen audit`.",
)
@click.option(
    "--show-judge",
    is_flag=True,
    help="Show the judge's verdict before you decide (by default it is hidden until then).",
)
@click.option("--no-open", is_flag=True, help="Do not open a browser.")
def review_cmd(
    path: Path,
    compare: Path | None,
    seeds: Path | None,
    port: int | None,
    host: str,
    token: str | None,
    sample: int,
    seed: int,
    include_dropped: bool,
    show_judge: bool,
    no_open: bool,
) -> None:
    """Review in the browser: curate the seeds, audit a sample with the keyboard (blind to
    the judge until you decide), watch drift per round, browse the ledger.

    Prints the URL (with its random token) and serves until Ctrl-C. Labels go to the verdict
    file `synthgen audit` uses, so the two share them and a restarted review resumes. Needs
    the optional extra: pip install 'synthgen[review]'.

    Examples:

      synthgen review out/run

      synthgen review out/run --seeds seeds/support_triage.jsonl --port 9000

      synthgen review out/run-a out/run-b
    """
    import synthgen.api as api

    api.review(
        path,
        compare,
        seeds=seeds,
        host=host,
        port=port,
        token=token,
        sample=sample,
        seed=seed,
        include_dropped=include_dropped,
        blind=not show_judge,
        open_browser=not no_open,
        wait=True,
        say=_say,
        on_ready=_print_url,
    )


def _say(message: str) -> None:
    click.echo(message, err=True)


def _print_url(handle: ReviewHandle) -> None:
    """The URL on stdout (a script may read it); how to stop on stderr."""
    click.echo(handle.url)
    click.echo("serving the review; Ctrl-C stops it (labels are saved as you go)", err=True)

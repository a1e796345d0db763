"""`synthgen standin-server`: the fake endpoint for tests, demos and CI dry runs."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("standin-server")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8765, show_default=True, type=int, help="0 picks a free port.")
@click.option("--port-file", type=click.Path(path_type=Path), help="Write the bound port here.")
@click.option(
    "--faults", "faults_json", default="{}", show_default=True, help="Fault switches as JSON."
)
def standin_server(host: str, port: int, port_file: Path | None, faults_json: str) -> None:
    """Serve a FAKE OpenAI-compatible endpoint that produces NO USEFUL DATA.

    Deterministic placeholder text for tests, demos, benchmarks and CI dry runs, with
    switchable faults (429s, 5xx, latency, truncation, malformed JSON, ignored n,
    rejected json_schema, rate-limit headers). Never train on what it returns.

    Examples:

      synthgen standin-server --port 8765

      synthgen standin-server --faults '{"p_429": 0.2, "ignore_n": true}'
    """
    import synthgen.api as api

    api.standin_server(
        host=host,
        port=port,
        port_file=port_file,
        faults=faults_json,
        on_ready=lambda url: click.echo(f"stand-in endpoint (NO USEFUL DATA) at {url}", err=True),
    )

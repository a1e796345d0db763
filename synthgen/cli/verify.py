"""`synthgen verify`: check a run directory against its manifest."""

from __future__ import annotations

from pathlib import Path

import click

from synthgen.cli.common import exit_with, json_option


@click.command("verify")
@click.argument("run_dir", metavar="RUN_DIR", type=click.Path(path_type=Path))
@json_option
def verify_cmd(run_dir: Path, as_json: bool) -> None:
    """Check that RUN_DIR is still what its manifest.json says.

    Every file the manifest lists must exist with the same sha256, and no other file may
    be in RUN_DIR (one it does not list is named: it was added after the run, and a consumer
    of the directory would take it for part of the run's output; the verdicts `synthgen
    audit` keeps beside a listed file are noted, not a problem); data.jsonl must hold
    counts.kept records with no id twice; dropped.jsonl must hold the dropped counts per
    stage and reason; and candidates must equal kept plus dropped. Grounded records' spans
    are recomputed against the stored extracted texts (documents/): each chunk's sha256, each
    quote at its span; RUN_DIR may also be a JSONL file `expand --documents` wrote, whose
    spans are checked against OUT.documents/. Exits 0 when all hold,
    1 with one line per problem otherwise, 2 when RUN_DIR has no manifest.

    Examples:

    \b
      synthgen verify runs/support-triage
      synthgen verify runs/support-triage --json
      synthgen verify grounded.jsonl
    """
    import synthgen.api as api
    from synthgen.cli.common import emit_json
    from synthgen.core.console import Console

    result = api.verify(run_dir, say=Console().say)
    if as_json:
        emit_json(result.model_dump(mode="json"))
    if not result.ok:
        exit_with(1)

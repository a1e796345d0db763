"""`synthgen topics propose` and `synthgen personas sample`: the sources of generation.axes."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import click

from synthgen.cli.common import SuggestingGroup, emit_json, json_option


@click.group("topics", cls=SuggestingGroup)
def topics_group() -> None:
    """A topic map of the task, for generation.axes."""


@topics_group.command("propose")
@click.argument("config", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help="YAML out.")
@click.option("-k", "--topics", type=int, default=8, show_default=True, help="Topics.")
@click.option("-s", "--subtopics", type=int, default=4, show_default=True, help="Per topic.")
@click.option("--model", help="Generator model (else the config's).")
@click.option("--base-url", help="OpenAI-compatible endpoint (else the config's).")
@click.option("--state-dir", type=click.Path(path_type=Path), help="Cache and run state.")
@click.option("--offline", is_flag=True, help="Answer from the cache only; send nothing.")
@json_option
def topics_propose(
    config: Path,
    output: Path,
    topics: int,
    subtopics: int,
    model: str | None,
    base_url: str | None,
    state_dir: Path | None,
    offline: bool,
    as_json: bool,
) -> None:
    """Ask the config's generator for a two-level topic map of its task (shown a sample of
    its seeds) and write it as YAML for you to edit; then set
    `generation.axes.topic: topics.yaml`, and each call states one `topic / subtopic`. One
    request, cached in the state dir (a rerun pays nothing) and priced.

    Examples:

      synthgen topics propose configs/support-triage.yaml -o topics.yaml

      synthgen topics propose my-run.yaml -o topics.yaml -k 12 -s 5 --json
    """
    import synthgen.api as api

    done = api.topics_propose(
        config,
        output,
        topics=topics,
        subtopics=subtopics,
        model=model,
        base_url=base_url,
        state_dir=state_dir,
        offline=offline,
        say=lambda m: click.echo(m, err=True),
    )
    if as_json:
        emit_json(asdict(done))
        return
    paid = "from the cache" if done.cached else f"{done.tokens} tokens, ${done.cost_usd:.4f}"
    click.echo(
        f"{done.topics} topics, {done.values} topic / subtopic values → {done.path} ({paid})",
        err=True,
    )


@click.group("personas", cls=SuggestingGroup)
def personas_group() -> None:
    """Persona files, for generation.axes."""


@personas_group.command("sample")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("-n", "count", type=int, required=True, help="Rows to draw.")
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help="File out.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the draw.")
@click.option("--field", help="The field compared; without it, every field of a row.")
@json_option
def personas_sample(
    file: Path, count: int, output: Path, seed: int, field: str | None, as_json: bool
) -> None:
    """Draw a spread-out subset of N rows from a large persona file (JSONL, CSV or text
    lines): MinHash over each row's description groups look-alikes, and a seeded
    round-robin over the groups skips near-duplicates of rows already drawn. Written in the
    file's own format; the same file, N and seed give the same subset.

    Examples:

      synthgen personas sample personas-100k.jsonl -n 1000 -o personas.jsonl

      synthgen personas sample people.csv -n 200 -o few.csv --field description --seed 3
    """
    import synthgen.api as api

    done = api.personas_sample(file, count, output, seed=seed, field=field)
    if as_json:
        emit_json(asdict(done))
        return
    click.echo(f"{done.sampled} of {done.rows} rows → {done.path}", err=True)

"""`synthgen dedup`: drop exact, near and semantic duplicates, seed copies and eval leaks."""

from __future__ import annotations

from pathlib import Path

import click

from synthgen.cli.common import (
    check_stdout_use,
    emit_json,
    finish_run,
    format_option,
    json_option,
    output_options,
)


@click.command("dedup")
@click.argument("input_file", metavar="IN", type=click.Path(path_type=Path))
@output_options
@click.option(
    "--method",
    type=click.Choice(["exact", "minhash", "rouge-l", "semantic"]),
    default="minhash",
    show_default=True,
    help="exact: normalised text only; minhash: exact + word 2-gram Jaccard (MinHash-LSH, "
    "verified); rouge-l: Self-Instruct's ROUGE-L filter; semantic: exact + embedding cosine.",
)
@click.option(
    "--threshold",
    type=float,
    help="Similarity that makes a duplicate.",
    show_default="minhash 0.5 (Jaccard ≥), rouge-l 0.7 (F1 >), semantic 0.9 (cosine ≥)",
)
@click.option(
    "--fields",
    help="Fields compared, comma-separated; instruction,input,output compares whole records.",
    show_default="instruction,input; rouge-l: instruction, as Self-Instruct",
)
@click.option(
    "--against",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Drop records that copy this set (seeds, an earlier dataset); repeatable.",
)
@click.option(
    "--decontaminate",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Drop records that leak this evaluation set (13-gram overlap or near copy); repeatable.",
)
@click.option(
    "--keep",
    type=click.Choice(["first", "best", "shortest", "longest"]),
    default="first",
    show_default=True,
    help="Which record of a duplicate group survives (best: highest judge score).",
)
@format_option
@click.option(
    "--embeddings",
    type=click.Choice(["wordllama", "endpoint"]),
    default="wordllama",
    show_default=True,
    help="Semantic method: the bundled wordllama model, or the endpoint's /v1/embeddings.",
)
@click.option(
    "--semantic-index",
    type=click.Choice(["auto", "exact", "ivf"]),
    default="auto",
    show_default=True,
    help="Semantic method: compare with every kept record (exact), or with those in the "
    "nearest cells of an index (ivf; each pair still decided by its exact cosine); auto: ivf "
    "from 50k records.",
)
@click.option("--model", help="Embedding model at the endpoint (--embeddings endpoint).")
@click.option("--base-url", help="OpenAI-compatible base URL (--embeddings endpoint).")
@click.option(
    "--state-dir",
    type=click.Path(path_type=Path),
    default=Path(".synthgen"),
    show_default=True,
    help="Response cache for endpoint embeddings; ledger and manifest of -o -.",
)
@json_option
def dedup_cmd(
    input_file: Path,
    output: str,
    ledger: Path | None,
    method: str,
    threshold: float | None,
    fields: str | None,
    against: tuple[Path, ...],
    decontaminate: tuple[Path, ...],
    keep: str,
    fmt: str | None,
    embeddings: str,
    semantic_index: str,
    model: str | None,
    base_url: str | None,
    state_dir: Path,
    as_json: bool,
) -> None:
    """Drop duplicate records from IN and write the rest to OUTPUT.

    Exact copies (after Unicode NFKC, casefolding, punctuation and whitespace
    normalisation) always go; --method adds near copies. Every candidate pair is verified
    exactly before a record is dropped. Each dropped record goes to the ledger with the id
    and similarity of what it matched; kept records get provenance.dedup (nearest id,
    similarity). Also writes OUTPUT's .manifest.json.

    Examples:

    \b
      synthgen dedup raw.jsonl -o unique.jsonl
      synthgen dedup raw.jsonl -o out.jsonl --method rouge-l --against seeds.jsonl
      synthgen dedup raw.jsonl -o clean.jsonl --decontaminate eval.jsonl --keep best --json
    """
    import synthgen.api as api
    from synthgen.core.console import Console

    say = Console().say

    check_stdout_use(output, as_json)
    summary = api.dedup(
        input_file,
        output=output,
        ledger=ledger,
        method=method,
        threshold=threshold,
        fields=fields,
        against=against,
        decontaminate=decontaminate,
        keep=keep,
        format=fmt,
        embeddings=embeddings,
        semantic_index=semantic_index,
        model=model,
        base_url=base_url,
        state_dir=state_dir,
        say=say,
    )
    if summary.exit_code != 0:
        finish_run(summary, as_json, say)
    if as_json:
        emit_json(summary.to_json())

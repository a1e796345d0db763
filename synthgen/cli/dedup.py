"""`synthgen dedup`: drop exact, near and semantic duplicates, seed copies and eval leaks."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from synthgen.cli.common import check_stdout_use, emit_json, fail


@click.command("dedup")
@click.argument("input_file", metavar="IN", type=click.Path(path_type=Path))
@click.option("-o", "--output", required=True, help="Output JSONL path, or - for stdout.")
@click.option(
    "--rejected",
    type=click.Path(path_type=Path),
    help="Ledger of dropped records [default: OUTPUT's .ledger.jsonl].",
)
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
    help="Similarity that makes a duplicate [default: minhash 0.5 (Jaccard ≥), rouge-l 0.7 "
    "(F1 >), semantic 0.9 (cosine ≥)].",
)
@click.option(
    "--fields",
    help="Fields compared, comma-separated [default: instruction,input; rouge-l: instruction, "
    "as Self-Instruct]; instruction,input,output compares whole records.",
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
@click.option("--format", "fmt", help="Force the input format (else autodetected).")
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
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary on stdout.")
def dedup_cmd(**opts: Any) -> None:
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
    from synthgen.errors import Interrupted, SynthgenError

    try:
        check_stdout_use(opts["output"], opts["as_json"])
        _dedup(opts)
    except SynthgenError as e:
        fail(e)
    except KeyboardInterrupt:
        fail(
            Interrupted(
                "interrupted: the output was not replaced",
                hint="run the same command again (dedup redoes its work)",
            )
        )


def _dedup(opts: dict[str, Any]) -> None:
    from pydantic import ValidationError

    from synthgen.core.console import say
    from synthgen.errors import UsageError
    from synthgen.stages.dedup.stage import DedupConfig, run_dedup

    try:
        cfg = DedupConfig(
            input=str(opts["input_file"]),
            output=opts["output"],
            rejected=str(opts["rejected"]) if opts["rejected"] else None,
            method=opts["method"],
            threshold=opts["threshold"],
            fields=None
            if opts["fields"] is None
            else tuple(f.strip() for f in opts["fields"].split(",") if f.strip()),
            against=tuple(str(p) for p in opts["against"]),
            decontaminate=tuple(str(p) for p in opts["decontaminate"]),
            keep=opts["keep"],
            fmt=opts["fmt"],
            state_dir=str(opts["state_dir"]),
            semantic_index=opts["semantic_index"],
        )
    except ValidationError as e:
        msg = str(e.errors()[0]["msg"]).removeprefix("Value error, ")
        raise UsageError(f"--fields: {msg}", hint="e.g. --fields instruction,input") from None
    embed = None
    if cfg.method == "semantic":
        from synthgen.stages.dedup.semantic import make_embedder

        embed = make_embedder(
            opts["embeddings"], opts["model"], opts["base_url"], opts["state_dir"]
        )
    summary = run_dedup(cfg, say, embed)
    if opts["as_json"]:
        emit_json(summary)
    sys.exit(summary["exit_code"])

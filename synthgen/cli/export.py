"""`synthgen export`: kept records as training files, optionally split."""

from __future__ import annotations

from pathlib import Path

import click

from synthgen.cli.common import json_option

FORMATS = ("alpaca", "messages", "sharegpt", "prompt-completion", "dpo")


@click.command("export")
@click.argument("source", metavar="IN", type=click.Path(path_type=Path))
@click.option(
    "-o", "--output", required=True, type=click.Path(path_type=Path), help="Output JSONL path."
)
@click.option(
    "--to",
    "fmt",
    type=click.Choice(FORMATS),
    help="The trainer format written (required). alpaca: instruction/input/output; "
    "messages: TRL conversational (user and assistant turns); sharegpt: conversations "
    "(human, gpt); prompt-completion: TRL standard; "
    "dpo: TRL preference pairs (prompt, chosen, rejected).",
)
@click.option("--format", "fmt_alias", type=click.Choice(FORMATS), hidden=True)
@click.option("--with-ids", is_flag=True, help='Keep each record\'s id as an "id" field.')
@click.option(
    "--last-turn",
    is_flag=True,
    help="alpaca and prompt-completion: export each conversation's last exchange (without "
    "it a conversation is an error there).",
)
@click.option(
    "--split",
    "splits",
    multiple=True,
    metavar="NAME=FRACTION",
    help="Hold out a share of the records, e.g. validation=0.05; repeatable; train gets the "
    "rest. Writes OUTPUT's stem + .NAME.jsonl per split.",
)
@click.option(
    "--split-seed",
    type=int,
    default=0,
    show_default=True,
    help="Seed of the split assignment (same seed, same split).",
)
@json_option
def export_cmd(
    source: Path,
    output: Path,
    fmt: str | None,
    fmt_alias: str | None,
    with_ids: bool,
    last_turn: bool,
    splits: tuple[str, ...],
    split_seed: int,
    as_json: bool,
) -> None:
    """Write the records of IN (a run directory or any dataset file) for a trainer.

    A run directory's kept records (data.jsonl) are read; any dataset file synthgen reads
    works too. Each line holds only the format's fields (and "id" with --with-ids). The
    prompt is the instruction, then the input after a blank line when there is one.

    A conversation (a record with several exchanges) keeps every turn in messages and
    sharegpt, its system turn first. alpaca and prompt-completion hold one exchange: they
    refuse a conversation unless --last-turn, which exports its last exchange.

    dpo writes TRL's standard preference format, {"prompt", "chosen", "rejected"}, from the
    preference records `synthgen filter` makes of `expand --responses-per-instruction K`;
    any other record is an error there (exit 2). The other formats export a preference
    record as its chosen response.

    With --split, a record's split comes from a hash of its id and --split-seed, so the
    same input and seed give byte-identical files; records keep their input order. Files
    appear whole or not at all.

    Examples:

    \b
      synthgen export run/ -o sft.jsonl --to messages
      synthgen export run/ -o out/sft.jsonl --to alpaca --split validation=0.05
      synthgen export data.jsonl -o chat.jsonl --to sharegpt --with-ids --json
      synthgen export chats.jsonl -o last.jsonl --to alpaca --last-turn
      synthgen export pairs.jsonl -o dpo.jsonl --to dpo --split test=0.05
    """
    import synthgen.api as api
    from synthgen.cli.common import emit_json
    from synthgen.core.console import Console

    summary = api.export(
        source,
        output=output,
        to=fmt or fmt_alias,
        with_ids=with_ids,
        split=splits,
        last_turn=last_turn,
        split_seed=split_seed,
        say=Console().say,
    )
    if as_json:
        emit_json(summary.model_dump(mode="json"))

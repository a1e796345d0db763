"""One CLI: the same option names across commands (old names kept as hidden aliases),
defaults shown one way, help that says what an option does, a suggestion for a mistyped
command; and a Python API whose functions show every keyword with its type."""

from __future__ import annotations

import inspect
import json
import pydoc
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from support.helpers import run

import synthgen
from synthgen.api.options import EXPAND_OPTIONS, FILTER_OPTIONS, RUN_OPTIONS
from synthgen.cli.app import cli

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "configs" / "support-triage.yaml"


def _commands(
    group: click.Group, ctx: click.Context, path: str
) -> Iterator[tuple[str, click.Command]]:
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None
        if isinstance(command, click.Group):
            yield from _commands(command, click.Context(command, parent=ctx), f"{path} {name}")
        else:
            yield f"{path} {name}".strip(), command


def _options() -> Iterator[tuple[str, click.Option]]:
    ctx = click.Context(cli)
    for name, command in _commands(cli, ctx, ""):
        for p in command.params:
            if isinstance(p, click.Option) and not p.hidden:
                yield name, p


def test_defaults_are_shown_one_way_by_click() -> None:
    """No option writes its default into its help text; every default click knows is shown."""
    for command, opt in _options():
        where = f"{command} {opt.opts}"
        text = opt.help or ""
        assert "[default" not in text and "default:" not in text, where
        assert not any(f"[{c}" in text for c in "0123456789"), where
        unset = opt.default is None or opt.default is getattr(click.core, "UNSET", None)
        static = not unset and not opt.is_flag and not opt.multiple
        if static and not callable(opt.default):
            assert opt.show_default, f"{where}: default {opt.default!r} not shown"


def test_timeout_help_says_seconds_of_silence() -> None:
    helps = {c: o.help or "" for c, o in _options() if "--timeout" in o.opts}
    assert helps and all("silence" in h and "per request" not in h for h in helps.values())


def test_stage_and_run_share_output_and_count_names() -> None:
    names = {
        c: {s for o in cmd.params for s in o.opts}
        for c, cmd in _commands(cli, click.Context(cli), "")
    }
    for command in ("expand", "filter", "dedup", "export", "run"):
        assert {"-o", "--output"} <= names[command], command
    for command in ("expand", "run"):
        assert {"-n", "--count"} <= names[command], command
    assert "--to" in names["export"]
    hidden = {
        c: {s for o in cmd.params if isinstance(o, click.Option) and o.hidden for s in o.opts}
        for c, cmd in _commands(cli, click.Context(cli), "")
    }
    assert "--out" in hidden["run"] and "--format" in hidden["export"]


@pytest.fixture
def closed_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


@pytest.mark.parametrize("flag", ["-o", "--output", "--out"])
def test_run_output_old_and_new_names_choose_the_run_dir(
    flag: str, tmp_path: Path, closed_url: str
) -> None:
    # nothing answers, so the run stops at once; its headline names the run dir it chose
    run_dir = tmp_path / "chosen"
    args = ["run", str(CONFIG), flag, str(run_dir), "-n", "5", "--state-dir", str(tmp_path / "s")]
    r = run([*args, "--base-url", closed_url])
    assert r.code == 2 and "cannot connect" in r.stderr
    assert "0/5 kept" in r.stderr and str(run_dir) in r.stderr, r.stderr


def test_run_count_short_name() -> None:
    r = run(["run", str(CONFIG), "-n", "7", "--dry-run", "--json"])
    assert r.code == 0 and r.json()["target"] == 7, r.stderr


def _dataset(tmp_path: Path) -> Path:
    data = tmp_path / "data.jsonl"
    rows = [{"instruction": f"Say hello number {i} now.", "output": f"hello {i}"} for i in range(3)]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return data


@pytest.mark.parametrize("flag", ["--to", "--format"])
def test_export_to_names_the_output_format(flag: str, tmp_path: Path) -> None:
    out = tmp_path / "sft.jsonl"
    r = run(["export", str(_dataset(tmp_path)), "-o", str(out), flag, "messages", "--json"])
    assert r.code == 0, r.stderr
    assert r.json()["format"] == "messages"
    assert json.loads(out.read_text().splitlines()[0])["messages"][0]["role"] == "user"


def test_export_without_a_format_is_exit_2(tmp_path: Path) -> None:
    r = run(["export", str(_dataset(tmp_path)), "-o", str(tmp_path / "o.jsonl")])
    assert r.code == 2 and "--to" in r.stderr and "Traceback" not in r.stderr


def test_seeds_inspect_exits_2_when_it_lists_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b'{"instruction": "x y z w", "output": "ok"}\n\xff\xfe\n')
    r = run(["seeds", "inspect", str(bad), "--json"])
    assert r.code == 2
    assert any(p["severity"] == "error" for p in r.json()["problems"])  # still reported
    r = run(["seeds", "inspect", str(bad)])
    assert r.code == 2 and "UTF-8" in r.stderr
    good = tmp_path / "good.jsonl"
    good.write_text('{"instruction": "Say hello to the user.", "output": "hello"}\n')
    assert run(["seeds", "inspect", str(good)]).code == 0


@pytest.mark.parametrize(
    ("args", "meant"),
    [
        (["repot"], "'report'"),
        (["standin"], "'standin-server'"),
        (["seeds", "inspct"], "'inspect'"),
        (["batch", "stauts"], "'status'"),
    ],
)
def test_a_mistyped_command_gets_a_suggestion(args: list[str], meant: str) -> None:
    r = run(args)
    assert r.code == 2 and f"Did you mean {meant}" in r.stderr, r.stderr


def test_an_unknown_command_like_nothing_gets_no_suggestion() -> None:
    r = run(["zzzzzz"])
    assert r.code == 2 and "No such command 'zzzzzz'." in r.stderr and "Did you" not in r.stderr


@pytest.mark.parametrize(
    ("name", "keywords"),
    [("expand", EXPAND_OPTIONS), ("filter", FILTER_OPTIONS), ("run", RUN_OPTIONS)],
)
def test_the_api_functions_show_every_keyword_typed(name: str, keywords: dict[str, str]) -> None:
    fn = getattr(synthgen, name)
    params = inspect.signature(fn).parameters
    assert not any(p.kind is p.VAR_KEYWORD for p in params.values())
    for key in keywords:
        assert params[key].kind is inspect.Parameter.KEYWORD_ONLY, key
        assert params[key].default is None and params[key].annotation, key
    text = pydoc.render_doc(fn, renderer=pydoc.plaintext)
    assert "max_cost_usd: 'float | None' = None" in text


def test_dir_lists_the_public_api_without_importing_it() -> None:
    code = (
        "import sys, synthgen\nprint(','.join(dir(synthgen)))\nprint('synthgen.api' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    names, loaded = out.stdout.split()
    assert {"run", "expand", "filter", "dedup", "report", "export", "verify", "audit"} <= set(
        names.split(",")
    )
    assert loaded == "False"
    assert set(synthgen.__all__) <= set(dir(synthgen))
    for name in synthgen.__all__:
        assert getattr(synthgen, name) is not None


@pytest.mark.parametrize(
    ("command", "keys"), [("expand", EXPAND_OPTIONS), ("filter", FILTER_OPTIONS)]
)
def test_a_shown_default_is_the_configs_default(
    command: str, keys: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The help shows what the config resolves to when nothing is given."""
    from synthgen.config import load_config

    for var in ("OPENAI_BASE_URL", "SYNTHGEN_MODEL", "SYNTHGEN_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    cfg = load_config(None, {})
    cmd = cli.get_command(click.Context(cli), command)
    assert cmd is not None
    checked = 0
    for p in cmd.params:
        key = keys.get(p.name or "")
        shown = p.show_default if isinstance(p, click.Option) else None
        if key is None or not isinstance(shown, str):
            continue
        value: object = cfg
        for part in key.split("."):
            value = getattr(value, part)
        as_text = str(value)
        if isinstance(value, float) and value.is_integer() and "." not in shown:
            as_text = str(int(value))
        assert shown == as_text, (p.name, shown, value)
        checked += 1
    assert checked >= 5

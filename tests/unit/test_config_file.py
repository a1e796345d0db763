"""Config errors name the file, line and key of a bad setting, or the source it came from."""

from __future__ import annotations

from pathlib import Path

import pytest

from synthgen.config import Config, TaskRules, check_config, load_config
from synthgen.errors import ConfigError


def _write(tmp_path: Path, text: str) -> Path:
    f = tmp_path / "c.yaml"
    f.write_text(text)
    return f


def _error(
    file: Path | None, cli: dict[str, object] | None = None, env: dict[str, str] | None = None
) -> ConfigError:
    with pytest.raises(ConfigError) as e:
        load_config(file, cli or {}, env or {})
    return e.value


def test_unknown_key_is_named_with_its_line_and_the_valid_keys(tmp_path: Path) -> None:
    f = _write(tmp_path, "task: t\ngeneration:\n  count: 10\n\n  temprature: 0.7\n")
    e = _error(f)
    assert e.message.startswith(f"{f}:5: generation.temprature: unknown key"), e.message
    assert e.hint is not None
    assert "valid keys in generation:" in e.hint and '"temperature"' in e.hint
    for name in ("strategy", "count", "per_call", "top_p", "operators"):
        assert name in e.hint


def test_unknown_top_level_key_lists_the_sections(tmp_path: Path) -> None:
    e = _error(_write(tmp_path, "task: t\ntargets: {count: 5}\n"))
    assert e.message.endswith(":2: targets: unknown key")
    assert e.hint is not None and "at the top level" in e.hint
    assert all(name in e.hint for name in Config.model_fields)


def test_unknown_key_in_a_dict_of_models(tmp_path: Path) -> None:
    text = "filter:\n  rules:\n    tasks:\n      sql:\n        min_wrds: 3\n"
    e = _error(_write(tmp_path, text))
    assert ":5: filter.rules.tasks.sql.min_wrds: unknown key" in e.message
    assert e.hint is not None and all(name in e.hint for name in TaskRules.model_fields)


def test_wrong_type_and_out_of_range_are_named_with_their_lines(tmp_path: Path) -> None:
    f = _write(tmp_path, "generation:\n  count: many\n  seed: 3\n  temperature: 3\n")
    e = _error(f)
    assert e.message.startswith(f"{f}:2: generation.count: Input should be a valid integer")
    assert f"{f}:4: generation.temperature: Input should be less than or equal to 2" in e.message


def test_list_items_and_missing_fields_point_at_their_lines(tmp_path: Path) -> None:
    text = "outputs:\n  formats:\n    - alpaca\n    - csv\nprices:\n  m: {input: 1}\n"
    e = _error(_write(tmp_path, text))
    assert ":4: outputs.formats[1]: Input should be" in e.message
    assert ":6: prices.m.output: Field required" in e.message


def test_a_cross_field_error_points_at_its_section(tmp_path: Path) -> None:
    text = "task: t\ngeneration:\n  strategy: evol\n  responses: separate\n"
    e = _error(_write(tmp_path, text))
    assert ":2: generation: responses: separate works with the self-instruct" in e.message


def test_a_bad_value_from_the_command_line_is_named_as_such(tmp_path: Path) -> None:
    f = _write(tmp_path, "generation:\n  temperature: 0.5\n")
    e = _error(f, cli={"generation.temperature": 5.0})
    assert e.message.startswith("setting generation.temperature (from the command line):")
    assert str(f) not in e.message  # the file's value was fine


def test_a_bad_value_from_the_environment_names_the_variable(tmp_path: Path) -> None:
    f = _write(tmp_path, "endpoint:\n  concurrency: 4\n")
    e = _error(f, env={"SYNTHGEN_CONCURRENCY": "lots"})
    assert e.message.startswith("setting endpoint.concurrency (from $SYNTHGEN_CONCURRENCY):")
    assert e.hint is not None and "SYNTHGEN_CONCURRENCY" in e.hint


def test_yaml_syntax_errors_and_api_keys_keep_their_messages(tmp_path: Path) -> None:
    e = _error(_write(tmp_path, "task: t\ngeneration: [unclosed\n"))
    assert "invalid YAML" in e.message and "c.yaml:" in e.message
    e = _error(_write(tmp_path, "task: t\nendpoint:\n  api_key: sk-oops\n"))
    assert ":3: endpoint.api_key: config files must not hold API keys" in e.message
    assert "sk-oops" not in e.render()


def test_paths_stay_relative_to_the_config_file(tmp_path: Path) -> None:
    sub = tmp_path / "configs"
    sub.mkdir()
    f = sub / "c.yaml"
    text = "seeds: [s.jsonl]\ndedup: {against: [a.jsonl]}\nfilter: {judge: {rubric: r.yaml}}\n"
    f.write_text(text + "outputs: {dir: ../out/t}\n")
    cfg = load_config(f, {}, {})
    assert cfg.seeds == [sub / "s.jsonl"] and cfg.dedup.against == [sub / "a.jsonl"]
    assert cfg.filter.judge.rubric == sub / "r.yaml" and cfg.outputs.dir == sub / "../out/t"


def test_check_names_a_missing_input_by_key_and_line(tmp_path: Path) -> None:
    (tmp_path / "s.jsonl").write_text("")
    text = "task: t\nseeds:\n  - s.jsonl\n  - gone.jsonl\ndedup:\n  decontaminate: [eval.jsonl]\n"
    f = _write(tmp_path, text)
    with pytest.raises(ConfigError) as e:
        check_config(f, {})
    assert e.value.message.startswith(f"{f}:4: seeds[1]: no such file: ")
    assert f"{f}:6: dedup.decontaminate[0]: no such file: " in e.value.message
    assert e.value.exit_code == 2

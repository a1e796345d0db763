"""Config files and layers: YAML reading, defaults < file < env < CLI, errors at file:line."""

from __future__ import annotations

import difflib
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from synthgen.errors import ConfigError

Loc = tuple[str | int, ...]

# Environment variables and where they land in the config tree.
ENV_MAP: dict[str, tuple[str, ...]] = {
    "OPENAI_BASE_URL": ("endpoint", "base_url"),
    "SYNTHGEN_BASE_URL": ("endpoint", "base_url"),
    "SYNTHGEN_MODEL": ("endpoint", "model"),
    "SYNTHGEN_CONCURRENCY": ("endpoint", "concurrency"),
    "SYNTHGEN_RPM": ("endpoint", "rpm"),
    "SYNTHGEN_TPM": ("endpoint", "tpm"),
    "SYNTHGEN_MAX_COST_USD": ("budget", "max_cost_usd"),
    "SYNTHGEN_MAX_TOKENS": ("budget", "max_tokens"),
    "SYNTHGEN_STATE_DIR": ("state_dir",),
}

# Settings that name files: read relative to the config file's folder. True marks the
# inputs a run reads, which `config check` makes sure exist; outputs.dir and state_dir are
# written (state_dir's default, too, lies beside the config file: the answers follow it).
FILE_PATHS: dict[tuple[str, ...], bool] = {
    ("seeds",): True,
    ("filter", "judge", "rubric"): True,
    ("filter", "judge", "reference"): True,
    ("filter", "judge", "anchors"): True,
    ("filter", "judge", "seeds"): True,
    ("filter", "checks", "sql", "schema_file"): True,
    ("filter", "checks", "sql", "fixtures"): True,
    ("filter", "checks", "json_schema", "schema_file"): True,
    ("dedup", "against"): True,
    ("dedup", "decontaminate"): True,
    ("outputs", "dir"): False,
    ("state_dir",): False,
}
STATE_DIR_DEFAULT = ".synthgen"


def dotted(loc: Sequence[str | int]) -> str:
    """A setting's name as people write it: generation.temperature, seeds[0]."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


@dataclass
class Layers:
    """Each source's settings kept apart, so that an error can say where a value came from."""

    file: Path | None = None
    file_tree: dict[str, Any] = field(default_factory=dict)
    env_tree: dict[str, Any] = field(default_factory=dict)
    env_vars: dict[tuple[str, ...], str] = field(default_factory=dict)
    cli_tree: dict[str, Any] = field(default_factory=dict)

    def merged(self) -> dict[str, Any]:
        """The tree to validate: file < environment < CLI."""
        return _merge(_merge(self.file_tree, self.env_tree), self.cli_tree)

    def source(self, loc: Loc) -> str:
        """Which layer the value at `loc` comes from: "cli", "env", "file" or "default"."""
        for name, tree in (("cli", self.cli_tree), ("env", self.env_tree)):
            if _get(tree, loc) is not None:
                return name
        return "file" if _get(self.file_tree, loc) is not None else "default"

    def where(self, loc: Loc) -> tuple[str, str]:
        """Where the value at `loc` came from, as a message prefix, and how to change it."""
        key = dotted(loc)
        if _leaf_on_path(self.cli_tree, loc):
            return f"setting {key} (from the command line)", "change that option's value"
        for path, var in self.env_vars.items():
            if tuple(loc[: len(path)]) == path:
                return f"setting {key} (from ${var})", f"fix or unset {var}"
        line = find_line(self.file, loc) if self.file is not None else None
        if line is not None:
            return f"{self.file}:{line}: {key}", f"fix {key} in {self.file}"
        if _has_path(self.cli_tree, loc):
            return f"setting {key} (from the command line)", "change those options"
        return f"setting {key}", "fix the value (CLI option, SYNTHGEN_* variable or config file)"


def read_layers(file: Path | None, cli: Mapping[str, Any], env: Mapping[str, str]) -> Layers:
    """The file, environment and CLI settings as separate trees (None in `cli`: not given)."""
    layers = Layers(file=file, file_tree=read_config_file(file) if file else {})
    if file is not None:
        layers.file_tree.setdefault("state_dir", str(file.parent / STATE_DIR_DEFAULT))
    for var, path in ENV_MAP.items():
        if env.get(var):  # a later variable for the same setting wins, as in the merge
            _set(layers.env_tree, path, env[var])
            layers.env_vars[path] = var
    for name, value in cli.items():
        if value is not None:
            _set(layers.cli_tree, tuple(name.split(".")), value)
    return layers


def read_config_file(path: Path) -> dict[str, Any]:
    """A config file's settings, with the paths in it made relative to where it lies."""
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(
            f"{path}: cannot read config ({e.strerror})", hint="check the path"
        ) from e
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError(f"{where}: invalid YAML ({e})", hint="fix the YAML syntax") from e
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping", hint="see configs/*.yaml")
    secret = next((p for p in _key_paths(data) if "api_key" in str(p[-1])), None)
    if secret is not None:
        line = find_line(path, secret)
        where = f"{path}:{line}: {dotted(secret)}" if line else str(path)
        raise ConfigError(
            f"{where}: config files must not hold API keys",
            hint="remove the key; set OPENAI_API_KEY (or name another variable in api_key_env)",
        )
    for keys in FILE_PATHS:
        parent = _get(data, keys[:-1])
        if isinstance(parent, dict) and keys[-1] in parent:
            value = parent[keys[-1]]
            parent[keys[-1]] = (
                [_relative(path.parent, v) for v in value]
                if isinstance(value, list)
                else _relative(path.parent, value)
            )
    return data


def find_line(path: Path, loc: Loc) -> int | None:
    """The 1-based line of the deepest part of `loc` that the YAML file spells out."""
    import yaml

    try:
        node: Any = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except (OSError, yaml.YAMLError):
        return None
    line: int | None = None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            pair = next((kv for kv in node.value if kv[0].value == str(part)), None)
            if pair is None:
                break
            line, node = pair[0].start_mark.line, pair[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if not 0 <= part < len(node.value):
                break
            node = node.value[part]
            line = node.start_mark.line
        else:
            break
    return None if line is None else line + 1


def validation_error(err: ValidationError, layers: Layers, root: type[BaseModel]) -> ConfigError:
    """One ConfigError for pydantic's errors: each named by file:line (or source) and key."""
    problems = [_problem(detail, layers, root) for detail in err.errors()]
    message, hint = problems[0]
    extra = [p[0] for p in problems[1:]]
    message += "".join(f"\n  also {m}" for m in extra[:4])
    if len(extra) > 4:
        message += f"\n  and {len(extra) - 4} more"
    return ConfigError(message, hint=hint)


def missing_inputs(data: Mapping[str, Any], layers: Layers) -> list[str]:
    """One message per input file the resolved settings name that does not exist."""
    out: list[str] = []
    for keys, is_input in FILE_PATHS.items():
        value = _get(data, keys)
        if not is_input or value is None:
            continue
        items: list[tuple[Loc, Any]] = (
            [((*keys, i), v) for i, v in enumerate(value)]
            if isinstance(value, list)
            else [(keys, value)]
        )
        for loc, v in items:
            if not Path(str(v)).exists():
                out.append(f"{layers.where(loc)[0]}: no such file: {v}")
    return out


def _problem(detail: Any, layers: Layers, root: type[BaseModel]) -> tuple[str, str]:
    """One pydantic error as "where: key: what" and a hint."""
    loc: Loc = tuple(detail["loc"])
    where, hint = layers.where(loc)
    if detail["type"] == "extra_forbidden":
        return f"{where}: unknown key", _valid_keys_hint(root, loc)
    msg = str(detail["msg"]).removeprefix("Value error, ")
    return f"{where}: {msg}", hint


def _valid_keys_hint(root: type[BaseModel], loc: Loc) -> str:
    """The keys the section around an unknown key accepts, and the likeliest one meant."""
    model = _model_at(root, loc[:-1])
    if model is None:
        return "remove the key"
    valid = list(model.model_fields)
    section = f"in {dotted(loc[:-1])}" if loc[:-1] else "at the top level"
    hint = f"valid keys {section}: {', '.join(valid)}"
    close = difflib.get_close_matches(str(loc[-1]), valid, n=1)
    return f'{hint} (did you mean "{close[0]}"?)' if close else hint


def _model_at(root: Any, loc: Loc) -> type[BaseModel] | None:
    """The model that validates the section at `loc` (through lists and dicts of models)."""
    ann: Any = root
    for part in loc:
        if get_origin(ann) in (Union, types.UnionType):  # X | None: the X
            ann = next(a for a in get_args(ann) if a is not type(None))
        model = _as_model(ann)
        if model is not None:
            info = model.model_fields.get(str(part))
            if info is None:
                return None
            ann = info.annotation
        elif get_origin(ann) in (dict, list):
            ann = get_args(ann)[-1]  # a dict's key or a list's index: the item's type
        else:
            return None
    return _as_model(ann)


def _as_model(ann: Any) -> type[BaseModel] | None:
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return ann
    if get_origin(ann) in (Union, types.UnionType):
        return next((m for a in get_args(ann) if (m := _as_model(a)) is not None), None)
    return None


def _leaf_on_path(tree: Mapping[str, Any], loc: Loc) -> bool:
    """Whether `tree` sets a value (not a section) at `loc` or at a prefix of it."""
    node: Any = tree
    for part in loc:
        if not isinstance(node, Mapping) or part not in node:
            return False
        node = node[part]
        if not isinstance(node, Mapping):
            return True
    return False


def _has_path(tree: Mapping[str, Any], loc: Loc) -> bool:
    return bool(loc) and _get(tree, loc) is not None


def _get(tree: Any, loc: Sequence[str | int]) -> Any:
    for part in loc:
        if not isinstance(tree, Mapping) or part not in tree:
            return None
        tree = tree[part]
    return tree


def _set(tree: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for part in path[:-1]:
        tree = tree.setdefault(part, {})
    tree[path[-1]] = value


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, Mapping) and isinstance(out.get(k), dict) else v
    return out


def _relative(base: Path, value: Any) -> Any:
    """A path in a config file, read relative to the file's folder."""
    return str(base / value) if isinstance(value, str) and not Path(value).is_absolute() else value


def _key_paths(tree: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every key's path in the tree (api_key_env names a variable, so it is not one)."""
    paths: list[tuple[str, ...]] = []
    for k, v in tree.items():
        if k != "api_key_env":
            paths.append((*prefix, str(k)))
        if isinstance(v, Mapping):
            paths.extend(_key_paths(v, (*prefix, str(k))))
    return paths

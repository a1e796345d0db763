"""One versioned fingerprint of a config: every setting declared, in one table, as shaping the
records' content or not, and when it came in; record provenance, run's data hash and each
stage's job hash all derive from that table."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any, Literal

from pydantic import BaseModel

from synthgen.records import canonical_json, sha256_hex
from synthgen.text.urls import scrub_urls

# The rules below, as a number: change how a fingerprint is derived (not which settings are
# declared) and this goes up. Version 1 hashes carry no marker, as they predate the number.
FINGERPRINT_VERSION = 1

Kind = Literal["content", "runtime", "purchase"]
# When a setting came in. A fingerprint older than a setting leaves it out while it holds its
# default (a whole section when every setting in it is that young), so the state dirs and
# records made before it keep their hashes, and resume.
STAGES, RUN, LATE = 0, 1, 2  # the first config; `run`'s sections; added after both


@dataclass(frozen=True)
class Setting:
    """How one setting enters the fingerprints: what kind it is, and since when it exists."""

    kind: Kind
    since: int = STAGES


Wanted = Callable[[str, Setting], bool]  # which settings a fingerprint reads, by path


# content: shapes what is asked, what is kept and how it is judged — in every fingerprint.
# runtime: where it goes, how fast, how many, at what cap — in the whole-config fingerprint
#   (stage commands' config_sha256, which always read them) but not in run's data hash.
# purchase: how answers are bought (batch) — in none, so batch and online records match.
C, R, P = Setting("content"), Setting("runtime"), Setting("purchase")
C_RUN, R_RUN = Setting("content", RUN), Setting("runtime", RUN)
C_LATE, R_LATE = Setting("content", LATE), Setting("runtime", LATE)

# Every setting of Config, by path (tests/unit/test_fingerprint.py fails on one missing). A
# new setting comes in as C_LATE or R_LATE (P for batch-like ones), so configs that leave it
# at its default keep every hash they had.
SETTINGS: dict[str, Setting] = {
    "task": C,
    "description": C,
    "seeds": C,
    "seed_format": C,
    "endpoint.base_url": C,  # another server is another model, whatever it is called
    "endpoint.model": C,
    "endpoint.api_key_env": R,
    "endpoint.concurrency": R,
    "endpoint.rpm": R,
    "endpoint.tpm": R,
    "endpoint.timeout_s": R,
    "endpoint.max_attempts": R,
    "endpoint.backoff_base_s": R,
    "endpoint.backoff_max_s": R,
    "generation.strategy": C,
    "generation.count": R,  # how many `expand` writes: its sink trims a longer file
    "generation.per_call": C,
    "generation.temperature": C,
    "generation.top_p": C,
    "generation.seed": C,
    "generation.max_new_tokens": C,
    "generation.responses": C,
    "generation.human_examples": C,
    "generation.machine_examples": C,
    "generation.operators": C,
    "generation.responses_per_instruction": C_LATE,
    "generation.models": C_LATE,
    "generation.with_tests": C_LATE,
    "generation.axes": C_LATE,  # what every prompt states
    "generation.coverage": C_LATE,  # which candidates `run` keeps (a full cell's are not)
    "budget.max_cost_usd": R,
    "budget.max_tokens": R,
    "prices": R,
    "state_dir": R,
    "filter.rules.enabled": C,
    "filter.rules.min_words": C,
    "filter.rules.max_words": C,
    "filter.rules.blacklist": C,
    "filter.rules.refusal_phrases": C,
    "filter.rules.output_format": C,
    "filter.rules.labels": C,
    "filter.rules.output_regex": C,
    "filter.rules.disable": C,
    "filter.rules.tasks": C,
    "filter.rules.min_exchanges": C_LATE,
    "filter.rules.max_exchanges": C_LATE,
    "filter.judge.enabled": C,
    "filter.judge.models": C,
    "filter.judge.base_url": C,
    "filter.judge.threshold": C,
    "filter.judge.rubric": C,
    "filter.judge.reference": C,
    "filter.judge.seeds": C,  # the calibration decides whether the judge may go on
    "filter.judge.seed_format": C,
    "filter.judge.anchors": C,
    "filter.judge.max_seed_fail": C,
    "filter.judge.length_bias_threshold": C,
    "filter.judge.max_new_tokens": C,
    "filter.judge.retry_truncated": C_LATE,
    "filter.judge.min_margin": C_LATE,
    "filter.checks.sql": C_LATE,
    "filter.checks.json_schema": C_LATE,
    "filter.checks.python": C_LATE,
    "filter.checks.repair": C_LATE,
    "filter.checks.check_seeds": C_LATE,
    "dedup.method": C_RUN,
    "dedup.threshold": C_RUN,
    "dedup.fields": C_RUN,
    "dedup.against": C_RUN,
    "dedup.decontaminate": C_RUN,
    "target.count": R_RUN,
    "gates.min_keep_rate": R_RUN,
    "gates.max_duplicate_rate": R_RUN,
    "gates.min_mean_score": R_RUN,
    "gates.max_length_bias": R_RUN,
    "gates.fail_on": R_RUN,
    "gates.min_candidates": R_RUN,
    "gates.min_cell_coverage": R_LATE,
    "gates.max_cell_share": R_LATE,
    "outputs.dir": R_RUN,
    "outputs.formats": R_RUN,
    "outputs.split": R_RUN,
    "outputs.split_seed": R_RUN,
    "outputs.last_turn": R_LATE,
    "outputs.license": R_RUN,
    "outputs.language": R_RUN,
    "outputs.task_categories": R_LATE,
    "batch.discount": P,
    "batch.max_lines": P,
    "batch.max_mb": P,
    "batch.poll_s": P,
    "batch.max_attempts": P,
    "documents.paths": C_LATE,  # relative to the config's folder, as written (globs too)
    "documents.chunk_tokens": C_LATE,
    "documents.min_chunk_tokens": C_LATE,
    "grounding.hops": C_LATE,
    "grounding.min_quote_words": C_LATE,
    "grounding.fuzzy_min_score": C_LATE,
    "grounding.check_entities": C_LATE,
    "grounding.max_copied_share": C_LATE,
    "grounding.verdict": C_LATE,
    "grounding.verdict_model": C_LATE,
    "grounding.min_chunk_coverage": R_LATE,  # a gate: when to stop, not what is kept
}

# Version 1 of run's data hash read all of `generation`, so it reads this runtime setting too
# (run itself ignores it); dropping it would change every run record's config_sha256.
DATA_V1_ALSO = frozenset({"generation.count"})


@dataclass(frozen=True)
class Origin:
    """A config file's folder, which its paths are read from, and the path settings (keys of
    configfile.FILE_PATHS) whose values the file gave (not the command line or environment)."""

    home: Path
    paths: frozenset[tuple[str, ...]]


def config_sha256(cfg: BaseModel, home: Origin | None = None) -> str:
    """The whole config's fingerprint (stage commands' provenance): every setting but how
    answers are bought. `home`: where the config file's paths are read from."""
    return _digest(_project(cfg, (), lambda p, s: s.kind != "purchase", STAGES, home))


def data_sha256(cfg: BaseModel, home: Origin | None = None) -> str:
    """The settings that shape the records' content (not where they go, how fast, how many or
    at what cap): run's records' config_sha256, so a larger target or budget, another state dir
    or --offline write the same bytes."""
    return _digest(_project(cfg, (), _shapes_data, RUN, home))


def _shapes_data(path: str, setting: Setting) -> bool:
    return setting.kind == "content" or path in DATA_V1_ALSO


def home_relative(data: dict[str, Any], origin: Origin) -> dict[str, Any]:
    """`data` (a dumped Config) with the paths its config file gave spelled the same from any
    working directory: as seen from the folder above the config's (`configs/../seeds/x.jsonl`,
    the spelling every hash had when run from the repository's root), and the state dir from
    the config's folder (`.synthgen`). Paths from the command line or the environment, and
    absolute ones, stay as given."""
    out = dict(data)  # the nested sections are model_dump's own, fresh copies
    home = origin.home
    name = PurePath(os.path.abspath(home)).name
    for keys in origin.paths:
        parent: Any = out
        for k in keys[:-1]:
            parent = parent.get(k) if isinstance(parent, dict) else None
        if not isinstance(parent, dict) or parent.get(keys[-1]) is None:
            continue
        above = "" if keys == ("state_dir",) else name
        value = parent[keys[-1]]
        parent[keys[-1]] = (
            [_from_home(v, home, above) for v in value]
            if isinstance(value, list)
            else _from_home(value, home, above)
        )
    return out


def _from_home(value: Any, home: Path, above: str) -> Any:
    if not isinstance(value, str) or Path(value).is_absolute() != home.is_absolute():
        return value
    try:
        rel = Path(value).relative_to(home)  # lexical: configs/../seeds → ../seeds
    except ValueError:
        return value  # not from the config file: the command line's, relative to the cwd
    return (PurePath(above) / rel).as_posix() if above else rel.as_posix()


def fingerprint_dump(section: BaseModel, *path: str, keys: tuple[str, ...] = ()) -> dict[str, Any]:
    """A config section's content settings (only `keys`, when given) as a job hash reads them:
    the settings added since left out while they hold their default."""

    def wanted(p: str, s: Setting) -> bool:
        return s.kind == "content" and (not keys or p.rsplit(".", 1)[-1] in keys)

    return _project(section, path, wanted, STAGES)


def undeclared(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Every setting of `model` (walked through its sections) missing from SETTINGS."""
    missing = []
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            missing += undeclared(ann, f"{path}.")
        elif path not in SETTINGS:
            missing.append(path)
    return missing


def _digest(tree: dict[str, Any]) -> str:
    body = canonical_json(tree)
    if FINGERPRINT_VERSION > 1:  # version 1's hashes are the bare canonical JSON's
        body = f"fingerprint/v{FINGERPRINT_VERSION}\n".encode() + body
    return sha256_hex(body)


def _project(
    model: BaseModel, path: tuple[str, ...], wanted: Wanted, born: int, home: Origin | None = None
) -> dict[str, Any]:
    """`model`'s settings that `wanted(path, setting)` picks, URLs scrubbed; those younger than
    the fingerprint (`born`) left out while they hold their default."""
    data = model.model_dump(mode="json")
    if home is not None:
        data = home_relative(data, home)
    default = type(model)().model_dump(mode="json")
    picked: dict[str, Any] = scrub_urls(_pick(data, default, ".".join(path), wanted, born))
    return picked


def _pick(
    data: dict[str, Any], default: dict[str, Any], prefix: str, wanted: Wanted, floor: int
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in data.items():
        path = f"{prefix}.{name}" if prefix else name
        if path in SETTINGS:
            s = SETTINGS[path]
            if wanted(path, s) and not (s.since > floor and value == default[name]):
                out[name] = value
            continue
        inner = {p: s for p, s in SETTINGS.items() if p.startswith(path + ".")}
        if not inner:
            raise KeyError(f"setting {path} is not declared in synthgen.fingerprint.SETTINGS")
        since = min(s.since for s in inner.values())
        if since > floor and value == default[name]:
            continue  # a section younger than the fingerprint, as it was before it came
        picked = _pick(value, default[name], path, wanted, max(floor, since))
        if picked:
            out[name] = picked
    return out

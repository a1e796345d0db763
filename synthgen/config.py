"""Every setting as a pydantic model; precedence CLI > env > config file > default."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from synthgen.configfile import ENV_MAP as ENV_MAP  # re-exported: its old home
from synthgen.configfile import FILE_PATHS, missing_inputs, read_layers, validation_error
from synthgen.configfile import read_config_file as read_config_file
from synthgen.documents.grounding import GroundingSettings
from synthgen.documents.settings import DocumentsSettings
from synthgen.errors import ConfigError, UsageError
from synthgen.fingerprint import Origin, config_sha256
from synthgen.records import Price
from synthgen.settings.axes import AxisSpec, CoverageConfig
from synthgen.settings.checks import ChecksConfig
from synthgen.text.urls import is_local, scrub_urls


class Strict(BaseModel):
    """Base of every config section: an unknown key (a typo) is an error; settings never change."""

    model_config = ConfigDict(extra="forbid", frozen=True)


Strategy = Literal["self-instruct", "evol", "paraphrase", "conversation", "grounded"]
PAIRED = ("self-instruct", "grounded")  # strategies whose questions can have K responses
EVOL_OPERATORS = (
    "add_constraints",
    "deepen",
    "concretize",
    "increase_reasoning",
    "complicate_input",
    "breadth",
)


class EndpointConfig(Strict):
    """Which server and model to call, and how hard to push it: concurrency, rate caps, retries."""

    base_url: str | None = None
    model: str = "gpt-4o-mini"
    api_key_env: str = "OPENAI_API_KEY"
    concurrency: int = Field(default=16, ge=1, le=1024)
    rpm: float | None = Field(default=None, gt=0)
    tpm: float | None = Field(default=None, gt=0)
    timeout_s: float = Field(default=120.0, gt=0)
    max_attempts: int = Field(default=6, ge=1, le=50)
    backoff_base_s: float = Field(default=0.5, ge=0)
    backoff_max_s: float = Field(default=60.0, ge=0)


class GenerationConfig(Strict):
    """How new candidates are made: the strategy, how many, sampling, and the few-shot mix."""

    strategy: Strategy = "self-instruct"
    count: int = Field(default=100, ge=1)
    per_call: int = Field(default=5, ge=1, le=50)
    temperature: float = Field(default=1.0, ge=0, le=2)
    top_p: float = Field(default=1.0, gt=0, le=1)
    seed: int = 0
    max_new_tokens: int = Field(default=2048, ge=16)
    responses: Literal["inline", "separate"] = "inline"
    human_examples: int = Field(default=3, ge=1, le=20)
    machine_examples: int = Field(default=2, ge=0, le=20)
    operators: list[str] = Field(default_factory=lambda: list(EVOL_OPERATORS))
    # Preference pairs: K responses to every instruction (each its own call, its own seed),
    # which `filter` turns into a chosen/rejected pair; from these models in turn when given
    # (empty: the endpoint's model), so pairs are not one model against itself.
    responses_per_instruction: int = Field(default=1, ge=1, le=16)
    models: list[str] = Field(default_factory=list)
    with_tests: bool = False  # code tasks: tests beside each answer (also on with checks.python)
    axes: dict[str, AxisSpec] = Field(default_factory=dict)  # synthgen/settings/axes.py
    coverage: CoverageConfig | None = None  # `run` steers toward it (docs/axes.md)

    @model_validator(mode="after")
    def _pairs_need_self_instruct(self) -> GenerationConfig:
        if self.responses_per_instruction > 1 and self.strategy not in PAIRED:
            raise ValueError(
                "responses_per_instruction > 1 works with the self-instruct and grounded "
                "strategies only (their questions are written first, then answered K times)"
            )
        return self

    @model_validator(mode="after")
    def _known_operators(self) -> GenerationConfig:
        unknown = [op for op in self.operators if op not in EVOL_OPERATORS]
        if unknown or not self.operators:
            raise ValueError(
                f"unknown evol operators {unknown}; choose from {', '.join(EVOL_OPERATORS)}"
            )
        return self

    @model_validator(mode="after")
    def _separate_needs_self_instruct(self) -> GenerationConfig:
        if self.responses == "separate" and self.strategy != "self-instruct":
            raise ValueError(
                "responses: separate works with the self-instruct strategy only "
                "(evol and paraphrase write each output together with its instruction)"
            )
        return self


class BudgetConfig(Strict):
    """Spending caps that stop a run before it costs more than allowed (unset: no cap)."""

    max_cost_usd: float | None = Field(default=None, gt=0)
    max_tokens: int | None = Field(default=None, gt=0)


# Self-Instruct's filter: instructions about things a text model cannot see or make.
DEFAULT_BLACKLIST = (
    "image",
    "images",
    "graph",
    "graphs",
    "picture",
    "pictures",
    "file",
    "files",
    "map",
    "maps",
    "draw",
    "plot",
    "go to",
    "video",
    "audio",
    "music",
    "flowchart",
    "diagram",
)
DEFAULT_REFUSALS = (
    "as an ai language model",
    "as an ai model",
    "as a language model",
    "as an ai assistant, i",
    "i'm sorry, but i can't",
    "i'm sorry, but i cannot",
    "i am sorry, but i cannot",
    "i cannot fulfill",
    "i can't fulfill",
    "i cannot assist with",
    "i can't assist with",
    "i cannot help with",
    "i can't help with",
    "i'm unable to",
    "i am unable to",
    "i cannot provide",
    "i can't provide",
)
OutputFormat = Literal["any", "json", "label", "regex"]


class TaskRules(Strict):
    """Rule settings for records whose meta.task has this name; unset fields are inherited."""

    min_words: int | None = Field(default=None, ge=0)
    max_words: int | None = Field(default=None, ge=1)
    blacklist: list[str] | None = None
    output_format: OutputFormat | None = None
    labels: list[str] | None = None
    output_regex: str | None = None


class RulesConfig(Strict):
    """The cheap rule checks run before any judge call, with per-task overrides in `tasks`."""

    enabled: bool = True
    min_words: int = Field(default=4, ge=0)
    max_words: int = Field(default=150, ge=1)
    blacklist: list[str] = Field(default_factory=lambda: list(DEFAULT_BLACKLIST))
    refusal_phrases: list[str] = Field(default_factory=lambda: list(DEFAULT_REFUSALS))
    output_format: OutputFormat = "any"
    labels: list[str] = Field(default_factory=list)
    output_regex: str | None = None
    disable: list[str] = Field(default_factory=list)
    tasks: dict[str, TaskRules] = Field(default_factory=dict)
    # a conversation's exchanges (user → assistant), kept within these bounds
    min_exchanges: int = Field(default=1, ge=1)
    max_exchanges: int = Field(default=20, ge=1)


class JudgeConfig(Strict):
    """The LLM judge: which models score, the bar to keep, the rubric and the seed calibration."""

    enabled: bool = True
    models: list[str] = Field(default_factory=list)  # empty: the endpoint's model
    base_url: str | None = None  # the judge's own endpoint (`run`); default: the generator's
    threshold: float = 3.5
    rubric: Path | None = None
    reference: Path | None = None
    seeds: list[Path] = Field(default_factory=list)
    seed_format: str | None = None
    anchors: Path | None = None
    max_seed_fail: float = Field(default=0.2, ge=0, le=1)
    length_bias_threshold: float = Field(default=0.3, ge=0, le=1)
    max_new_tokens: int = Field(default=800, ge=64)
    # A verdict cut off at max_tokens: ledgered as judge_truncated (False), or asked once more
    # with twice max_new_tokens (True). Fingerprinted only when True (synthgen.fingerprint).
    retry_truncated: bool = False
    # Preference pairs: the least score difference between the chosen and the rejected
    # response for the pair to be kept.
    min_margin: float = Field(default=1.0, ge=0)


class FilterConfig(Strict):
    """Everything the filter stage applies: the rule checks, then the judge."""

    rules: RulesConfig = RulesConfig()
    judge: JudgeConfig = JudgeConfig()
    checks: ChecksConfig = ChecksConfig()  # that execute (synthgen/settings/checks.py)


class DedupSettings(Strict):
    """How `run` drops duplicates: against the seeds, `against` sets and all kept so far."""

    method: Literal["exact", "minhash", "rouge-l", "semantic"] = "minhash"
    threshold: float | None = Field(default=None, gt=0, le=1)
    fields: list[str] | None = None  # default: instruction+input (rouge-l: instruction)
    against: list[Path] = Field(default_factory=list)
    decontaminate: list[Path] = Field(default_factory=list)


class TargetConfig(Strict):
    """How many kept records `run` delivers: exactly this many, or fewer on a stop."""

    count: int = Field(default=100, ge=1)


class GatesConfig(Strict):
    """Quality gates `run` checks after each round (once enough is seen) and at the end."""

    min_keep_rate: float | None = Field(default=None, ge=0, le=1)
    max_duplicate_rate: float | None = Field(default=None, ge=0, le=1)
    min_mean_score: float | None = None
    max_length_bias: float | None = Field(default=None, ge=-1, le=1)
    fail_on: list[str] = Field(default_factory=list)  # report warning codes
    min_candidates: int = Field(default=50, ge=1)  # seen before a rate gate may trip
    min_cell_coverage: float | None = Field(default=None, ge=0, le=1)  # docs/axes.md
    max_cell_share: float | None = Field(default=None, ge=0, le=1)


ExportFormat = Literal["alpaca", "messages", "sharegpt", "prompt-completion", "dpo"]


# Hugging Face's task categories (the Hub's task vocabulary): the card's front matter may name
# only these, or the Hub indexes the dataset under no task.
_HF_TASKS = """text-classification token-classification table-question-answering question-answering
    zero-shot-classification translation summarization feature-extraction text-generation
    text2text-generation fill-mask sentence-similarity text-ranking text-retrieval
    multiple-choice table-to-text tabular-to-text tabular-classification tabular-regression
    text-to-speech text-to-audio automatic-speech-recognition audio-to-audio
    audio-classification audio-text-to-text voice-activity-detection depth-estimation
    image-classification object-detection image-segmentation text-to-image image-to-text
    image-to-image image-to-video image-text-to-text unconditional-image-generation
    video-classification video-text-to-text visual-question-answering
    document-question-answering visual-document-retrieval zero-shot-image-classification
    zero-shot-object-detection image-feature-extraction mask-generation keypoint-detection
    text-to-video text-to-3d image-to-3d any-to-any graph-ml reinforcement-learning robotics
    time-series-forecasting other"""
HF_TASK_CATEGORIES = frozenset(_HF_TASKS.split())


class OutputsConfig(Strict):
    """What `run` writes beside data.jsonl: exports, a split and the dataset card's facts."""

    dir: Path | None = None  # default: out/<task> beside the config file
    formats: list[ExportFormat] = Field(default_factory=list)
    split: dict[str, float] = Field(default_factory=dict)  # e.g. {validation: 0.05}
    split_seed: int = 0
    # alpaca and prompt-completion exports take each conversation's last exchange (True);
    # without it a conversation among the records is an error there
    last_turn: bool = False
    license: str = "other"
    language: list[str] = Field(default_factory=lambda: ["en"])
    # the card's `task_categories`, from HF_TASK_CATEGORIES (the task's name is not one)
    task_categories: list[str] = Field(default_factory=lambda: ["text-generation"])

    @model_validator(mode="after")
    def _hf_task_categories(self) -> OutputsConfig:
        unknown = [t for t in self.task_categories if t not in HF_TASK_CATEGORIES]
        if unknown:
            raise ValueError(
                f"{', '.join(unknown)} is not a Hugging Face task category; use e.g. "
                "text-generation, question-answering, summarization, translation or "
                "text-classification (huggingface.co/tasks lists them all)"
            )
        return self


class BatchConfig(Strict):
    """Batch mode (`--batch`): the Batch API's price, its file limits and how often to poll."""

    discount: float = Field(default=0.5, gt=0, le=1)  # batch price ÷ online price
    max_lines: int = Field(default=50_000, ge=1, le=50_000)  # requests per input file
    max_mb: float = Field(default=190.0, gt=0, le=200)  # size of an input file
    poll_s: float = Field(default=30.0, ge=0)  # --wait: seconds between status polls
    max_attempts: int = Field(default=3, ge=1)  # submissions of a failing or expiring line


class Config(Strict):
    """The whole resolved configuration one command runs with, from every layer merged."""

    task: str = "default"
    description: str = ""
    seeds: list[Path] = Field(default_factory=list)
    seed_format: str | None = None
    endpoint: EndpointConfig = EndpointConfig()
    generation: GenerationConfig = GenerationConfig()
    budget: BudgetConfig = BudgetConfig()
    prices: dict[str, Price] = Field(default_factory=dict)
    state_dir: Path = Path(".synthgen")
    filter: FilterConfig = FilterConfig()
    dedup: DedupSettings = DedupSettings()
    target: TargetConfig = TargetConfig()
    gates: GatesConfig = GatesConfig()
    outputs: OutputsConfig = OutputsConfig()
    batch: BatchConfig = BatchConfig()
    documents: DocumentsSettings = DocumentsSettings()
    grounding: GroundingSettings = GroundingSettings()
    # The config file's folder (None: no file), which its paths are relative to: the hashes
    # read them from there, so the same config hashes alike from any working directory.
    _origin: Origin | None = PrivateAttr(default=None)

    @property
    def home(self) -> Path | None:
        """The folder of the config file these settings came from (None: no file)."""
        return None if self._origin is None else self._origin.home

    @property
    def origin(self) -> Origin | None:
        """The config file's folder and the path settings it gave, for the fingerprints."""
        return self._origin

    def redacted(self) -> dict[str, Any]:
        """The resolved config as it may be written down (manifest, `config show`): every
        setting, and no credentials in any URL."""
        redacted: dict[str, Any] = scrub_urls(self.model_dump(mode="json"))
        return redacted

    def sha256(self) -> str:
        """The config's fingerprint for provenance; see synthgen.fingerprint."""
        return config_sha256(self, self._origin)


def load_config(
    file: Path | None,
    cli: Mapping[str, Any],
    env: Mapping[str, str] | None = None,
) -> Config:
    """Merge defaults < file < environment < CLI (None values in `cli` mean "not given")."""
    layers = read_layers(file, cli, os.environ if env is None else env)
    try:
        cfg = Config.model_validate(layers.merged())
    except ValidationError as e:
        raise validation_error(e, layers, Config) from e
    if file is not None:
        given = frozenset(k for k in FILE_PATHS if layers.source(k) == "file")
        cfg._origin = Origin(file.parent, given)
    return cfg


def check_config(file: Path, env: Mapping[str, str] | None = None) -> Config:
    """Load `file` as a run would, and make sure every input file it names exists."""
    env = os.environ if env is None else env
    cfg = load_config(file, {}, env)
    missing = missing_inputs(cfg.model_dump(mode="json"), read_layers(file, {}, env))
    if missing:
        raise ConfigError(
            "\n  also ".join(missing),
            hint="fix the path; relative paths are read from the config file's folder",
        )
    return cfg


def resolve_api_key(cfg: Config, env: Mapping[str, str] | None = None) -> str:
    """The key comes only from the environment; a local endpoint may go without one."""
    env = os.environ if env is None else env
    key = env.get("SYNTHGEN_API_KEY") or env.get(cfg.endpoint.api_key_env)
    if key:
        return key
    if is_local(cfg.endpoint.base_url):
        return "no-key-for-local-endpoint"
    raise UsageError(
        f"no API key for {cfg.endpoint.base_url or 'the OpenAI API'}",
        hint=f"export {cfg.endpoint.api_key_env}=... (or SYNTHGEN_API_KEY), "
        "or point --base-url at a local server",
    )

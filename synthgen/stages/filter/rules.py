"""Cheap heuristic filters, run before any judge: each failure is named for the ledger.

After Self-Instruct and Alpaca: instruction length in words, a keyword blacklist of things a
text model cannot see or make, a start that is punctuation or unprintable, empty or echoed
outputs, truncated generations, refusals, and an output format declared per task.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import orjson

from synthgen.config import RulesConfig, TaskRules
from synthgen.errors import UsageError

# Every rule in the order it is checked; the first that fails names the drop.
RULE_NAMES = (
    "empty_output",
    "truncated",
    "instruction_too_short",
    "instruction_too_long",
    "leading_punctuation",
    "nonprintable_start",
    "blacklisted_keyword",
    "output_equals_input",
    "output_equals_instruction",
    "refusal",
    "output_not_json",
    "output_not_a_label",
    "output_regex_mismatch",
)

Failure = tuple[str, str]  # (rule name, detail)


@dataclass(frozen=True)
class Candidate:
    """The fields the rules look at."""

    instruction: str
    input: str
    output: str
    finish_reasons: tuple[str | None, ...] = ()


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def _phrases(words: list[str]) -> re.Pattern[str] | None:
    """One case-insensitive pattern matching any of `words` as whole words."""
    if not words:
        return None
    # Models write "I’m" as often as "I'm": either apostrophe matches either.
    alts = sorted(
        {
            re.sub(r"['’]", "['’]", re.escape(w.strip()).replace(r"\ ", r"\s+"))
            for w in words
            if w.strip()
        }
    )
    return re.compile(r"(?<!\w)(?:" + "|".join(alts) + r")(?!\w)", re.IGNORECASE) if alts else None


@dataclass(frozen=True)
class TaskRuleSet:
    """The resolved settings for one task, with compiled patterns."""

    min_words: int
    max_words: int
    blacklist: tuple[str, ...]
    refusals: tuple[str, ...]
    output_format: str
    labels: tuple[str, ...]
    output_regex: str | None
    disabled: frozenset[str]

    @cached_property
    def blacklist_re(self) -> re.Pattern[str] | None:
        """The blacklisted keywords as one whole-word pattern."""
        return _phrases(list(self.blacklist))

    @cached_property
    def refusal_re(self) -> re.Pattern[str] | None:
        """The refusal phrases as one whole-word pattern."""
        return _phrases(list(self.refusals))

    @cached_property
    def regex(self) -> re.Pattern[str] | None:
        """The output regex, compiled once."""
        return re.compile(self.output_regex, re.DOTALL) if self.output_regex else None

    @cached_property
    def label_set(self) -> frozenset[str]:
        """The allowed labels, normalised as outputs are before comparing."""
        return frozenset(_norm(x) for x in self.labels)

    def check(self, c: Candidate, only: frozenset[str] | None = None) -> Failure | None:
        """The first enabled rule `c` fails (of `only`, when given), as (name, detail)."""
        for name, rule in _RULES:
            if name in self.disabled or (only is not None and name not in only):
                continue
            failed = rule(self, c)
            if failed is not None:
                return name, failed
        return None


def _empty_output(r: TaskRuleSet, c: Candidate) -> str | None:
    return "output is empty or whitespace" if not c.output.strip() else None


def _truncated(r: TaskRuleSet, c: Candidate) -> str | None:
    return "finish_reason=length" if "length" in c.finish_reasons else None


def _too_short(r: TaskRuleSet, c: Candidate) -> str | None:
    n = len(c.instruction.split())
    return f"{n} words < {r.min_words}" if n < r.min_words else None


def _too_long(r: TaskRuleSet, c: Candidate) -> str | None:
    n = len(c.instruction.split())
    return f"{n} words > {r.max_words}" if n > r.max_words else None


def _first_char(c: Candidate) -> str:
    text = c.instruction.lstrip(" \t\n\r")
    return text[:1]


def _leading_punctuation(r: TaskRuleSet, c: Candidate) -> str | None:
    ch = _first_char(c)
    if ch and unicodedata.category(ch)[0] in "PS" and ch not in "\"'¿¡([":
        return f"instruction starts with {ch!r}"
    return None


def _nonprintable_start(r: TaskRuleSet, c: Candidate) -> str | None:
    ch = _first_char(c)
    if not ch:
        return "instruction is empty"
    if unicodedata.category(ch)[0] in "CZ":
        return f"instruction starts with U+{ord(ch):04X} ({unicodedata.category(ch)})"
    return None


def _blacklisted(r: TaskRuleSet, c: Candidate) -> str | None:
    m = r.blacklist_re.search(c.instruction) if r.blacklist_re else None
    return f"instruction mentions {m.group(0).lower()!r}" if m else None


def _equals_input(r: TaskRuleSet, c: Candidate) -> str | None:
    return (
        "output repeats the input"
        if c.input.strip() and _norm(c.output) == _norm(c.input)
        else None
    )


def _equals_instruction(r: TaskRuleSet, c: Candidate) -> str | None:
    return "output repeats the instruction" if _norm(c.output) == _norm(c.instruction) else None


def _refusal(r: TaskRuleSet, c: Candidate) -> str | None:
    m = r.refusal_re.search(c.output) if r.refusal_re else None
    return f"output says {m.group(0)!r}" if m else None


def _not_json(r: TaskRuleSet, c: Candidate) -> str | None:
    if r.output_format != "json":
        return None
    try:
        orjson.loads(c.output.strip())
    except orjson.JSONDecodeError as e:
        return f"output is not JSON: {e}"[:200]
    return None


def _not_a_label(r: TaskRuleSet, c: Candidate) -> str | None:
    if r.output_format != "label" or _norm(c.output) in r.label_set:
        return None
    return f"output {c.output.strip()[:60]!r} is not one of {len(r.labels)} labels"


def _regex_mismatch(r: TaskRuleSet, c: Candidate) -> str | None:
    if r.output_format != "regex" or r.regex is None or r.regex.fullmatch(c.output.strip()):
        return None
    return f"output does not match /{r.output_regex}/"


_RULES: tuple[tuple[str, Callable[[TaskRuleSet, Candidate], str | None]], ...] = (
    ("empty_output", _empty_output),
    ("truncated", _truncated),
    ("instruction_too_short", _too_short),
    ("instruction_too_long", _too_long),
    ("leading_punctuation", _leading_punctuation),
    ("nonprintable_start", _nonprintable_start),
    ("blacklisted_keyword", _blacklisted),
    ("output_equals_input", _equals_input),
    ("output_equals_instruction", _equals_instruction),
    ("refusal", _refusal),
    ("output_not_json", _not_json),
    ("output_not_a_label", _not_a_label),
    ("output_regex_mismatch", _regex_mismatch),
)
assert tuple(n for n, _ in _RULES) == RULE_NAMES
# The rules that read only the instruction: `run` applies them before paying for responses.
INSTRUCTION_RULES = frozenset(
    {
        "instruction_too_short",
        "instruction_too_long",
        "leading_punctuation",
        "nonprintable_start",
        "blacklisted_keyword",
    }
)


# The rules about a conversation's shape, checked on the whole of it.
SHAPE_RULES = ("turns_out_of_order", "too_few_exchanges", "too_many_exchanges")
# The rules about a response, checked on every assistant turn after the first exchange
# (the first exchange gets every rule, as a single-turn record does).
RESPONSE_RULES = frozenset(RULE_NAMES) - INSTRUCTION_RULES - {"truncated"}


def _shape(turns: list[dict[str, str]], lo: int, hi: int) -> Failure | None:
    """A conversation's shape: an optional system turn, then user and assistant turns that
    alternate, from a user turn to an assistant turn, with lo..hi exchanges."""
    roles = [t["role"] for t in turns]
    body = roles[1:] if roles[:1] == ["system"] else roles
    expected = ["user", "assistant"] * (len(body) // 2 + 1)
    if not body or body != expected[: len(body)] or body[-1] != "assistant":
        return "turns_out_of_order", f"roles {' → '.join(roles)[:200]}"
    n = len(body) // 2
    if n < lo:
        return "too_few_exchanges", f"{n} exchanges < min_exchanges {lo}"
    if n > hi:
        return "too_many_exchanges", f"{n} exchanges > max_exchanges {hi}"
    return None


class Rules:
    """The rule filters of a config, resolved per task (a record's meta.task)."""

    def __init__(self, cfg: RulesConfig) -> None:
        unknown = sorted(set(cfg.disable) - set(RULE_NAMES) - set(SHAPE_RULES))
        if unknown:
            raise UsageError(
                f"unknown rules to disable: {', '.join(unknown)}",
                hint=f"rule names: {', '.join((*RULE_NAMES, *SHAPE_RULES))}",
            )
        self.cfg = cfg
        self.base = self._resolve(TaskRules())
        self.per_task = {name: self._resolve(t) for name, t in cfg.tasks.items()}
        _validate(self.base, None)
        for name, rs in self.per_task.items():
            _validate(rs, name)

    def _resolve(self, t: TaskRules) -> TaskRuleSet:
        c = self.cfg

        def pick(value: Any, default: Any) -> Any:
            return default if value is None else value

        return TaskRuleSet(
            min_words=pick(t.min_words, c.min_words),
            max_words=pick(t.max_words, c.max_words),
            blacklist=tuple(pick(t.blacklist, c.blacklist)),
            refusals=tuple(c.refusal_phrases),
            output_format=pick(t.output_format, c.output_format),
            labels=tuple(pick(t.labels, c.labels)),
            output_regex=pick(t.output_regex, c.output_regex),
            disabled=frozenset(c.disable),
        )

    def for_task(self, task: str | None) -> TaskRuleSet:
        """The rules of a task, or the run-wide ones for a task without its own."""
        return self.per_task.get(task or "", self.base)

    def check(self, c: Candidate, task: str | None = None) -> Failure | None:
        """The first rule `c` fails, as (rule name, detail), or None when it passes all."""
        if not self.cfg.enabled:
            return None
        return self.for_task(task).check(c)

    def check_conversation(
        self, turns: list[dict[str, str]], finish: tuple[str | None, ...], task: str | None
    ) -> Failure | None:
        """The first rule a conversation fails: its shape, then every rule on its first
        exchange, then the response rules on each later assistant turn."""
        if not self.cfg.enabled:
            return None
        failed = _shape(turns, self.cfg.min_exchanges, self.cfg.max_exchanges)
        if failed is not None and failed[0] not in self.cfg.disable:
            return failed
        if failed is not None and failed[0] == "turns_out_of_order":
            return None  # accepted out of order (disabled): its turns do not pair up
        rs = self.for_task(task)
        body = [t["content"] for t in turns if t["role"] != "system"]
        pairs = list(zip(body[::2], body[1::2], strict=True))
        first = rs.check(Candidate(pairs[0][0], "", pairs[0][1], finish))
        if first is not None:
            return first
        for k, (user, assistant) in enumerate(pairs[1:], 2):
            bad = rs.check(Candidate(user, "", assistant), RESPONSE_RULES)
            if bad is not None:
                return bad[0], f"exchange {k}: {bad[1]}"[:300]
        return None

    def check_instruction(self, instruction: str, input: str, task: str | None) -> Failure | None:
        """The rules about the instruction alone, before any response exists."""
        if not self.cfg.enabled:
            return None
        c = Candidate(instruction, input, "")
        return self.for_task(task).check(c, INSTRUCTION_RULES)


def _validate(rs: TaskRuleSet, task: str | None) -> None:
    where = "rules" if task is None else f"rules of task {task!r}"

    def how(option: str, key: str) -> str:
        # A task's settings live in the config file; the run-wide ones also have options.
        if task is None:
            return option
        return f"set {key} under filter.rules.tasks.{task} in the config"

    if rs.min_words > rs.max_words:
        raise UsageError(
            f"{where}: min_words {rs.min_words} > max_words {rs.max_words}",
            hint=how("fix --min-words/--max-words", "min_words/max_words"),
        )
    if rs.output_format == "label" and not rs.labels:
        raise UsageError(
            f"{where}: output format 'label' needs labels",
            hint=how("pass --labels A,B,C", "labels: [A, B, C]"),
        )
    if rs.output_format == "regex":
        if not rs.output_regex:
            raise UsageError(
                f"{where}: output format 'regex' needs a regex",
                hint=how("pass --output-regex", "output_regex"),
            )
        try:
            re.compile(rs.output_regex)
        except re.error as e:
            raise UsageError(
                f"{where}: invalid output regex {rs.output_regex!r}: {e}",
                hint=how("fix --output-regex (Python syntax)", "a valid output_regex"),
            ) from None

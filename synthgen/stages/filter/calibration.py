"""Can the judge be trusted? Seeds it must pass, human anchors it must agree with, a length
bias it must not have, and a generator it must not be related to."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from synthgen.errors import InputError, StoppedError
from synthgen.text.stats import cohen_kappa, spearman, wilson_interval

# --- independence ---------------------------------------------------------------------------

# (pattern on the normalised name, family); first match wins. Versions stay apart
# (llama-3 vs llama-3.1), sizes and variants do not (gpt-4o vs gpt-4o-mini, qwen2.5-coder).
_FAMILIES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p), f)
    for p, f in (
        (r"^gpt-4o", "gpt-4o"),
        (r"^chatgpt-4o", "gpt-4o"),
        (r"^gpt-4\.1", "gpt-4.1"),
        (r"^gpt-4\.5", "gpt-4.5"),
        (r"^gpt-4(?![o.\d])", "gpt-4"),
        (r"^gpt-3\.5", "gpt-3.5"),
        (r"^gpt-5", "gpt-5"),
        (r"^gpt-oss", "gpt-oss"),
        (r"^o[1-9](?!\d)", "openai-o"),
        (r"^(?:meta-)?llama-?(\d+(?:\.\d+)?)", r"llama-\1"),
        (r"^qwen-?(\d+(?:\.\d+)?)", r"qwen\1"),
        (r"^qwq", "qwen-qwq"),
        (r"^(?:mistral|mixtral|ministral|codestral|magistral|devstral)", "mistral"),
        (r"^claude-(\d+(?:[.-]\d)?)(?!\d)", r"claude-\1"),
        (r"^claude-(?:[a-z]+)-(\d+(?:[.-]\d)?)", r"claude-\1"),
        (r"^gemini-(\d+(?:\.\d+)?)", r"gemini-\1"),
        (r"^gemma-?(\d+)", r"gemma\1"),
        (r"^phi-?(\d+(?:\.\d+)?)", r"phi\1"),
        (r"^deepseek", "deepseek"),
        (r"^command", "cohere-command"),
        (r"^granite", "granite"),
    )
)


def _normalise(model: str) -> str:
    name = model.strip().lower().rsplit("/", 1)[-1]  # "meta-llama/Llama-3.1-8B" → "llama-3.1-8b"
    name = name.replace("_", "-").replace(":", "-")
    return re.sub(r"-(?:\d{4}-\d{2}-\d{2}|\d{8}|latest)$", "", name)  # dated snapshots


def model_family(model: str) -> str:
    """A model's family by the table above, else its name up to the first dash or digit."""
    name = _normalise(model)
    for pattern, family in _FAMILIES:
        m = pattern.match(name)
        if m:
            return m.expand(family)
    m = re.match(r"[a-z]+", name)
    return m.group(0) if m else name


def relation(judge: str, generator: str) -> str | None:
    """ "same_model", "same_family" or None (independent)."""
    if _normalise(judge) == _normalise(generator):
        return "same_model"
    if model_family(judge) == model_family(generator):
        return "same_family"
    return None


def known_as(generator: Mapping[str, Any]) -> str:
    """The name a record's generator is compared by: the upstream model a router (LiteLLM, a
    gateway) said answered, else the model asked for (behind a router, only an alias)."""
    return str(generator.get("upstream_model") or generator.get("model") or "")


def independence(
    judges: Sequence[str],
    generators: Sequence[str],
    upstream: Mapping[str, str] | None = None,
) -> list[dict[str, str]]:
    """Every judge/generator pair that is the same model or family; `upstream` maps a name
    asked for (a router's alias) to the upstream model seen answering it, compared instead."""
    seen = upstream or {}
    out = []
    for j in judges:
        jj = seen.get(j, j)
        for g in sorted(set(generators)):
            gg = seen.get(g, g)
            rel = relation(jj, gg)
            if rel:
                pair = {"judge": j, "generator": g, "relation": rel, "family": model_family(jj)}
                if jj != j:
                    pair["judge_upstream"] = jj
                if gg != g:
                    pair["generator_upstream"] = gg
                out.append(pair)
    return out


def independence_warning(pair: Mapping[str, str]) -> str:
    """An `independence` pair in plain words, as `filter` and `run` say it."""
    return (
        f"judge {pair['judge']} and generator {pair['generator']} are the "
        f"{pair['relation'].replace('_', ' ')} ({pair['family']}): the judge may "
        "favour its own kind; use a judge of another family, or a panel "
        "(--judge-model repeated)"
    )


# --- length bias ----------------------------------------------------------------------------


def length_bias(
    scores: Sequence[float], lengths: Sequence[int], threshold: float
) -> dict[str, Any]:
    """Spearman(score, output length): a judge that pays for length shows a positive one."""
    rho = spearman(list(scores), [float(n) for n in lengths])
    return {
        "spearman": None if rho is None else round(rho, 4),
        "n": len(scores),
        "threshold": threshold,
        "flagged": rho is not None and rho > threshold,
    }


# --- seeds ----------------------------------------------------------------------------------


MANIFEST_FAILURES = 200  # failing seeds a summary names (each with its reason)


@dataclass(frozen=True)
class SeedFailure:
    """One human seed the judge did not pass: where it is, its score and the judge's reason."""

    id: str
    where: str  # file:line (or item)
    score: float | None  # None: no verdict (the reason says why)
    reason: str

    def line(self, threshold: float) -> str:
        """The seed as the error lists it."""
        score = "no verdict" if self.score is None else f"score {self.score:g} < {threshold:g}"
        reason = " ".join(self.reason.split())
        reason = reason if len(reason) <= 160 else reason[:157] + "..."
        return f"{self.id} ({self.where}): {score}: {reason or '(no reason given)'}"


@dataclass(frozen=True)
class SeedCheck:
    """How the judge scored the human seeds, and whether its threshold can be trusted."""

    n: int
    passed: int
    unscored: int  # parse failures and rejected requests: they count as not passed
    max_fail: float
    failed_ids: tuple[str, ...]
    threshold: float = 0.0
    failures: tuple[SeedFailure, ...] = ()

    @property
    def fail_share(self) -> float:
        """The share of seeds the judge did not pass."""
        return (self.n - self.passed) / self.n if self.n else 0.0

    @property
    def trusted(self) -> bool:
        """Did the judge fail no more seeds than allowed?"""
        return self.fail_share <= self.max_fail

    def summary(self) -> dict[str, Any]:
        """The seed check as the run summary reports it, with a 95% interval."""
        lo, hi = wilson_interval(self.passed, self.n)
        return {
            "n": self.n,
            "passed": self.passed,
            "unscored": self.unscored,
            "pass_rate": round(self.passed / self.n, 4) if self.n else None,
            "pass_rate_95ci": [round(lo, 4), round(hi, 4)],
            "max_fail": self.max_fail,
            "trusted": self.trusted,
            "failed_ids": list(self.failed_ids[:20]),
            "threshold": self.threshold,
            "failed": [
                {"id": f.id, "where": f.where, "score": f.score, "reason": f.reason}
                for f in self.failures[:MANIFEST_FAILURES]
            ],
        }


SHOWN_FAILURES = 10
STANDIN_HINT = (
    "the judge is the bundled stand-in, whose verdicts are made up (placeholder numbers, not "
    "a reading of the seeds): restart it with a passing score, e.g. `synthgen standin-server "
    "--faults '{\"judge_score\": 5}'` (or judge_score_by_length: 30; a running one takes "
    "the same JSON POSTed to /_standin/faults), then rerun: its changed settings are asked "
    "again, not replayed from the cache"
)


def seed_stop(seeds: SeedCheck | None, command: str, standin: bool = False) -> StoppedError | None:
    """The one calibration stop, for `filter` and `run` alike: a judge that failed more human
    seeds than allowed is not trusted, and nothing is judged (or generated) after it. The
    message names every failing seed (the first few) with its score and the judge's reason;
    `standin`: the judge is the stand-in, whose verdicts are made up."""
    if seeds is None or seeds.trusted:
        return None
    run = command == "run"  # a config's names, else the command's flags
    max_fail, threshold = (
        ("max_seed_fail", "the threshold")
        if run
        else (
            "--max-seed-fail",
            "--threshold",
        )
    )
    listed = [f"\n  {f.line(seeds.threshold)}" for f in seeds.failures[:SHOWN_FAILURES]]
    if len(seeds.failures) > SHOWN_FAILURES:
        more = len(seeds.failures) - SHOWN_FAILURES
        listed.append(f"\n  and {more} more (the manifest lists them)")
    hint = (
        STANDIN_HINT
        if standin
        else f"check the rubric, {threshold} ({seeds.threshold:g}) and the judge model; the "
        "seeds' verdicts are cached (a changed rubric or judge model asks again)"
    )
    return StoppedError(
        f"the judge failed {seeds.n - seeds.passed} of {seeds.n} human seeds "
        f"({seeds.fail_share:.0%} > {max_fail} {seeds.max_fail:.0%}): its threshold cannot "
        f"be trusted; no candidate was {'generated' if run else 'judged'}"
        + (":" if listed else "")
        + "".join(listed),
        hint=hint,
    )


# --- anchors --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Anchor:
    """One human-labelled example the judge's scores are compared with."""

    id: str
    instruction: str
    input: str
    output: str
    human: float  # 1 good / 0 bad for verdicts and labels; the score itself for scores
    kind: str  # "binary" | "score"


_GOOD = {"accept": 1.0, "good": 1.0, "reject": 0.0, "bad": 0.0}
_SHORT = {"a": "accept", "r": "reject", "s": "skip"}


def read_anchors(path: Path) -> list[Anchor]:
    """Human-labelled examples: text fields and a verdict, label or 1..5 score per line."""
    from synthgen.core.jsonl import iter_jsonl

    name = str(path)
    out: list[Anchor] = []
    for n, obj in iter_jsonl(path):
        for f in ("instruction", "output"):
            if not isinstance(obj.get(f), str):
                raise InputError(name, "is missing or not text", line=n, field=f, hint="add it")
        verdict = obj.get("verdict", obj.get("label"))
        if isinstance(verdict, str):  # as `synthgen audit` reads them: any case, a/r/s
            verdict = verdict.strip().lower()
            verdict = _SHORT.get(verdict, verdict)
        if verdict == "skip":
            continue
        if isinstance(verdict, str) and verdict in _GOOD:
            human, kind = _GOOD[verdict], "binary"
        elif isinstance(obj.get("score"), int | float) and not isinstance(obj.get("score"), bool):
            human, kind = float(obj["score"]), "score"
        elif verdict == "":
            continue  # not reviewed yet: an `audit --export` file being filled in
        else:
            raise InputError(
                name,
                "needs a human label",
                line=n,
                field="verdict",
                hint='give "verdict": "accept"|"reject", "label": "good"|"bad", or "score": 1..5',
            )
        out.append(
            Anchor(
                str(obj.get("id", f"line{n}")),
                obj["instruction"],
                str(obj.get("input") or ""),
                obj["output"],
                human,
                kind,
            )
        )
    if not out:
        raise InputError(name, "holds no labelled anchors", hint="label some examples first")
    return out


def agreement(
    anchors: Sequence[Anchor],
    judge_scores: Sequence[float | None],
    threshold: float,
    scale: tuple[int, int],
) -> dict[str, Any]:
    """Quadratic weighted kappa and Spearman between human labels and the judge's scores."""
    # Binary labels are compared with the judge's pass/fail at the threshold; 1..5 scores
    # with the judge's score rounded to the scale. Anchors the judge could not score are
    # left out.
    pairs = [(a, s) for a, s in zip(anchors, judge_scores, strict=True) if s is not None]
    binary = [(a.human, 1.0 if s >= threshold else 0.0) for a, s in pairs if a.kind == "binary"]
    graded = [(a.human, float(round(s))) for a, s in pairs if a.kind == "score"]
    human = [a.human for a, _ in pairs]
    judged = [float(s) for _, s in pairs]
    kappa_parts = []
    if binary:
        kappa_parts.append(
            cohen_kappa(
                [h for h, _ in binary],
                [j for _, j in binary],
                weights="quadratic",
                labels=[0.0, 1.0],
            )
        )
    if graded:
        labels = [float(x) for x in range(scale[0], scale[1] + 1)]
        kappa_parts.append(
            cohen_kappa(
                [min(max(h, scale[0]), scale[1]) for h, _ in graded],
                [j for _, j in graded],
                weights="quadratic",
                labels=labels,
            )
        )
    agree = sum(1 for h, j in binary if h == j) + sum(1 for h, j in graded if h == j)
    kappas = [k for k in kappa_parts if k is not None]
    rho = spearman(human, judged) if len(pairs) >= 3 else None
    return {
        "n": len(anchors),
        "scored": len(pairs),
        "kappa_quadratic": round(sum(kappas) / len(kappas), 4) if kappas else None,
        "spearman": None if rho is None else round(rho, 4),
        "exact_agreement": round(agree / len(pairs), 4) if pairs else None,
    }

"""Deterministic placeholder text and schema-valid JSON for the stand-in endpoint.

NOTHING HERE IS USEFUL DATA. Replies are word salad assembled from the prompt's words and a
small built-in vocabulary, seeded by a hash of the request, so that the same request always
gets the same reply and different requests get clearly different (non-duplicate) replies.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
from collections.abc import Callable
from typing import Any

import orjson

JsonSchema = dict[str, Any]

_KEY_FIELDS = ("messages", "model", "temperature", "top_p", "seed", "response_format", "max_tokens")
_WORD_RE = re.compile(r"[A-Za-z][A-Za-z'-]{2,19}")
_FENCE_RE = re.compile(r"```.*?(?:```|$)", re.S)
_PROMPT_SCHEMA_RE = re.compile(r"JSON schema:[ \t]*\r?\n\s*```json[^\n]*\n(.*?)```", re.S)


def _words(text: str, sep: str | None = None) -> tuple[str, ...]:
    return tuple(text.split(sep))


_STOP = frozenset(
    _words(
        "the and for with that this from your you are was were will would should could have had"
        " not but all any can each into its our out over such than then them they their there"
        " these those what when where which while who whom why how about above after again also"
        " been being both did does doing down during few more most other some only own same very"
        " just json schema reply return following given must one two three use using write has"
        " exactly"
    )
)
NOUNS = _words(
    "ticket report invoice garden river budget schedule recipe engine library museum contract"
    " sensor network harbor meeting forecast warehouse lesson poem bicycle customer patient"
    " algorithm volcano satellite kitchen orchestra password playlist spreadsheet telescope"
    " vaccine election glacier bakery festival mortgage compiler battery itinerary hospital"
    " keyboard tournament painting journal migration workshop pipeline vineyard courtroom"
    " classroom lighthouse marathon database newsletter"
)
_ADJS = _words(
    "quiet urgent bright fragile ancient modern careful noisy rural digital seasonal hidden"
    " narrow generous formal curious rapid shallow crowded remote simple detailed practical"
    " unusual reliable tiny enormous polite bitter gentle"
)
_VERBS = _words(
    "supports delays improves replaces describes protects measures reveals connects reduces"
    " organizes predicts requires explains limits follows shapes tracks covers balances"
)
_PREPS = _words("near beside after before during without behind beyond under across")
_OPENERS = ("In practice,", "Usually,", "For example,", "Meanwhile,", "Overall,", "Sometimes,")
_INSTR_VERBS = _words(
    "Classify Summarize Rewrite Explain List Translate Compare Draft Identify Estimate Suggest"
    " Outline Describe Evaluate Convert Extract Rank Generate Correct Simplify Paraphrase"
    " Critique Plan Write Categorize Predict Recommend Analyze Name Calculate"
)
_OBJECTS = _words(
    "the following support ticket|this product review|the customer email below|a short story"
    " opening|the given paragraph|this recipe|the meeting notes|a news headline|the following"
    " code snippet|this travel itinerary|the error message|a job posting|the survey answers"
    "|this social media post|the poem below|a lesson plan|the contract clause|this monthly"
    " budget|the chat transcript|a bug report|the list of symptoms|these sales figures",
    "|",
)
_QUALIFIERS = _words(
    "by urgency|in three bullet points|for a beginner audience|using plain language|in under"
    " fifty words|as a formal letter|with one example|from most to least important|into a"
    " table|for a ten-year-old|in the style of a news report|keeping the original tone|with a"
    " short justification|as a numbered list|in a single sentence|for a busy manager",
    "|",
)
_QSTARTS = _words(
    "How would you|What is the best way to|Can you|Why might someone|Which steps would you"
    " take to|When should a team",
    "|",
)
_QVERBS = _words("improve explain organize test describe plan measure compare simplify review")


def canonical_key(body: dict[str, Any]) -> bytes:
    """Canonical JSON of the request fields that determine the reply."""
    picked = {k: body.get(k) for k in _KEY_FIELDS}
    try:
        return orjson.dumps(picked, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # non-string keys etc.; fall back to a stable repr
        return repr(sorted((k, repr(v)) for k, v in picked.items())).encode()


def variant_key(key: bytes, variants: int) -> bytes:
    """The key of one of `variants` replies: requests whose hashes agree modulo `variants`
    get the same reply."""
    h = int.from_bytes(hashlib.sha256(key).digest()[:8], "big")
    return b"variant:%d" % (h % variants)


def choice_rng(key: bytes, index: int) -> random.Random:
    """The RNG for choice `index`: a pure function of sha256(key + index)."""
    digest = hashlib.sha256(key + b"#" + str(index).encode()).digest()
    return random.Random(int.from_bytes(digest, "big"))


def message_text(content: Any) -> str:
    """Text of a message `content` (a string or a list of content parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(p.get("text", "")) for p in content if isinstance(p, dict) and "text" in p
        )
    return ""


def estimate_tokens(chars: int) -> int:
    """ceil(chars / 4), at least 1."""
    return max(1, math.ceil(chars / 4))


def prompt_words(messages: list[Any]) -> list[str]:
    """Distinct content words of the last user message (code fences removed)."""
    for msg in reversed(messages):
        if isinstance(msg, dict) and msg.get("role") == "user":
            text = _FENCE_RE.sub(" ", message_text(msg.get("content")))
            seen: dict[str, None] = {}
            for w in _WORD_RE.findall(text):
                lw = w.lower().strip("'-")
                if len(lw) > 2 and lw not in _STOP:
                    seen.setdefault(lw, None)
                if len(seen) >= 48:
                    break
            return list(seen)
    return []


def find_schema(body: dict[str, Any]) -> tuple[bool, JsonSchema | None]:
    """(json_wanted, schema) by priority: json_schema, json_object(+schema), prompt marker."""
    rf = body.get("response_format")
    if isinstance(rf, dict):
        kind = rf.get("type")
        if kind == "json_schema":
            js = rf.get("json_schema")
            schema = js.get("schema") if isinstance(js, dict) else None
            return True, schema if isinstance(schema, dict) and schema else None
        if kind == "json_object":
            schema = rf.get("schema")
            if isinstance(schema, dict):
                return True, schema
            return True, _prompt_schema(body.get("messages"))
    schema = _prompt_schema(body.get("messages"))
    return schema is not None, schema


def _prompt_schema(messages: Any) -> JsonSchema | None:
    found: JsonSchema | None = None
    for msg in messages if isinstance(messages, list) else []:
        if not isinstance(msg, dict):
            continue
        for block in _PROMPT_SCHEMA_RE.findall(message_text(msg.get("content"))):
            try:
                parsed = orjson.loads(block)
            except orjson.JSONDecodeError:
                continue
            if isinstance(parsed, dict):
                found = parsed
    return found


Pin = Callable[[float, float], float]


class Writer:
    """Builds placeholder sentences from one choice's RNG and the prompt's words.

    `pin`, when set, chooses every number instead of the RNG: pin(minimum, maximum)."""

    tags = ""  # the prompt's stated attributes, which every instruction ends with

    def __init__(self, rng: random.Random, topics: list[str], pin: Pin | None = None) -> None:
        self.rng = rng
        self.topics = topics
        self.pin = pin

    def noun(self) -> str:
        """A noun, from the prompt's own words when it has some."""
        if self.topics and self.rng.random() < 0.45:
            return self.rng.choice(self.topics)
        return self.rng.choice(NOUNS)

    def _np(self) -> list[str]:
        r = self.rng
        det = r.choice(("the", "a", "each", "every", "one"))
        words = [r.choice(_ADJS), self.noun()] if r.random() < 0.5 else [self.noun()]
        if det == "a" and words[0][0] in "aeiou":
            det = "an"
        return [det, *words]

    def sentence_words(self) -> list[str]:
        """The words of one placeholder sentence."""
        r = self.rng
        words = [r.choice(_OPENERS)] if r.random() < 0.2 else []
        words += [*self._np(), r.choice(_VERBS), *self._np()]
        for _ in range(r.randint(0, 2)):
            words += [r.choice(_PREPS), *self._np()]
        words[0] = words[0][0].upper() + words[0][1:]
        words[-1] += "."
        return words

    def text(self, lo: int = 5, hi: int = 60) -> str:
        """Whole sentences totalling about lo..hi words (never more than hi)."""
        target = self.rng.randint(lo, hi)
        words: list[str] = []
        while len(words) < target:
            sentence = self.sentence_words()
            if len(words) >= lo and len(words) + len(sentence) > target + 3:
                break
            words += sentence
        if len(words) > hi:
            words = words[:hi]
            words[-1] = words[-1].rstrip(",.") + "."
        return " ".join(words)

    def instruction(self) -> str:
        """A placeholder instruction, shaped like a task."""
        r = self.rng
        about = f" about the {self.noun()}" if r.random() < 0.6 else ""
        qual = f" {r.choice(_QUALIFIERS)}" if r.random() < 0.8 else ""
        form = r.random()
        if form < 0.25:
            out = f"{r.choice(_QSTARTS)} {r.choice(_QVERBS)} {r.choice(_OBJECTS)}{about}{qual}?"
        elif form < 0.4:
            verb = r.choice(_INSTR_VERBS).lower()
            out = f"Given {r.choice(_OBJECTS)}, {verb} the {self.noun()}{about}{qual}."
        else:
            out = f"{r.choice(_INSTR_VERBS)} {r.choice(_OBJECTS)}{about}{qual}."
        if r.random() < 0.3:
            out += f" Mention the {self.noun()} and the {self.noun()}."
        return out + self.tags

    def tests_text(self) -> str:
        """A `tests` field: a phrase here; a code task's asserts in ShapedWriter."""
        return self.phrase()

    def phrase(self) -> str:
        """A short placeholder phrase."""
        return " ".join(self._np()[1:] if self.rng.random() < 0.5 else self._np())

    def input_text(self, min_length: int = 0) -> str:
        """An input-like field's value: prose, or (30%) none when it may be empty."""
        return "" if min_length == 0 and self.rng.random() < 0.3 else self.text(8, 25)

    def output(self) -> str:
        """An output-like field's value: prose here; `shapes.ShapedWriter` shapes it."""
        return self.text(10, 60)

    def reply_text(self) -> str:
        """A plain-text reply: an instruction-like sentence, then 5-60 words of prose."""
        return f"{self.instruction()} {self.text()}"


_RESPONSE_RE = re.compile(r"<response>(.*?)</response>", re.S)
_CONVERSATION_RE = re.compile(r"<conversation>(.*?)</conversation>", re.S)
# an assistant turn of a judged transcript: up to the next turn ("User:", "System:") or the end
_ASSISTANT_RE = re.compile(r"^Assistant: (.*?)(?=^(?:User|System|Assistant): |\Z)", re.S | re.M)


def judged_text(messages: list[Any]) -> str:
    """What a judge prompt asks about: its last <response> block, the assistant turns of its
    last <conversation> block, else the last user message."""
    texts = [message_text(m.get("content")) for m in messages if isinstance(m, dict)]
    for text in reversed(texts):
        blocks = _RESPONSE_RE.findall(text)
        if blocks:
            return str(blocks[-1])
        convs = _CONVERSATION_RE.findall(text)
        if convs:
            said = _ASSISTANT_RE.findall(str(convs[-1]))
            return "\n".join(t.strip() for t in said)
    users = [
        message_text(m.get("content"))
        for m in messages
        if isinstance(m, dict) and m.get("role") == "user"
    ]
    return users[-1] if users else ""


def judge_pin(
    messages: list[Any], score: float | None, per_chars: int | None, low_marker: str | None
) -> Pin | None:
    """The number chooser of the judge test controls (see StandinConfig), or None."""
    if score is None and per_chars is None and low_marker is None:
        return None
    text = judged_text(messages)
    if low_marker is not None and low_marker in text:
        return lambda lo, hi: lo
    if per_chars is not None:
        return lambda lo, hi: lo + len(text.strip()) // per_chars
    if score is not None:
        return lambda lo, hi: score
    return None


def malform(content: str, rng: random.Random) -> str:
    """Content that is not valid JSON (as real endpoints sometimes send)."""
    kind = rng.random()
    if kind < 0.4 and content[:1] in ("{", "["):
        return content[: max(1, len(content) // 2)]
    if kind < 0.7:
        return f"```json\n{content}\n```"
    return f"Sure! Here is the requested JSON:\n{content}"


def truncate(content: str) -> str:
    """Content cut roughly in half (as with finish_reason "length")."""
    half = content[: len(content) // 2]
    cut = half.rfind(" ")
    return half[:cut] if cut > len(half) // 2 else half

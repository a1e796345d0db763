"""What the dedup deciders share: the compact per-item corpus, decision arrays, reasons.

Items are the reference records (`--decontaminate` eval sets first, then `--against` sets)
followed by the input records. Records are decided greedily in priority order (input order
for keep=first): a record is dropped when it matches a reference or a record kept before it.
References are never dropped or written. Only compact per-item arrays are held in memory.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from synthgen.stages.dedup.policy import (
    AGAINST,
    CONTAM,
    DEFAULT_THRESHOLD,
    EXACT,
    KEEP,
    NEAR,
    REASONS,
    SEMANTIC,
    SEVERITY,
)
from synthgen.text.normalise import rouge_tokens, words

__all__ = [
    "AGAINST",
    "CONTAM",
    "DEFAULT_THRESHOLD",
    "EXACT",
    "KEEP",
    "NEAR",
    "REASONS",
    "SEMANTIC",
    "SEVERITY",
]

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

Method = Literal["exact", "minhash", "rouge-l", "semantic"]
Keep = Literal["first", "best", "shortest", "longest"]

# The reason codes, their names and severity live with the other duplicate rules (policy.py)

EMPTY = hash("")  # exact key of a text with no words: it is nobody's duplicate
SENTINEL = 0xFFFFFFFF  # second "word" of a one-word text, so that it has one 2-gram shingle
FEED = 32768  # records handed to the background band hasher at a time


def word_ids(vocab: dict[str, int], ws: list[str]) -> list[int]:
    """Normalised words as vocabulary ids (assigned on first sight)."""
    ids = list(map(vocab.get, ws))
    if None in ids:
        ids = [vocab.setdefault(w, len(vocab)) for w in ws]
    if len(ids) == 1:
        ids.append(SENTINEL)
    return ids  # type: ignore[return-value]


@dataclass
class Corpus:
    """What the deciders need of each item, kept compact: ids, keys, shingles or tokens."""

    method: str
    threshold: float | None = None
    refs: int = 0  # items [0, refs) are references
    ids: list[str] = field(default_factory=list)
    kinds: list[int] = field(default_factory=list)  # references: AGAINST or CONTAM
    sources: list[str] = field(default_factory=list)  # references: the file they came from
    lines: list[int] = field(default_factory=list)  # references: where in that file
    source_ids: list[str | None] = field(default_factory=list)  # references: their own id
    exact: array[int] = field(default_factory=lambda: array("q"))
    words: array[int] = field(default_factory=lambda: array("I"))  # minhash: word ids
    offsets: array[int] = field(default_factory=lambda: array("Q", [0]))
    tokens: list[list[str]] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    vocab: dict[str, int] = field(default_factory=dict)
    priority: array[float] = field(default_factory=lambda: array("d"))
    # Records decided before the near stage (13-gram contamination): item → reason, match, sim
    pre: dict[int, tuple[int, int, float]] = field(default_factory=dict)
    hasher: Any = None  # minhash: band hashes computed in the background as records arrive
    fed: int = 0  # records handed to the hasher so far

    def __post_init__(self) -> None:
        if self.method == "minhash":
            self.feed()  # starts the background hasher before the corpus grows

    def __len__(self) -> int:
        return len(self.ids)

    def add(self, rec_id: str, text: str, priority: float = 0.0) -> int:
        """Append an item's compact keys for the chosen method; returns its item number."""
        item = len(self.ids)
        self.ids.append(rec_id)
        ws = words(text)
        self.exact.append(hash(" ".join(ws)))
        self.priority.append(priority)
        if self.method == "minhash":
            self.words.extend(word_ids(self.vocab, ws))
            self.offsets.append(len(self.words))
            if len(self.ids) - self.fed >= FEED:
                self.feed()
        elif self.method == "rouge-l":
            self.tokens.append(rouge_tokens(text))
        elif self.method == "semantic":
            self.texts.append(text)
        return item

    def feed(self) -> None:
        """Hand the records added since the last call to the background band hasher."""
        hasher: Any = self.hasher
        if hasher is None:
            from synthgen.stages.dedup.bands import BandHasher

            assert self.threshold is not None
            hasher = self.hasher = BandHasher(self.threshold)
        done: int = self.fed
        hasher.feed(self.words, self.offsets, done, len(self.ids))
        self.fed = len(self.ids)

    def close(self) -> None:
        """Stop the background worker, if any (also after an error)."""
        if self.hasher is not None:
            self.hasher.close()
            self.hasher = None

    def add_ref(
        self,
        rec_id: str,
        text: str,
        kind: int,
        source: str,
        line: int = 0,
        source_id: str | None = None,
    ) -> int:
        """Append a reference item (--against, eval sets): it can drop inputs, is never written."""
        assert self.refs == len(self.ids), "references come before inputs"
        item = self.add(rec_id, text, float("-inf"))
        self.kinds.append(kind)
        self.sources.append(source)
        self.lines.append(line)
        self.source_ids.append(source_id)
        self.refs += 1
        return item

    def reason_of_match(self, item: int, fallback: int) -> int:
        """Why matching `item` drops a record: its reference kind, else `fallback`."""
        return self.kinds[item] if item < self.refs else fallback


@dataclass
class Decisions:
    """Every item's fate as compact arrays: status, what it matched, and its nearest neighbour."""

    status: npt.NDArray[np.int8]
    match: npt.NDArray[np.int64]
    sim: npt.NDArray[np.float32]
    nearest: npt.NDArray[np.int64]
    nearest_sim: npt.NDArray[np.float32]

    @classmethod
    def empty(cls, n: int) -> Decisions:
        """Decisions for `n` items with every item kept and nothing matched yet."""
        import numpy as np

        return cls(
            np.zeros(n, np.int8),
            np.full(n, -1, np.int64),
            np.zeros(n, np.float32),
            np.full(n, -1, np.int64),
            np.full(n, np.nan, np.float32),
        )

    def drop(self, item: int, reason: int, match: int, sim: float) -> None:
        """Mark an item dropped for `reason`, with the item it matched and how similar they are."""
        self.status[item] = reason
        self.match[item] = match
        self.sim[item] = sim

    def saw(self, a: int, b: int, sim: float) -> None:
        """Remember the closest verified neighbour of each side (for provenance.dedup)."""
        for x, y in ((a, b), (b, a)):
            cur = self.nearest_sim[x]
            if cur != cur or sim > cur:  # NaN: nothing seen yet
                self.nearest[x] = y
                self.nearest_sim[x] = sim

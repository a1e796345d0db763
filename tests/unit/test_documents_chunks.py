"""Chunks tile their document, split where the text allows, and keep tables and code whole:
checked over generated Markdown of every shape and over the Self-Instruct seed texts."""

from __future__ import annotations

import itertools
import json
import random
from pathlib import Path

import pytest

from synthgen.documents.chunking import _sentences, spans
from synthgen.documents.corpus import chunk_document
from synthgen.documents.model import Document
from synthgen.llm.tokens import estimate
from synthgen.records import sha256_hex

WORDS = "the pump drives water through a valve at 40 kPa while the sensor reads flow"
WORDS_LIST = WORDS.split()


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(WORDS_LIST) for _ in range(rng.randint(3, 30))]
    return " ".join(words).capitalize() + rng.choice([".", "!", "?", '."', ".)"])


def _paragraph(rng: random.Random, nl: str) -> str:
    glue = rng.choice([" ", "  ", nl])
    return glue.join(_sentence(rng) for _ in range(rng.randint(1, 40)))


def _table(rng: random.Random, nl: str) -> str:
    rows = ["| a | b |", "|---|:-:|"] + [
        f"| {rng.randint(0, 99)} | {_sentence(rng)} |" for _ in range(rng.randint(1, 60))
    ]
    return nl.join(rows)


def _fence(rng: random.Random, nl: str) -> str:
    body = nl.join(f"x = {i}  # {_sentence(rng)}" for i in range(rng.randint(1, 40)))
    return f"```python{nl}{body}{nl}{nl}# a blank line above, still code{nl}```"


def generated(seed: int) -> tuple[str, list[tuple[int, int]], list[tuple[int, tuple[str, ...]]]]:
    """A random Markdown document, the spans of its tables and fences, and where each heading
    path begins (offset of the heading line, path)."""
    rng = random.Random(seed)
    nl = rng.choice(["\n", "\r\n"])
    out, whole, heads = rng.choice(["", nl, nl + nl]), [], []
    stack: list[tuple[int, str]] = []
    for _ in range(rng.randint(1, 25)):
        kind = rng.choices(["h", "p", "t", "f", "l"], [3, 8, 1, 1, 1])[0]
        if kind == "h":
            level = rng.randint(1, 4)
            title = f"Part {rng.randint(1, 999)} ünïcode"
            stack = [s for s in stack if s[0] < level] + [(level, title)]
            heads.append((len(out), tuple(t for _, t in stack)))
            block = "#" * level + " " + title
        elif kind == "t":
            block = _table(rng, nl)
        elif kind == "f":
            block = _fence(rng, nl)
        elif kind == "l":
            block = nl.join(f"- {_sentence(rng)} {_sentence(rng)}" for _ in range(30))
        else:
            block = _paragraph(rng, nl)
        if kind in "tf":
            whole.append((len(out), len(out) + len(block)))
        out += block + nl * rng.randint(1, 3)
    if rng.random() < 0.3:
        out = out.rstrip()  # no newline at the end
    return out, whole, heads


def check_tiles(text: str, limit: int = 120, minimum: int = 20) -> list[tuple[int, int]]:
    got = spans(text, limit, minimum, estimate)
    assert got[0].start == 0 and got[-1].end == len(text)
    for a, b in itertools.pairwise(got):
        assert a.end == b.start and a.start < a.end
    return [(s.start, s.end) for s in got]


@pytest.mark.parametrize("seed", range(60))
def test_chunks_tile_generated_markdown_and_keep_blocks_whole(seed: int) -> None:
    text, whole, _ = generated(seed)
    cuts = {end for _, end in check_tiles(text)[:-1]}
    for a, b in whole:
        assert not [c for c in cuts if a < c < b], f"a table or fence at {a}:{b} was cut"
    for c in cuts:
        # A cut is after whitespace: at a line, sentence or word end (no word runs past the
        # limit here, so no hard cut).
        assert text[c - 1].isspace(), repr(text[c - 20 : c + 5])
        assert not text[c].isspace() or text[c - 1] == "\n", repr(text[c - 20 : c + 5])


@pytest.mark.parametrize("seed", range(20))
def test_the_heading_path_is_the_one_in_force_where_the_chunk_content_starts(seed: int) -> None:
    text, _, heads = generated(seed)
    for s in spans(text, 120, 20, estimate):
        body = text[s.start : s.end]
        lines = body.splitlines(keepends=True)
        skip = 0
        for line in lines:  # the chunk's leading heading lines and blank lines
            if line.strip() and not line.lstrip().startswith("#"):
                break
            skip += len(line)
        at = s.start + min(skip, len(body) - 1)
        in_force = [p for off, p in heads if off <= at]
        assert s.path == (in_force[-1] if in_force else ())


def test_sizes_stay_under_the_limit_unless_a_block_is_bigger() -> None:
    for seed in range(30):
        text, whole, _ = generated(seed)
        for a, b in check_tiles(text, limit=200):
            big = any(a <= wa and wb <= b and estimate(text[wa:wb]) > 100 for wa, wb in whole)
            # A chunk may carry its section's heading lines above the limit.
            assert estimate(text[a:b]) <= 200 + 30 or big


def test_a_heading_alone_goes_with_its_section_and_a_short_tail_joins_the_chunk_before() -> None:
    text = "# Title\n\n## Intro\n\n" + "Long sentence here. " * 40 + "\n\nEnd.\n"
    got = spans(text, 400, 50, estimate)
    assert len(got) == 1 and got[0].path == ("Title", "Intro")
    two = "# A\n\n" + "Words and words. " * 60 + "\n\n# B\n\nShort.\n"
    got = spans(two, 300, 50, estimate)
    assert [g.path for g in got] == [("A",)]  # "# B / Short." is under 50 tokens: merged


def test_a_run_without_whitespace_is_cut_by_characters_and_still_tiles() -> None:
    text = "a" * 5000 + " tail.\n"
    got = check_tiles(text, limit=100, minimum=0)
    assert len(got) > 10 and all(b - a <= 400 for a, b in got[:-1])


def test_sentences_are_not_cut_after_abbreviations_or_initials() -> None:
    para = "See e.g. the manual by J. Smith for approx. three pumps. Dr. Who? Yes! " * 3
    cuts = _sentences(para, 0, len(para))
    # The last sentence ends the text: nothing to cut there.
    assert [para[:c].rstrip()[-5:] for c in cuts] == (["umps.", " Who?", " Yes!"] * 3)[:-1]


def test_setext_headings_count_and_front_matter_is_not_one() -> None:
    text = "---\ntitle: x\n---\n\nManual\n======\n\nIntro text.\n\nSetup\n-----\n\nPlug in.\n"
    got = spans(text, 400, 0, estimate)
    assert [g.path for g in got] == [(), ("Manual",), ("Manual", "Setup")]
    assert text[got[1].start :].startswith("Manual\n===")


def test_degenerate_texts() -> None:
    assert spans("", 100, 10, estimate) == []
    for text in ["x", "\n\n\n", "# only a heading", "```\nunclosed fence\n\nstill code", "|a|\n"]:
        check_tiles(text)


def test_chunk_fields_follow_the_contract() -> None:
    text = generated(3)[0]
    doc = Document(
        path="d.md",
        sha256="0" * 64,
        parser="markdown",
        parser_version="synthgen",
        text_sha256=sha256_hex(text),
        chars=len(text),
    )
    chunks = chunk_document(doc, text, chunk_tokens=100, min_chunk_tokens=10, count=estimate)
    for i, c in enumerate(chunks):
        assert c.id == f"{doc.text_sha256[:12]}#{i}" and c.index == i
        assert c.text == text[c.start : c.end] and c.sha256 == sha256_hex(c.text)
        assert c.tokens == estimate(c.text) and c.document == "d.md"


def test_the_self_instruct_seed_texts_tile(shared_data: Path) -> None:
    """Real human-written text (instructions, inputs and outputs of 427 tasks) as documents."""
    for name in ("seed_tasks.jsonl", "user_oriented_instructions.jsonl"):
        docs = []
        for line in (shared_data / "self-instruct" / name).read_text().splitlines():
            task = json.loads(line)
            parts = [task["instruction"]] + [
                f"{i['input']}\n\n{i['output']}" for i in task["instances"]
            ]
            docs.append(f"## {task['id']}\n\n" + "\n\n".join(parts) + "\n")
        whole = "".join(docs)
        check_tiles(whole, limit=150, minimum=20)
        for d in docs:
            check_tiles(d, limit=40, minimum=5)


def test_the_work_stays_linear_in_the_text() -> None:
    """Characters handed to the counter, for text that needs every fallback (one paragraph
    with no sentence end, thousands of one-line sections): a bounded multiple of the text,
    not its square."""
    work: list[int] = []

    def counting(s: str) -> int:
        work.append(len(s))
        return estimate(s)

    words = " ".join(f"w{i}" for i in range(20_000))  # about 120 kB, no sentence end
    sections = "".join(f"### T{i}\n\nx\n\n" for i in range(5_000))
    for text in (words, sections):
        work.clear()
        got = spans(text, 400, 50, counting)
        assert got[-1].end == len(text)
        assert sum(work) < 12 * len(text), sum(work) / len(text)

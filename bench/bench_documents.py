"""`make bench` section "documents": parse a generated 50-page PDF and chunk 10 MB of
generated Markdown, each in a fresh process: seconds and peak memory (targets < 5 s and
< 20 s, peak resident memory < 512 MB).

The PDF is written by hand (Helvetica text, 46 lines of about 90 characters a page; see
tests/support/documents.py), so the bench needs no PDF library beyond the parser under test.
The Markdown mixes headings of four levels, paragraphs of 1 to 40 sentences, long lists,
pipe tables and fenced code, seeded, so each run measures the same text. Each measurement is
`load_corpus` as `run` calls it (read, parse, chunk at 400 tokens), timed inside the child
after its imports; peak memory is the child's maximum resident set (ru_maxrss), imports
included, shown beside that of a child that only imports.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the hand-written PDF lives in tests/support

from support.documents import pdf_bytes  # noqa: E402

PY = sys.executable
PAGES = 50
MARKDOWN_MB = 10
TARGET_PDF_S, TARGET_MD_S, TARGET_PEAK_MB = 5.0, 20.0, 512.0
_VOCABULARY = "pump valve pressure flow water hose filter seal motor timer tank roof gutter rain"
_GLUE = "the a of to and in is it for on with at by from when if"
WORDS = (_VOCABULARY + " " + _GLUE).split()

CHILD = """
import json, resource, sys, time
from pathlib import Path
from synthgen.documents import load_corpus
start = time.perf_counter()
corpus = load_corpus(sys.argv[1:], base=Path.cwd()) if sys.argv[1:] else None
seconds = time.perf_counter() - start
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
chunks = len(corpus.chunks) if corpus else 0
chars = sum(d.chars for d in corpus.documents) if corpus else 0
print(json.dumps({"seconds": seconds, "peak_mb": peak_mb, "chunks": chunks, "chars": chars}))
"""


def _sentence(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 24))).capitalize() + "."


def make_markdown(size: int, rng: random.Random) -> str:
    """Seeded Markdown of about `size` characters in every block shape the chunker knows."""
    parts: list[str] = []
    total = 0
    while total < size:
        kind = rng.choices(["h", "p", "l", "t", "c"], [2, 10, 1, 1, 1])[0]
        if kind == "h":
            block = "#" * rng.randint(1, 4) + f" Section {rng.randint(1, 9999)}"
        elif kind == "l":
            block = "\n".join(f"- {_sentence(rng)}" for _ in range(rng.randint(3, 40)))
        elif kind == "t":
            rows = [f"| {i} | {_sentence(rng)} |" for i in range(rng.randint(2, 30))]
            block = "\n".join(["| n | text |", "|---|---|", *rows])
        elif kind == "c":
            lines = [f"x{i} = {rng.randint(0, 999)}" for i in range(rng.randint(2, 40))]
            block = "```python\n" + "\n".join(lines) + "\n```"
        else:
            block = " ".join(_sentence(rng) for _ in range(rng.randint(1, 40)))
        parts.append(block + "\n\n")
        total += len(block) + 2
    return "".join(parts)


def make_pdf(rng: random.Random) -> bytes:
    """A 50-page PDF with a text layer, 46 lines a page."""
    pages = []
    for _ in range(PAGES):
        lines = [" ".join(rng.choice(WORDS) for _ in range(16)) for _ in range(46)]
        pages.append("\n".join(lines))
    return pdf_bytes(pages)


def _child(cwd: Path, *paths: str) -> dict[str, float]:
    proc = subprocess.run(
        [PY, "-c", CHILD, *paths], cwd=cwd, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise SystemExit(f"documents bench child failed: {proc.stderr[-2000:]}")
    result: dict[str, float] = json.loads(proc.stdout)
    return result


def run() -> tuple[bool, str]:
    """Measure both and say whether the targets were met."""
    rng = random.Random(21)
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        pdf_data = make_pdf(rng)
        (d / "manual.pdf").write_bytes(pdf_data)
        (d / "big.md").write_text(make_markdown(MARKDOWN_MB * 1_000_000, rng), encoding="utf-8")
        base = _child(d)
        pdf = _child(d, "manual.pdf")
        md = _child(d, "big.md")
    pdf_kb = len(pdf_data) / 1e3
    print(f"  baseline (imports only)   peak {base['peak_mb']:.0f} MB")
    print(
        f"  {PAGES}-page PDF ({pdf_kb:.0f} KB)    {pdf['seconds']:.2f} s, peak "
        f"{pdf['peak_mb']:.0f} MB, {pdf['chars']:,.0f} chars → {pdf['chunks']:.0f} chunks "
        f"(target < {TARGET_PDF_S:.0f} s)"
    )
    print(
        f"  {MARKDOWN_MB} MB Markdown            {md['seconds']:.2f} s, peak "
        f"{md['peak_mb']:.0f} MB, {md['chunks']:,.0f} chunks (target < {TARGET_MD_S:.0f} s, "
        f"< {TARGET_PEAK_MB:.0f} MB)"
    )
    ok = (
        pdf["seconds"] < TARGET_PDF_S
        and md["seconds"] < TARGET_MD_S
        and max(pdf["peak_mb"], md["peak_mb"]) < TARGET_PEAK_MB
    )
    return ok, (
        f"{PAGES}-page PDF {pdf['seconds']:.2f} s / {pdf['peak_mb']:.0f} MB · "
        f"{MARKDOWN_MB} MB Markdown {md['seconds']:.1f} s / {md['peak_mb']:.0f} MB"
    )


if __name__ == "__main__":
    ok, line = run()
    print(line, "· targets met" if ok else "· TARGET MISSED")

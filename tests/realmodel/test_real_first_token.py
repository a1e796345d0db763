"""Against llama.cpp's own server on a loaded machine: a prompt that takes longer to process
than --timeout is waited for (its first token comes after it), not cut off and processed
again. A busy-looping process loads the machine for the length of the run."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.llamacpp import LlamaServer, sg

pytestmark = [pytest.mark.realmodel, pytest.mark.timeout(300)]

# The server's account of each prompt it processed: "prompt eval time = 40919.29 ms / 781".
PROMPT_EVAL = re.compile(r"prompt eval time =\s+([\d.]+) ms /\s+(\d+) tokens")
# Above the gaps between tokens under load, well below the prompt's processing: the judge's
# system prompt may be served from llama.cpp's prompt cache (an earlier test sent it), so
# only the record's part counts, and a fast machine must still take longer than this.
TIMEOUT_S = 2
# The record judged, named anew for each run early in the judge's user turn: the
# server's prompt cache cannot serve it from an earlier prompt, so all of it is processed.
WORDS = "the ticket says the invoice export fails after the last update and asks for help "


@pytest.fixture
def cpu_hog() -> Iterator[None]:
    """A busy-looping process until the test ends: one of llama.cpp's two threads shares its
    core, and the server's threads wait for each other at every step."""
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"])]
    try:
        yield
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait(timeout=10)


def test_a_prompt_slower_than_the_timeout_is_not_cut_off_under_load(
    llama: LlamaServer, tmp_path: Path, cpu_hog: None
) -> None:
    record = {
        "instruction": f"Case {tmp_path.name}: triage the ticket in the input.",
        "input": WORDS * 48,
        "output": "Route it to billing, urgency high. " + WORDS * 8,
    }
    inp = tmp_path / "in.jsonl"
    inp.write_text(json.dumps(record) + "\n")
    config = tmp_path / "judge.yaml"
    config.write_text("filter:\n  judge:\n    max_new_tokens: 64\n")
    before = len(llama.log.read_text(errors="replace"))
    r = sg(
        [
            *("filter", str(inp), "-o", str(tmp_path / "kept.jsonl"), "--json"),
            *("--config", str(config), "--base-url", llama.base_url, "--model", llama.model),
            *("--state-dir", str(tmp_path / ".synthgen"), "--concurrency", "1"),
            *("--timeout", str(TIMEOUT_S), "--max-attempts", "3"),
        ]
    )
    s = r.json()
    log = llama.log.read_text(errors="replace")[before:]
    evals = [float(ms) for ms, n in PROMPT_EVAL.findall(log) if int(n) > 0]
    # The premise, as the server measured it: the prompt took longer than the timeout.
    assert evals and max(evals) > TIMEOUT_S * 1000, (evals, log[-2000:])
    # The one verdict request was answered at its first attempt; the server cancelled nothing.
    assert s["requests"]["sent"] == 1, s["requests"]
    assert s["requests"]["retried"] == 0 and s["requests"]["failed"] == 0, s["requests"]
    assert "cancel task" not in log, log[-2000:]
    # The summary (and manifest) say what the first token was allowed and how long it took.
    waits = s["first_token"][llama.model]
    assert waits["longest_first_token_s"] > TIMEOUT_S
    assert waits["longest_allowance_s"] > waits["longest_first_token_s"]

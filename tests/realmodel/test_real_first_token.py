"""Against llama.cpp's own server on a loaded machine: a prompt that takes longer to process
than --timeout is waited for (its first token comes after it), not cut off and processed
again. The machine is loaded by a busy-looping process for the length of the run."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.llamacpp import LlamaServer, expand_cmd, sg

pytestmark = [pytest.mark.realmodel, pytest.mark.timeout(300)]

# The server's account of each prompt it processed: "prompt eval time = 40919.29 ms / 781".
PROMPT_EVAL = re.compile(r"prompt eval time =\s+([\d.]+) ms /\s+(\d+) tokens")
TIMEOUT_S = 0.5


@pytest.fixture
def cpu_hog() -> Iterator[None]:
    """A process that keeps a core busy until the test ends."""
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        yield
    finally:
        hog.kill()
        hog.wait(timeout=10)


def test_a_prompt_slower_than_the_timeout_is_not_cut_off_under_load(
    llama: LlamaServer, tmp_path: Path, cpu_hog: None
) -> None:
    config = tmp_path / "short.yaml"
    config.write_text("generation:\n  max_new_tokens: 48\n")
    before = len(llama.log.read_text(errors="replace"))
    out = tmp_path / "raw.jsonl"
    r = sg(
        expand_cmd(
            llama,
            config,
            out,
            "paraphrase",
            1,
            *("--per-call", "1", "--concurrency", "1", "--json"),
            *("--timeout", str(TIMEOUT_S), "--max-attempts", "3"),
        )
    )
    assert r.code in (0, 1), r.stderr  # the model may write something unusable: exit 1
    s = r.json()
    log = llama.log.read_text(errors="replace")[before:]
    evals = [float(ms) for ms, n in PROMPT_EVAL.findall(log) if int(n) > 0]
    # The premise, as the server measured it: a prompt took longer than the timeout.
    assert evals and max(evals) > TIMEOUT_S * 1000, (evals, log[-2000:])
    # No attempt was cut off and sent again, and the server cancelled nothing.
    assert s["requests"]["retried"] == 0 and s["requests"]["failed"] == 0, s["requests"]
    assert "cancel task" not in log, log[-2000:]
    # The summary says what the first token was allowed and how long it took.
    waits = s["first_token"][llama.model]
    assert waits["longest_first_token_s"] > TIMEOUT_S
    assert waits["longest_allowance_s"] > waits["longest_first_token_s"]

"""Against llama.cpp's own server: answers that take longer than --timeout in all but keep
streaming tokens complete, and none that completed is asked again (the timeout is the silence
between tokens, not the length of the answer). Counted in distinct requests, so a request
that a loaded machine leaves silent before its first token may fail without failing this."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from support.llamacpp import SEEDS, LlamaServer, sg

pytestmark = [pytest.mark.realmodel, pytest.mark.timeout(300)]

# The server's own account of each generation it finished: "eval time = 14773.58 ms / 446".
EVAL = re.compile(r"\|\s+eval time =\s+([\d.]+) ms /\s+(\d+) tokens")
TIMEOUT_S = 3


def _generations(log: Path) -> list[float]:
    """The eval time of each generation the server finished with at least one token."""
    found = EVAL.finditer(log.read_text(errors="replace"))
    return [float(m.group(1)) for m in found if int(m.group(2)) > 0]


def test_a_long_answer_streams_past_a_short_timeout_and_is_asked_once(
    llama: LlamaServer, tmp_path: Path
) -> None:
    config = tmp_path / "long.yaml"
    config.write_text("generation:\n  max_new_tokens: 600\n")
    before = len(_generations(llama.log))
    r = sg(
        [
            *("expand", str(SEEDS), "-o", str(tmp_path / "raw.jsonl"), "-n", "5", "--json"),
            *("--per-call", "5", "--strategy", "paraphrase", "--config", str(config)),
            *("--base-url", llama.base_url, "--model", llama.model, "--concurrency", "1"),
            *("--state-dir", str(tmp_path / ".synthgen"), "--timeout", str(TIMEOUT_S)),
            # One attempt: a retry of a request abandoned before its first token would queue
            # behind the abandoned generation, still running on the server.
            *("--max-attempts", "1"),
        ]
    )
    s = r.json()
    assert r.code == 0, r.stderr
    finished = _generations(llama.log)[before:]
    # The premise, as the server measured it: answers took longer than the timeout.
    assert max(finished) > TIMEOUT_S * 1000, finished
    # None was asked again after it completed: the server finished no more generations than
    # there were distinct requests (one still running when the target was reached is
    # cancelled, not finished). On a loaded machine a request may time out before its first
    # token (prompt evaluation is silence too) and fail: the run still completes.
    req = s["requests"]
    distinct = req["sent"] - req["retried"]
    assert req["retried"] == 0, req
    assert 1 <= len(finished) <= distinct, (finished, req)

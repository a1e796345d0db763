"""Time to first token is not silence. A local model answers nothing while it processes the
prompt (llama.cpp sends its first chunk with the first token), which on a loaded machine can
take longer than `--timeout`: cut off there and retried, the prompt is processed twice. So
on local endpoints a streamed request whose headers came within the timeout (the server took
it) waits for its first token as long as its prompt needs
(a first-token allowance: prompt tokens ÷ the prompt-processing rate measured on earlier
answers, times SAFETY), and only then does the timeout become the longest silence between
two chunks.

The rate comes from the server's own account where it gives one (llama.cpp's `timings`:
prompt_n tokens in prompt_ms), else from the time to the first token of earlier answers.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Any

# Tokens a second assumed before an answer measured the rate: a small model on two busy
# cores processes a prompt at about this rate (SmolLM2-135M under a CPU hog: 19/s).
DEFAULT_RATE = 20.0
SAFETY = 3.0  # the allowance covers prompts this many times slower than the slowest seen
MIN_SAMPLE_TOKENS = 32  # a shorter prompt times the server's overhead, not its rate
SAMPLES = 8  # the rate is the slowest of this many recent measurements
MAX_ALLOWANCE_S = 900.0


class FirstToken:
    """The prompt-processing rate of one local endpoint and the allowances given from it."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self.samples: deque[float] = deque(maxlen=SAMPLES)  # tokens a second
        self.measured = 0
        self.longest_s = 0.0  # the largest allowance given
        self.waited_s = 0.0  # the longest wait for a first token that ended in one

    @property
    def rate(self) -> float:
        """Prompt tokens a second, the slowest lately (DEFAULT_RATE before any answer)."""
        return min(self.samples) if self.samples else DEFAULT_RATE

    def allowance(self, prompt_tokens: int) -> float:
        """Seconds a request with this prompt may wait for its first token (at least the
        timeout, as before)."""
        extra = min(MAX_ALLOWANCE_S, SAFETY * max(0, prompt_tokens) / self.rate)
        wait = self.timeout_s + extra
        self.longest_s = max(self.longest_s, wait)
        return wait

    def learn(self, tokens: int, seconds: float) -> None:
        """An answer's prompt of `tokens` took `seconds` to process (or to its first token)."""
        if tokens >= MIN_SAMPLE_TOKENS and seconds > 0:
            self.samples.append(tokens / seconds)
            self.measured += 1

    def waited(self, seconds: float) -> None:
        """A first token came after `seconds`."""
        self.waited_s = max(self.waited_s, seconds)

    def summary(self) -> dict[str, Any]:
        """For the run's summary and manifest: the rate used, and the allowances it gave."""
        return {
            "prompt_tokens_per_s": round(self.rate, 1),
            "measured_answers": self.measured,
            "safety": SAFETY,
            "longest_allowance_s": round(self.longest_s, 1),
            "longest_first_token_s": round(self.waited_s, 1),
        }


def timings_rate(timings: dict[str, Any] | None) -> tuple[int, float] | None:
    """(prompt tokens processed, seconds) from llama.cpp's `timings`, if it sent them."""
    if not isinstance(timings, dict):
        return None
    n, ms = timings.get("prompt_n"), timings.get("prompt_ms")
    if isinstance(n, int | float) and isinstance(ms, int | float) and n > 0 and ms > 0:
        return int(n), float(ms) / 1000
    return None


def first_token_report(clients: Iterable[tuple[str, FirstToken | None]]) -> dict[str, Any]:
    """`first_token` for the summary and manifest, by model: the rate and allowances of each
    local endpoint that streamed (nothing otherwise, so other summaries keep their shape)."""
    used = {model: f.summary() for model, f in clients if f is not None and f.longest_s > 0}
    return {"first_token": used} if used else {}

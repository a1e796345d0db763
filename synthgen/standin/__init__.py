"""Offline stand-in for an OpenAI-compatible endpoint: NOT A MODEL, produces NO USEFUL DATA.

It answers chat completions with deterministic placeholder text (or schema-valid placeholder
JSON) and can be told to misbehave (429s, 5xx, truncation, malformed JSON, ...), for tests,
`make demo` and benchmarks.
"""

from synthgen.standin.config import StandinConfig
from synthgen.standin.server import StandinHandle, StandinServer, run_in_thread, serve

__all__ = ["StandinConfig", "StandinHandle", "StandinServer", "run_in_thread", "serve"]

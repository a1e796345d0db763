"""`python -m synthgen.standin`: run the offline stand-in endpoint (NOT A MODEL).

Every reply is deterministic placeholder text; nothing it returns is useful data.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import orjson
from pydantic import ValidationError

from synthgen.errors import UsageError
from synthgen.standin.config import StandinConfig
from synthgen.standin.server import serve


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m synthgen.standin",
        description="Offline OpenAI-compatible STAND-IN endpoint for tests, demos and benchmarks."
        " It is NOT A MODEL and produces NO USEFUL DATA: replies are deterministic placeholder"
        " text (schema-valid placeholder JSON when a schema is given).",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="port to bind; 0 picks a free one")
    p.add_argument("--port-file", type=Path, help="write the bound port here once listening")
    p.add_argument(
        "--faults-json",
        default="{}",
        help='fault switches as a JSON object, e.g. \'{"p_429": 0.1, "latency_s": 0.05}\'',
    )
    return p


def main(argv: list[str] | None = None) -> int:
    """`python -m synthgen.standin`: serve until interrupted."""
    args = _parser().parse_args(argv)
    try:
        faults = orjson.loads(args.faults_json)
        if not isinstance(faults, dict):
            raise ValueError("--faults-json must be a JSON object")
        config = StandinConfig.model_validate(faults)
    except (ValueError, ValidationError) as exc:
        print(f"synthgen-standin: invalid --faults-json: {exc}", file=sys.stderr)
        return 2

    def announce(url: str) -> None:
        print(f"synthgen-standin (placeholder text, NOT A MODEL) listening: {url}", file=sys.stderr)
        sys.stderr.flush()

    try:
        serve(config, args.host, args.port, args.port_file, announce)
    except UsageError as exc:
        print(f"synthgen-standin: {exc.render()}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())

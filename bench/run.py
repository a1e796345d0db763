"""`make bench`: ratios measured side by side in one run against the local stand-in.

1. Rate-limit utilisation: requests the stand-in accepted ÷ what its emulated RPM limit
   allows over the same window (target ≥ 0.95), with zero requests lost; where no limit is
   announced (paced from 429s alone), also at most 10% of the requests sent refused.
2. Engine overhead: completed requests/s through the full `synthgen expand` path ÷ a bare
   AsyncOpenAI script sending the same requests, on a zero-latency endpoint (target ≥ 0.8);
   both are whole processes timed from outside.
3. Startup: `synthgen --help` wall time (target < 0.3 s).

The stand-in runs in its own process so that it does not share a core's GIL with the client.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SEEDS = REPO / "seeds" / "support_triage.jsonl"
PY = sys.executable


@contextmanager
def standin(faults: dict[str, Any]) -> Iterator[str]:
    with tempfile.TemporaryDirectory() as d:
        port_file = Path(d) / "port"
        proc = subprocess.Popen(
            [
                PY,
                "-m",
                "synthgen.standin",
                "--port",
                "0",
                "--port-file",
                str(port_file),
                "--faults-json",
                json.dumps(faults),
            ],
            stderr=subprocess.DEVNULL,
        )
        try:
            for _ in range(200):
                if port_file.exists() and port_file.read_text().strip():
                    break
                time.sleep(0.05)
            yield f"http://127.0.0.1:{port_file.read_text().strip()}/v1"
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def stats(base_url: str) -> dict[str, Any]:
    import httpx2

    r = httpx2.get(base_url.removesuffix("/v1") + "/_standin/stats")
    data: dict[str, Any] = r.json()
    return data


def expand(base_url: str, n: int, *extra: str) -> dict[str, Any]:
    """Run `synthgen expand` as its own process; its --json summary plus `wall_s`, the
    process's wall time measured from outside."""
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        out = subprocess.run(
            [
                PY,
                "-m",
                "synthgen",
                "expand",
                str(SEEDS),
                "-n",
                str(n),
                "-o",
                f"{d}/o.jsonl",
                "--base-url",
                base_url,
                "--model",
                "standin-fake",
                "--state-dir",
                f"{d}/s",
                "--json",
                *extra,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
    if out.returncode != 0:
        raise SystemExit(f"expand failed ({out.returncode}): {out.stderr[-2000:]}")
    summary: dict[str, Any] = json.loads(out.stdout)
    summary["wall_s"] = time.perf_counter() - t0
    return summary


def rate_limit(
    rpm: int, seconds: float, label: str, faults: dict[str, Any], *extra: str
) -> tuple[float, float]:
    burst = max(1, rpm // 60)
    n = int(rpm / 60 * seconds)
    with standin({"rpm_limit": rpm, "latency_s": 0.02, **faults}) as url:
        s = expand(url, n, "--per-call", "1", "--concurrency", "32", *extra)
        st = stats(url)
    elapsed = s["seconds"]
    accepted = st["by_status"].get("200", 0)
    allowed = burst + rpm / 60 * elapsed
    ratio = accepted / allowed
    lost = s["counts"]["requested"] - s["counts"]["written"]
    refused = st["by_status"].get("429", 0)
    share = refused / max(1, accepted + refused)  # of the requests sent, how many were refused
    print(
        f"  {label:<34} {accepted} accepted in {elapsed:.1f}s, limit allows {allowed:.0f} → "
        f"utilisation {ratio:.3f} · 429s {refused} ({share:.1%} of sent) · lost {lost}"
    )
    return ratio, share


BARE_SCRIPT = """
import asyncio, json, sys
import openai

async def main():
    reqs = json.load(open(sys.argv[1]))
    client = openai.AsyncOpenAI(base_url=sys.argv[2], api_key="x", max_retries=0)
    sem = asyncio.Semaphore(int(sys.argv[3]))

    async def one(kw):
        async with sem:
            await client.chat.completions.create(**kw)

    await asyncio.gather(*(one(kw) for kw in reqs))
    await client.close()

asyncio.run(main())
"""


def bare_loop(base_url: str, requests: list[dict[str, Any]], concurrency: int) -> float:
    """Requests/s of a bare AsyncOpenAI script sending `requests`, timed as a whole process.

    Both sides of a ratio are whole processes timed from outside (interpreter start, imports,
    client set-up and all), as a user comparing a bare script with the command would see them:
    before, the bare loop was timed in-process after `import openai` (about 0.45 s here), while
    synthgen's own figure counted its import, which at 2,000 requests was a tenth of the run.
    """
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "requests.json"
        path.write_text(json.dumps(requests))
        t0 = time.perf_counter()
        subprocess.run([PY, "-c", BARE_SCRIPT, str(path), base_url, str(concurrency)], check=True)
        return len(requests) / (time.perf_counter() - t0)


def overhead(jobs: int, concurrency: int, streamed: bool = False) -> float:
    from synthgen.config import GenerationConfig
    from synthgen.seeds.reader import read_seeds
    from synthgen.stages.expand.strategies import make_job

    seeds = read_seeds([SEEDS])
    gen = GenerationConfig(count=jobs * 5, per_call=5)
    reqs = []
    for i in range(jobs):
        r = make_job(i, gen, seeds, [], "default").request
        reqs.append(
            {
                "model": "standin-fake",
                "messages": r.messages,
                "temperature": r.temperature,
                "top_p": r.top_p,
                "max_tokens": r.max_tokens,
                "seed": r.seed,
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {
                        "name": r.schema_name,
                        "schema": r.json_schema,
                        "strict": False,
                    },
                },
            }
        )
    # Alternate the two, three rounds each, and compare the best of each: one noisy round
    # (the machine has 2 cores, shared with the stand-in) must not decide the ratio.
    bares, engines = [], []
    # synthgen streams answers from a local endpoint such as this one; the bare loop does not.
    # Refusing streams (synthgen learns it on its first request) keeps the requests the same,
    # so this measures the engine, not streaming's per-chunk parse (streamed, the ratio fell
    # from 0.84 to 0.71-0.80 here, where answers arrive at ~60k tokens/s; a local model on
    # this machine writes a few hundred).
    with standin({} if streamed else {"reject_stream": True}) as url:
        for _ in range(3):
            bares.append(bare_loop(url, reqs, concurrency))
            # No machine examples, so that expand sends exactly the bare loop's requests.
            s = expand(url, jobs * 5, "--concurrency", str(concurrency), "--machine-examples", "0")
            engines.append(s["requests"]["sent"] / s["wall_s"])
    bare, engine = max(bares), max(engines)
    ratio = engine / bare
    if streamed:  # the path synthgen takes for local endpoints, which write slowly
        print(
            f"  synthgen expand, streamed          {engine:.0f} requests/s → streamed ÷ bare "
            f"= {ratio:.3f} (information: remote endpoints are not streamed until a timeout)"
        )
        return ratio
    print(f"  bare AsyncOpenAI script            {bare:.0f} requests/s ({jobs} requests)")
    print(
        f"  synthgen expand (full path)        {engine:.0f} requests/s "
        f"({s['requests']['sent']} requests, {s['counts']['written']} records)"
    )
    print(f"  → expand ÷ bare = {ratio:.3f} (target ≥ 0.8)")
    return ratio


def startup() -> float:
    best = 1e9
    for _ in range(5):
        t0 = time.perf_counter()
        subprocess.run([PY, "-m", "synthgen", "--help"], capture_output=True, check=True)
        best = min(best, time.perf_counter() - t0)
    print(f"  synthgen --help: {best * 1000:.0f} ms (best of 5; target < 300 ms)")
    return best


def expand_section() -> tuple[bool, str]:
    print("1. rate-limit utilisation (emulated RPM limit, target ≥ 0.95, zero lost;")
    print("   with no limit known, paced from 429s alone: also at most 10% of sent refused)")
    r1, _ = rate_limit(1200, 15, "--rpm given", {}, "--rpm", "1200")
    r2, _ = rate_limit(1200, 15, "learned from x-ratelimit headers", {"ratelimit_headers": True})
    r4, refused = rate_limit(1200, 15, "no limit known (429 + retry-after)", {})
    print("2. engine overhead on a zero-latency endpoint")
    r3 = overhead(2000, 32)
    overhead(2000, 32, streamed=True)
    print("3. startup")
    t = startup()
    ok = min(r1, r2, r4) >= 0.95 and refused <= 0.10 and r3 >= 0.8 and t < 0.3
    return ok, (
        f"rpm {min(r1, r2):.3f} · unannounced {r4:.3f} ({refused:.1%} refused) · "
        f"overhead {r3:.3f} · startup {t * 1000:.0f} ms"
    )


# Sections of other stages live in their own files beside this one (bench_<name>.py), each
# with `run() -> (targets met, one-line summary)`.
SECTIONS = ("expand", "filter", "dedup", "report", "run", "proxy", "checks", "documents", "faults")
SECTIONS += ("axes",)


def main() -> None:
    os.environ.pop("OPENAI_API_KEY", None)
    wanted = [a for a in sys.argv[1:] if not a.startswith("-")] or list(SECTIONS)
    unknown = [w for w in wanted if w not in SECTIONS]
    if unknown:
        raise SystemExit(f"unknown bench sections {unknown}; choose from {', '.join(SECTIONS)}")
    print(f"synthgen bench on {os.cpu_count()} cores (stand-in endpoint, no network)")
    results: list[tuple[str, bool, str]] = []
    for name in wanted:
        print(f"== {name}")
        if name == "expand":
            ok, line = expand_section()
        else:
            import importlib

            ok, line = importlib.import_module(f"bench_{name}").run()
        results.append((name, ok, line))
    print("summary:")
    for name, ok, line in results:
        print(f"  {name:<7} {line} · " + ("targets met" if ok else "TARGET MISSED"))
    print("all targets met" if all(ok for _, ok, _ in results) else "TARGET MISSED")


if __name__ == "__main__":
    main()

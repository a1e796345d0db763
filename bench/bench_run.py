"""`make bench` section "run": tokens per kept record of `synthgen run` ÷ the naive order
peers use (generate everything, judge everything, dedup last), on the same stand-in
workload with duplicates and judge rejections (target ≤ 0.6), and on one whose duplicates
are exact (target ≤ 1.0); then the surplus generated at N and peak memory as N grows
(bench_run_scale.py).

Workload (the same config file for both, each pipeline on its own stand-in process and its
own state dir, so no answer is shared through a cache):
- the 25 support-triage seeds (the stand-in answers in their JSON shape), self-instruct,
  5 examples per call, temperature 1.0, no machine examples (`run`'s first round shows none,
  `expand` would show its own: without them both send prompts of the same size);
- duplicates: the stand-in has no duplicate switch (its replies are seeded by the request
  hash), but its instructions are templated from a small vocabulary, as a teacher's
  instructions repeat themselves; both pipelines drop near-duplicate instructions (MinHash
  Jaccard ≥ 0.5 on word 2-grams of the instruction, as Self-Instruct dedups instructions)
  and copies of the seeds;
- judge rejections: the stand-in's judge scores the minimum for an output mentioning a
  volcano (`judge_low_marker`, a stand-in for a content fault), else 1 + one point per 40
  characters of output (`judge_score_by_length: 40`), against a threshold of 4, so short
  outputs fail too; it scores the human seeds first (calibration) in both pipelines;
- no transport faults (429s retried cost no tokens; a malformed reply's repair would cost
  both pipelines alike).

Exact-duplicate workload: the same, but the stand-in's replies repeat word for word
(`reply_variants`: every request gets one of 120 replies), so both pipelines'
expand steps drop repeated candidates by id and dedup is `exact`; nothing is near-duplicate.

Naive baseline: `synthgen expand -n M` with the same generation settings, `synthgen filter`
on all M (rules, then the judge on every survivor), `synthgen dedup` last (same method and
fields, against the seeds), and the first N kept. M is what a chain of stages is asked for
without knowing the keep rate: N at a keep rate of 50%, 15% over (N ÷ 0.5 × 1.15, what `run`
itself asked before its generation was windowed); fixed, so the baseline does not move when
`run` changes. A second line, not a target, gives the chain M = the candidate records `run`
generated (so the two differ only in order). Tokens = prompt + completion tokens of every
request each pipeline sent, from the `--json` summaries' `usage`.
"""

from __future__ import annotations

import json
import math
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from run import PY, SEEDS, standin, stats

TARGET = 1000  # records to keep
TARGET_RATIO = 0.6
FAULTS: dict[str, Any] = {"judge_score_by_length": 40, "judge_low_marker": "volcano"}
EXACT_FAULTS = {**FAULTS, "reply_variants": 120}
EXACT_TARGET, EXACT_RATIO = 500, 1.0
CONCURRENCY, PER_CALL = 16, 5
CHAIN_KEEP_RATE, CHAIN_OVERSHOOT = 0.5, 1.15  # the naive chain's M: N ÷ 0.5 × 1.15
CONFIG = """\
task: bench-run
seeds: [{seeds}]
endpoint: {{model: standin-fake, concurrency: {concurrency}}}
generation: {{strategy: self-instruct, per_call: {per_call}, temperature: 1.0, seed: 7,
             machine_examples: 0}}
filter:
  judge:
    seeds: [{seeds}]
    threshold: 4
dedup: {dedup}
target: {{count: {count}}}
"""


def _cli(*args: str) -> dict[str, Any]:
    """A synthgen command's --json summary; a command that fails ends the bench."""
    proc = subprocess.run(
        [PY, "-m", "synthgen", *args, "--json"], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise SystemExit(f"synthgen {args[0]} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    summary: dict[str, Any] = json.loads(proc.stdout)
    return summary


def _tokens(summary: dict[str, Any]) -> int:
    usage = summary["usage"]
    return int(usage["prompt_tokens"]) + int(usage["completion_tokens"])


def _sent(url: str) -> int:
    return int(stats(url)["by_status"].get("200", 0))


MINHASH = (
    "{method: minhash, fields: [instruction]}",
    ("--method", "minhash", "--fields", "instruction"),
)
EXACT = ("{method: exact}", ("--method", "exact"))


def _run(cfg: Path, d: Path, faults: dict[str, Any]) -> dict[str, Any]:
    run_dir = d / "run"
    with standin(faults) as url:
        s = _cli("run", str(cfg), "--base-url", url, "--state-dir", str(d / "run-state"),
                 "--out", str(run_dir))  # fmt: skip
        s["answered"] = _sent(url)
    # Generation's share: each candidate carries its share of its call's usage (kept ones in
    # data.jsonl, every other in dropped.jsonl); the rest of the run's tokens are the judge's.
    # A surplus candidate with a verdict was judged (its batch overshot the target).
    s["gen_tokens"] = s["judged_surplus"] = 0
    for name in ("data.jsonl", "dropped.jsonl"):
        with (run_dir / name).open() as fh:
            for line in fh:
                rec = json.loads(line)
                prov = rec.get("provenance", {})
                usage = prov.get("usage") or {}
                s["gen_tokens"] += usage.get("prompt_tokens", 0) + usage.get("completion_tokens", 0)
                surplus = rec.get("dropped", {}).get("stage") == "surplus"
                s["judged_surplus"] += surplus and "judge" in prov
    return s


def _dedup(inp: Path, out: Path, how: tuple[str, ...]) -> dict[str, Any]:
    """`run`'s dedup settings as a stage (`how`), against the seeds."""
    dedup = (*how, "--against", str(SEEDS))
    return _cli("dedup", str(inp), "-o", str(out), *dedup, "--state-dir", str(out.parent / "s"))


def _naive(
    cfg: Path, d: Path, m: int, faults: dict[str, Any], how: tuple[str, ...]
) -> dict[str, Any]:
    d.mkdir()
    state = ("--state-dir", str(d / "naive-state"))
    with standin(faults) as url:
        ex = _cli("expand", "--config", str(cfg), "-n", str(m), "-o", str(d / "raw.jsonl"),
                  "--base-url", url, *state)  # fmt: skip
        fi = _cli("filter", str(d / "raw.jsonl"), "--config", str(cfg), "-o",
                  str(d / "judged.jsonl"), "--base-url", url, *state)  # fmt: skip
        sent = _sent(url)
    de = _dedup(d / "judged.jsonl", d / "final.jsonl", how)
    # The workload's duplicate rate, in no pipeline's order: all M candidates deduplicated.
    dup_all = _dedup(d / "raw.jsonl", d / "raw.dedup.jsonl", how)
    return {"expand": ex, "filter": fi, "dedup": de, "dup_all": dup_all, "sent": sent}


def _dropped(counts: dict[str, Any], stage: str) -> int:
    return sum(counts.get("dropped", {}).get(stage, {}).values())


def run() -> tuple[bool, str]:
    """Both workloads side by side, the surplus at N, and memory as N grows."""
    from bench_run_scale import scale, surplus

    print("1. near-duplicate workload")
    ok1, line1, rs = _compare(TARGET, TARGET_RATIO, FAULTS, MINHASH)
    print("2. exact-duplicate workload")
    ok2, line2, _ = _compare(EXACT_TARGET, EXACT_RATIO, EXACT_FAULTS, EXACT)
    print("3. surplus at N (workload 1's run)")
    ok3, line3 = surplus(rs, CONCURRENCY, PER_CALL)
    print("4. memory and speed as N grows (no judge, zero latency)")
    ok4, line4 = scale()
    return all((ok1, ok2, ok3, ok4)), f"{line1} · exact: {line2} · {line3} · {line4}"


def _compare(
    target: int, target_ratio: float, faults: dict[str, Any], dedup: tuple[str, tuple[str, ...]]
) -> tuple[bool, str, dict[str, Any]]:
    """run ÷ naive tokens per kept record on one workload."""
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        cfg = d / "bench.yaml"
        cfg.write_text(CONFIG.format(seeds=SEEDS, count=target, dedup=dedup[0],
                                     concurrency=CONCURRENCY, per_call=PER_CALL))  # fmt: skip
        rs = _run(cfg, d, faults)
        rc = rs["counts"]
        m = math.ceil(target / CHAIN_KEEP_RATE * CHAIN_OVERSHOOT)
        nv = _naive(cfg, d / "chain", m, faults, dedup[1])
        # order only: the candidate records run's expand steps produced (what it screened);
        # drops the expand step ledgered itself (unparseable replies, repeats) are neither's.
        m_run = rc["candidates"] - _dropped(rc, "expand")
        order = _naive(cfg, d / "order", m_run, faults, dedup[1])

    kept_run = rc["kept"]
    run_tokens = _tokens(rs)
    fc, dc = nv["filter"]["counts"], nv["dedup"]["counts"]
    naive_kept_all = dc["kept"]
    naive_kept = min(naive_kept_all, target)
    naive_tokens = _tokens(nv["expand"]) + _tokens(nv["filter"])
    if kept_run != target or naive_kept == 0:
        raise SystemExit(f"run kept {kept_run}, naive kept {naive_kept_all} of {target}")

    # The workload's rates: duplicates among all M candidates (and the repeats expand
    # dropped by id); judge rejections among all
    # the naive pipeline judged (every candidate that passed the rules).
    dup_all = nv["dup_all"]["counts"]
    dup_rate = sum(dup_all["dropped"].values()) / dup_all["input"]
    judge = nv["filter"]["judge"]
    reject_rate = 1 - judge["passed"] / max(1, judge["judged"])
    run_judged = kept_run + _dropped(rc, "judge") + rs["judged_surplus"]
    run_gen = rs["gen_tokens"]
    naive_gen = _tokens(nv["expand"])

    per_run = run_tokens / kept_run
    per_naive = naive_tokens / naive_kept
    ratio = per_run / per_naive
    print(
        f"  workload: {m} candidate records; {dup_rate:.1%} duplicates ({dedup[0]}, of a seed "
        f"or an earlier candidate; run's expand also dropped {_dropped(rc, 'expand')} repeats "
        f"by id); judge rejects {reject_rate:.1%} of what it "
        f"judges (score < 4); target N = {target}"
    )
    print(
        f"  naive (expand -n {m} → filter → dedup, first N)  {naive_tokens:>9,} tokens · "
        f"{nv['expand']['requests']['sent'] + nv['filter']['requests']['sent']} requests "
        f"({nv['sent']} answered by its stand-in) · judged {judge['judged']} "
        f"(+{judge['seeds']['n']} seeds) · kept "
        f"{naive_kept_all} → {naive_kept} delivered · {per_naive:.0f} tokens/kept"
    )
    print(
        f"{'':50}generation {naive_gen:,} + judge {naive_tokens - naive_gen:,} "
        f"({_dropped(fc, 'rules')} rules drops before the judge, "
        f"{sum(dc['dropped'].values())} duplicates dropped after it)"
    )
    print(
        f"  synthgen run                                    {run_tokens:>9,} tokens · "
        f"{rs['requests']['sent']} requests ({rs['answered']} answered by its stand-in) · "
        f"judged {run_judged} (+{judge['seeds']['n']} seeds) · kept {kept_run} · "
        f"{per_run:.0f} tokens/kept"
    )
    print(
        f"{'':50}generation ≈{run_gen:,} + judge ≈{run_tokens - run_gen:,} "
        f"({len(rs['rounds'])} round(s); {_dropped(rc, 'rules')} rules and "
        f"{_dropped(rc, 'dedup')} dedup drops before the judge, "
        f"{_dropped(rc, 'surplus') - rs['judged_surplus']} surplus never judged, "
        f"{rs['judged_surplus']} judged then ledgered as surplus)"
    )
    if naive_kept_all > target:
        print(
            f"  (naive counting all {naive_kept_all} it kept: "
            f"{naive_tokens / naive_kept_all:.0f} tokens/kept, ratio "
            f"{per_run / (naive_tokens / naive_kept_all):.3f})"
        )
    o_tokens = _tokens(order["expand"]) + _tokens(order["filter"])
    o_kept = min(order["dedup"]["counts"]["kept"], target)
    print(
        f"  (not a target: the chain asked for run's own {m_run} candidates, so the two differ "
        f"only in order: {o_tokens:,} tokens, kept {o_kept} · {o_tokens / max(1, o_kept):.0f} "
        f"tokens/kept, ratio {per_run / (o_tokens / max(1, o_kept)):.3f})"
    )
    ok = ratio <= target_ratio
    verdict = "" if ok else " — TARGET MISSED"
    print(
        f"  → run ÷ naive, tokens per kept record = {per_run:.0f} ÷ {per_naive:.0f} = "
        f"{ratio:.3f} (target ≤ {target_ratio}){verdict}"
    )
    return ok, f"tokens/kept run ÷ naive {ratio:.3f} ({per_run:.0f} ÷ {per_naive:.0f})", rs

"""`make bench` section "run": tokens per kept record of `synthgen run` ÷ the naive order
peers use (generate everything, judge everything, dedup last), on the same stand-in
workload with duplicates and judge rejections (target ≤ 0.6).

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

Naive baseline: `synthgen expand -n M` with the same generation settings and M = the number
of candidate records `run` generated (so the two differ only in order), `synthgen filter`
on all M (rules, then the judge on every survivor), `synthgen dedup` last (same method and
fields, against the seeds), and the first N kept. Tokens = prompt + completion tokens of
every request each pipeline sent, from the `--json` summaries' `usage`.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from run import PY, SEEDS, standin, stats

TARGET = 1000  # records to keep
TARGET_RATIO = 0.6
FAULTS = {"judge_score_by_length": 40, "judge_low_marker": "volcano"}
CONFIG = """\
task: bench-run
seeds: [{seeds}]
endpoint: {{model: standin-fake, concurrency: 16}}
generation: {{strategy: self-instruct, per_call: 5, temperature: 1.0, seed: 7, machine_examples: 0}}
filter:
  judge:
    seeds: [{seeds}]
    threshold: 4
dedup: {{method: minhash, fields: [instruction]}}
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


def _run(cfg: Path, d: Path) -> dict[str, Any]:
    run_dir = d / "run"
    with standin(FAULTS) as url:
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


def _dedup(inp: Path, out: Path) -> dict[str, Any]:
    """`run`'s dedup settings as a stage: instruction MinHash, against the seeds."""
    dedup = ("--method", "minhash", "--fields", "instruction", "--against", str(SEEDS))
    return _cli("dedup", str(inp), "-o", str(out), *dedup, "--state-dir", str(out.parent / "s"))


def _naive(cfg: Path, d: Path, m: int) -> dict[str, Any]:
    state = ("--state-dir", str(d / "naive-state"))
    with standin(FAULTS) as url:
        ex = _cli("expand", "--config", str(cfg), "-n", str(m), "-o", str(d / "raw.jsonl"),
                  "--base-url", url, *state)  # fmt: skip
        fi = _cli("filter", str(d / "raw.jsonl"), "--config", str(cfg), "-o",
                  str(d / "judged.jsonl"), "--base-url", url, *state)  # fmt: skip
        sent = _sent(url)
    de = _dedup(d / "judged.jsonl", d / "final.jsonl")
    # The workload's duplicate rate, in no pipeline's order: all M candidates deduplicated.
    dup_all = _dedup(d / "raw.jsonl", d / "raw.dedup.jsonl")
    return {"expand": ex, "filter": fi, "dedup": de, "dup_all": dup_all, "sent": sent}


def _dropped(counts: dict[str, Any], stage: str) -> int:
    return sum(counts.get("dropped", {}).get(stage, {}).values())


def run() -> tuple[bool, str]:
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        cfg = d / "bench.yaml"
        cfg.write_text(CONFIG.format(seeds=SEEDS, count=TARGET))
        rs = _run(cfg, d)
        rc = rs["counts"]
        # M: the candidate records run's expand steps produced (what it screened); drops the
        # expand step ledgered itself (unparseable replies) are not candidates of either.
        m = rc["candidates"] - _dropped(rc, "expand")
        nv = _naive(cfg, d, m)

    kept_run = rc["kept"]
    run_tokens = _tokens(rs)
    fc, dc = nv["filter"]["counts"], nv["dedup"]["counts"]
    naive_kept_all = dc["kept"]
    naive_kept = min(naive_kept_all, TARGET)
    naive_tokens = _tokens(nv["expand"]) + _tokens(nv["filter"])
    if kept_run != TARGET or naive_kept == 0:
        raise SystemExit(f"run kept {kept_run}, naive kept {naive_kept_all} of {TARGET}")

    # The workload's rates: duplicates among all M candidates; judge rejections among all
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
        f"  workload: {m} candidate records; {dup_rate:.1%} near-duplicate instructions "
        f"(of a seed or an earlier candidate); judge rejects {reject_rate:.1%} of what it "
        f"judges (score < 4); target N = {TARGET}"
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
    if naive_kept_all > TARGET:
        print(
            f"  (naive counting all {naive_kept_all} it kept: "
            f"{naive_tokens / naive_kept_all:.0f} tokens/kept, ratio "
            f"{per_run / (naive_tokens / naive_kept_all):.3f})"
        )
    ok = ratio <= TARGET_RATIO
    verdict = "" if ok else " — TARGET MISSED"
    print(
        f"  → run ÷ naive, tokens per kept record = {per_run:.0f} ÷ {per_naive:.0f} = "
        f"{ratio:.3f} (target ≤ {TARGET_RATIO}){verdict}"
    )
    return ok, f"tokens/kept run ÷ naive {ratio:.3f} ({per_run:.0f} ÷ {per_naive:.0f})"

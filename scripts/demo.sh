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
  --faults '{"p_429": 0.05, "retry_after_s": 0.05, "p_malformed": 0.05, "p_truncate": 0.03,
    "judge_score_by_length": 30}' &
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

echo "== 5. filter: rules, then a judge that must first pass the human seeds"
"$PY" -m synthgen filter "$OUT/triage.jsonl" -o "$OUT/triage.kept.jsonl" \
  --seeds seeds/support_triage.jsonl --judge-model standin-judge --threshold 3 \
  --base-url "$URL" --state-dir "$OUT/.synthgen"

echo "== 6. dedup: exact and near copies, and copies of the seeds"
"$PY" -m synthgen dedup "$OUT/triage.kept.jsonl" -o "$OUT/triage.final.jsonl" \
  --against seeds/support_triage.jsonl

echo "== 7. report: collapse, seed lineage, drift from the seeds, judge bias"
"$PY" -m synthgen report "$OUT/triage.final.jsonl" --seeds seeds/support_triage.jsonl \
  --ledger "$OUT/triage.kept.ledger.jsonl" --html "$OUT/triage.report.html"

echo "== one final record with its provenance (seeds, prompt, model, judge verdict, dedup):"
head -n 1 "$OUT/triage.final.jsonl" | "$PY" -m json.tool
echo "== written: $(wc -l < "$OUT/triage.final.jsonl") final triage records" \
  "(of $(wc -l < "$OUT/triage.jsonl") expanded) and $(wc -l < "$OUT/sql.jsonl") SQL records;" \
  "ledgers, manifests and $OUT/triage.report.html beside them"

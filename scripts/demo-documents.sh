#!/usr/bin/env bash
# The grounded demo: `synthgen run` on configs/documents-qa.yaml (the CC0 example documents,
# eight hand-written seed questions) against the local stand-in, with every grounded fault
# on, then a look at what the checks dropped and what was kept. The stand-in is NOT a model:
# it quotes sentences of the chunk it is given, and makes the faults on demand.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
OUT=out/demo-documents
RUN="$OUT/documents-qa"
mkdir -p "$OUT"
rm -rf "$OUT/port" "$RUN"

"$PY" -m synthgen standin-server --port 0 --port-file "$OUT/port" --faults '{"judge_score_by_length": 20, "grounded_faults":
  ["empty", "malformed", "fabricated", "short", "elsewhere", "number", "unanswerable", "copy"]}' &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -s "$OUT/port" ] && break; sleep 0.1; done
URL="http://127.0.0.1:$(cat "$OUT/port")/v1"

echo "== 1. the documents, as synthgen reads and chunks them"
"$PY" -m synthgen documents inspect --config configs/documents-qa.yaml

echo "== 2. synthgen run: questions grounded in one chunk each, every quote checked"
"$PY" -m synthgen run configs/documents-qa.yaml --base-url "$URL" \
  --state-dir "$OUT/.synthgen" --out "$RUN"

echo "== 3. what the checks dropped (each fault under its own reason) and the coverage"
"$PY" - "$RUN/manifest.json" <<'PYEOF'
import json, sys
m = json.load(open(sys.argv[1]))
for stage, reasons in m["counts"]["dropped"].items():
    print(f"  {stage}: " + ", ".join(f"{r} {n}" for r, n in sorted(reasons.items())))
c = m["coverage"]
print(f"coverage: {c['chunks_with_kept']}/{c['chunks']} chunks kept a record "
      f"({c['chunk_coverage']:.0%}); kept evidence covers {c['evidence_coverage']:.1%} "
      f"of the text; {len(c['empty_chunks'])} chunks yielded nothing")
PYEOF

echo "== 4. synthgen verify: the files against the manifest, every span against the stored text"
"$PY" -m synthgen verify "$RUN"

echo "== 5. the first kept record's source and evidence"
head -n 1 "$RUN/data.jsonl" | "$PY" -c \
  'import json,sys; r=json.load(sys.stdin); p=r["provenance"]; print(json.dumps({"instruction": r["instruction"], "output": r["output"], "source": p["source"], "evidence": p["evidence"]}, indent=2))'
echo "== done: $(wc -l < "$RUN/data.jsonl") grounded records in $RUN"

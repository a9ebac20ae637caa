#!/usr/bin/env bash
# After finish.sh, when its verdict says to bundle: put the new model in place and re-measure what depends on it.
#
#   COLORIZER=.venv/bin/colorizer recipes/pool/bundle.sh [WORK]     # default runs/pool; about 40 min on 2 cores
#
# 1. keep the bundled model as WORK/previous-bundled.onnx (+ its .alike.json, and its training checkpoint as
#    WORK/previous-bundled-model.pt), then copy WORK/colorizer.onnx and its learned "alike" into colorizer/weights/,
#    the checkpoint it was exported from (weights, metrics and settings: `colorizer export best.pt X.pt`) to
#    recipes/bundled-model.pt, and WORK/eval/metrics.json to recipes/pool/logs/eval-stage4.json
# 2. the README's figure of held-out photos, previous | new (docs/validation-examples.jpg)
# 3. the hints benchmarks: validation and held out (benchmarks/results/hints-val.md, hints-heldout.md) and the
#    learned branch beside the spreading, previous against new (hint-branch.md)
# 4. key frames and reference photos, which use the same model (printed, and in WORK/bundle-*.log)
# What stays for a person: the model card and the per-source table in the README (the figures are in
# recipes/pool/logs/eval-stage4.json and WORK/verdict.json), tests/test_onnx.py's expectations of the bundled model
# (working size, boost), and the README's hint tables from the new results.
set -euo pipefail
WORK=${1:-runs/pool}
COLORIZER=${COLORIZER:-colorizer}
PYTHON=${PYTHON:-$(dirname "$(command -v "$COLORIZER")")/python}  # as finish.sh: the one colorizer is installed in
DATA=$WORK/data
WEIGHTS=colorizer/weights

if [ ! -f "$WORK/verdict.json" ]; then
  echo "$WORK/verdict.json is missing: run recipes/pool/finish.sh first" >&2
  exit 1
fi
if ! "$PYTHON" -c 'import json, sys; sys.exit(0 if json.load(open(sys.argv[1]))["bundle"] else 1)' "$WORK/verdict.json"
then
  echo "$WORK/verdict.json says to keep the bundled model: nothing to bundle" >&2
  exit 1
fi

if [ ! -f "$WORK/previous-bundled.onnx" ]; then
  cp "$WEIGHTS/colorizer.onnx" "$WORK/previous-bundled.onnx"
  # a sidecar names its model's SHA-256, which does not change with the file's name
  cp "$WEIGHTS/colorizer.alike.json" "$WORK/previous-bundled.alike.json"
  cp recipes/bundled-model.pt "$WORK/previous-bundled-model.pt"
fi
# the checkpoint the ONNX model came from, with the same metrics and settings (tests/test_onnx.py checks both agree)
SETTINGS=$("$PYTHON" -c 'import sys; from colorizer import Colorizer; m = Colorizer.load(sys.argv[1])
print(m.working_size, m.chroma_boost)' "$WORK/colorizer.onnx")
[ -f "$WORK/bundled-model.pt" ] || $COLORIZER export "$WORK/384-more/best.pt" "$WORK/bundled-model.pt" \
  --metrics "$WORK/eval/metrics.json" --working-size "${SETTINGS% *}" --chroma-boost "${SETTINGS#* }"
cp "$WORK/bundled-model.pt" recipes/bundled-model.pt
cp "$WORK/colorizer.onnx" "$WEIGHTS/colorizer.onnx"
cp "$WORK/colorizer.alike.json" "$WEIGHTS/colorizer.alike.json"
cp "$WORK/eval/metrics.json" recipes/pool/logs/eval-stage4.json

"$PYTHON" -m benchmarks.model_figure "$DATA" "$WORK/previous-bundled.onnx" "$WEIGHTS/colorizer.onnx" \
  docs/validation-examples.jpg
"$PYTHON" -m benchmarks.hints --data "$DATA" --split val --every 4 --no-timing | tee "$WORK/bundle-hints-val.log"
"$PYTHON" -m benchmarks.hints --data "$DATA" --every 2 --no-timing | tee "$WORK/bundle-hints-heldout.log"
"$PYTHON" -m benchmarks.hint_branch "$DATA" --model "$WORK/previous-bundled.onnx" --model bundled \
  | tee "$WORK/bundle-hint-branch.log"
"$PYTHON" -m benchmarks.key_frames | tee "$WORK/bundle-key-frames.log"
"$PYTHON" -m benchmarks.reference | tee "$WORK/bundle-reference.log"
echo "bundled; now the model card, the per-source table, tests/test_onnx.py and the README's hint tables" >&2

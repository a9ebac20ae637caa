#!/usr/bin/env bash
# After finish.sh, when its verdict says to bundle: put the new model in place and re-measure what depends on it.
#
#   COLORIZER=.venv/bin/colorizer recipes/pool/bundle.sh [WORK]     # default runs/pool; about 40 min on 2 cores
#
# 1. keep the bundled model as WORK/previous-bundled.onnx (+ its .alike.json), then copy WORK/colorizer.onnx and its
#    learned "alike" into colorizer/weights/, the checkpoint train.sh exported beside it (WORK/colorizer.pt: weights,
#    metrics and settings) to recipes/bundled-model.pt, and WORK/eval/metrics.json to
#    recipes/pool/logs/eval-stage4.json
# 2. the README's figure of held-out photos, previous | new (docs/validation-examples.jpg)
# 3. the hints benchmarks: validation and held out (benchmarks/results/hints-val.md, hints-heldout.md) and the
#    learned branch beside the spreading, previous against new (hint-branch.md)
# 4. key frames and reference photos, which use the same model (printed, and in WORK/bundle-*.log)
# What stays for a person: the model card and the per-source table in the README (the figures are in
# recipes/pool/logs/eval-stage4.json and WORK/verdict.json), the tests' expectations of the bundled model (working
# size, boost: tests/test_onnx.py, tests/test_evaluate.py), and the README's hint tables from the new results.
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

if [ ! -f "$WORK/colorizer.pt" ]; then
  echo "$WORK/colorizer.pt is missing: run recipes/pool/finish.sh again (train.sh exports it beside colorizer.onnx)" >&2
  exit 1
fi
if [ ! -f "$WORK/previous-bundled.onnx" ]; then
  cp "$WEIGHTS/colorizer.onnx" "$WORK/previous-bundled.onnx"
  # a sidecar names its model's SHA-256, which does not change with the file's name
  cp "$WEIGHTS/colorizer.alike.json" "$WORK/previous-bundled.alike.json"
fi
cp "$WORK/colorizer.pt" recipes/bundled-model.pt  # tests/test_onnx.py checks that it and the ONNX model agree
cp "$WORK/colorizer.onnx" "$WEIGHTS/colorizer.onnx"
cp "$WORK/colorizer.alike.json" "$WEIGHTS/colorizer.alike.json"
cp "$WORK/eval/metrics.json" recipes/pool/logs/eval-stage4.json

"$PYTHON" -m experiments.model_figure "$DATA" "$WORK/previous-bundled.onnx" "$WEIGHTS/colorizer.onnx" \
  docs/validation-examples.jpg
"$PYTHON" -m benchmarks.hints --data "$DATA" --split val --every 4 --no-timing | tee "$WORK/bundle-hints-val.log"
"$PYTHON" -m benchmarks.hints --data "$DATA" --every 2 --no-timing | tee "$WORK/bundle-hints-heldout.log"
"$PYTHON" -m experiments.hint_branch "$DATA" --model "$WORK/previous-bundled.onnx" --model bundled \
  | tee "$WORK/bundle-hint-branch.log"
"$PYTHON" -m benchmarks.key_frames | tee "$WORK/bundle-key-frames.log"
"$PYTHON" -m benchmarks.reference | tee "$WORK/bundle-reference.log"
echo "bundled; now the model card, the per-source table, the tests' expectations and the README's hint tables" >&2

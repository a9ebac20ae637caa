#!/usr/bin/env bash
# Stage 4 has reached its plateau (runs/pool/384-more/finished.json): everything after it, in one command.
#
#   recipes/pool/finish.sh [SHARED] [WORK]     # defaults: ../shared and runs/pool; about 45 min on 2 cores
#
# 1. export best.pt (the epoch chosen on the validation split) without a boost: WORK/stage4-b0.onnx
# 2. choose its chroma boost on the validation split (benchmarks/chroma_boost.py's rule): WORK/chroma-boost.md, .json
# 3. evaluate best.pt once on the validation split and the held-out sources with that boost, export
#    WORK/colorizer.onnx with it, and the checkpoint it is as WORK/colorizer.pt (train.sh's last steps)
# 4. fit its learned "alike" for hints (WORK/colorizer.alike.json: a sidecar is tied to its model's SHA-256)
# 5. the verdict (recipes/pool/verdict.py): bundle it only if it beats the bundled model on the validation split;
#    the held-out targets are reported, not used to decide. WORK/verdict.json
# Each step is skipped when its output is there, so an interrupted run goes on where it stopped. CHROMA_BOOST=B
# overrides the chosen boost (say why in the model card).
set -euo pipefail
SHARED=${1:-../shared}
WORK=${2:-runs/pool}
COLORIZER=${COLORIZER:-colorizer}
PYTHON=${PYTHON:-$(dirname "$(command -v "$COLORIZER")")/python}
DATA=$WORK/data
MORE=$WORK/384-more

if [ ! -f "$MORE/finished.json" ]; then
  echo "$MORE has not reached its plateau yet (no finished.json): run recipes/pool/train.sh on" >&2
  exit 1
fi
if [ ! -f "$MORE/best.pt" ]; then
  echo "$MORE/best.pt is missing: stage 4 is finished and its best weights are the bundled network (recipes/bundled-model.pt); its resume files left the tree" >&2
  exit 1
fi

[ -f "$WORK/stage4-b0.onnx" ] || $COLORIZER export "$MORE/best.pt" "$WORK/stage4-b0.onnx" --working-size 384 \
  --chroma-boost 0
if [ ! -f "$WORK/chroma-boost.json" ]; then
  "$PYTHON" -m benchmarks.chroma_boost "$DATA" --model "$WORK/stage4-b0.onnx" --chosen "$WORK/chroma-boost.json" \
    > "$WORK/chroma-boost.md.new"
  mv "$WORK/chroma-boost.md.new" "$WORK/chroma-boost.md"
fi
BOOST=$("$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))["chosen"])' "$WORK/chroma-boost.json")
if [ -n "${CHROMA_BOOST:-}" ]; then
  echo "chroma boost $CHROMA_BOOST as CHROMA_BOOST says (the validation rule chose $BOOST)" >&2
  BOOST=$CHROMA_BOOST
elif [ "$BOOST" = None ]; then
  echo "no boost reaches the wanted colourfulness on the validation split ($WORK/chroma-boost.md): choose one and" \
    "run again with CHROMA_BOOST=B" >&2
  exit 1
else
  echo "chroma boost chosen on the validation split: $BOOST" >&2
fi

# stage 4 is finished, so train.sh evaluates and exports (colorizer.onnx and the checkpoint it is, colorizer.pt)
[ -f "$WORK/colorizer.onnx" ] && [ -f "$WORK/colorizer.pt" ] \
  || CHROMA_BOOST=$BOOST COLORIZER=$COLORIZER PYTHON=$PYTHON recipes/pool/train.sh "$SHARED" "$WORK"
[ -f "$WORK/colorizer.alike.json" ] || $COLORIZER fit-alike "$DATA" --model "$WORK/colorizer.onnx"

"$PYTHON" recipes/pool/verdict.py "$WORK/eval/metrics.json" recipes/pool/logs/eval-384-boost.json \
  --out "$WORK/verdict.json"
echo "If the verdict says to bundle it: recipes/pool/bundle.sh $WORK (puts it in place and re-measures)" >&2

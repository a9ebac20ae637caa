#!/usr/bin/env bash
# The pool model, start to finish, on a CPU: prepare the pool, train 128, 224 then 384 px, evaluate, export.
# Interrupted (Ctrl-C, a closed session, a time limit)? Run the same command again: each stage resumes exactly
# from its last.pt, a finished stage is skipped.
#
#   recipes/pool/train.sh [SHARED] [WORK]     # defaults: ../shared and runs/pool
set -euo pipefail
SHARED=${1:-../shared}
WORK=${2:-runs/pool}
COLORIZER=${COLORIZER:-colorizer}
DATA=$WORK/data

# Held out whole: two sources never trained on (nor used to pick the best epoch), scored per source at the end.
if [ ! -f "$DATA/manifest.json" ]; then
  $COLORIZER prepare "$SHARED/photos" "$SHARED/datasets" "$DATA" --size 768 --quality 90 \
    --val-sources urban100,sun-hays80
fi

finished() {  # a stage is finished when its log has all its epochs
  local run=$1 epochs=$2
  [ -f "$run/log.jsonl" ] && [ "$(wc -l < "$run/log.jsonl")" -ge "$epochs" ]
}

stage() {  # stage RUN EPOCHS CONFIG [flags...]
  local run=$1 epochs=$2 config=$3
  shift 3
  until finished "$run" "$epochs"; do
    if [ -f "$run/last.pt" ]; then
      $COLORIZER train "$DATA" --out "$run" --config "$config" --resume --no-progress "$@"
    else
      $COLORIZER train "$DATA" --out "$run" --config "$config" --no-progress "$@"
    fi
  done
}

stage "$WORK/128" 14 configs/pool-128.toml --init-from recipes/bundled-model.pt
stage "$WORK/224" 5 configs/pool-224.toml --init-from "$WORK/128/best.pt"
stage "$WORK/384" 3 configs/pool-384.toml --init-from "$WORK/224/best.pt"
FINAL=$WORK/384/best.pt
# Recorded in the model: the size it colourises best at (README, "Working size") and how much bolder its colour is made
# where it commits to one (README, "Vivid colour": chosen on the validation split, `python -m benchmarks.chroma_boost`).
WORKING_SIZE=${WORKING_SIZE:-384}
CHROMA_BOOST=${CHROMA_BOOST:-0.5}

$COLORIZER evaluate "$DATA" --model "$FINAL" --out "$WORK/eval" --working-size "$WORKING_SIZE" \
  --chroma-boost "$CHROMA_BOOST"
[ -f "$WORK/colorizer.onnx" ] || $COLORIZER export "$FINAL" "$WORK/colorizer.onnx" \
  --metrics "$WORK/eval/metrics.json" --working-size "$WORKING_SIZE" --chroma-boost "$CHROMA_BOOST"

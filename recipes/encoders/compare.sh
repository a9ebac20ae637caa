#!/usr/bin/env bash
# EfficientNet-Lite0, Lite1 and Lite2 as the encoder, on the same budget (same data, recipe and number of epochs),
# scored on the sources none of them trained on; then what each costs to colourise with. Run after
# recipes/pool/train.sh prepared the pool (it uses its data); resumable like it.
#
#   recipes/encoders/compare.sh [WORK]        # default: runs/pool
set -euo pipefail
WORK=${1:-runs/pool}
COLORIZER=${COLORIZER:-colorizer}
EPOCHS=4
for n in 0 1 2; do
  run=$WORK/encoders/lite$n
  until [ -f "$run/log.jsonl" ] && [ "$(wc -l < "$run/log.jsonl")" -ge $EPOCHS ]; do
    resume=""; [ -f "$run/last.pt" ] && resume="--resume"
    $COLORIZER train "$WORK/data" --out "$run" --encoder "efficientnet-lite$n" --pretrained imagenet --hints \
      --loss huber --size 128 --epochs $EPOCHS --batch-size 16 --lr 3e-4 --lr-schedule cosine --precision bf16 \
      --scale-jitter 0.5 --no-progress $resume
  done
  [ -f "$run/eval/metrics.json" ] || $COLORIZER evaluate "$WORK/data" --model "$run/best.pt" --out "$run/eval" \
    --figures 0 --split heldout
  [ -f "$run/model.onnx" ] || $COLORIZER export "$run/best.pt" "$run/model.onnx"
done

#!/usr/bin/env bash
# The objective comparison on the larger pool, at equal CPU budget: the bundled network fine-tuned at 224 px with
# each loss for the same number of images (EPOCHS x 1,600, configs/more-224.toml), then each run's best weights scored
# on the same validation photos (benchmarks/objectives.py: the table in recipes/more/README.md).
#
#   nohup nice -n 10 recipes/more/compare.sh > runs/more-compare.log 2>&1 &     # about 20 min a loss on 2 cores
set -euo pipefail
DATA=${DATA:-runs/pool/data}
EPOCHS=${EPOCHS:-4}
COLORIZER=${COLORIZER:-.venv/bin/colorizer}
for loss in ${LOSSES:-huber huber-colourful huber-rebalanced}; do
  run=runs/more/cmp-$loss
  [ -f "$run/log.jsonl" ] && [ "$(wc -l < "$run/log.jsonl")" -ge "$EPOCHS" ] && continue
  resume=()
  [ -f "$run/last.pt" ] && resume=(--resume)
  $COLORIZER train "$DATA" --out "$run" --config configs/more-224.toml --loss "$loss" --epochs "$EPOCHS" \
    --init-from recipes/bundled-model.pt --no-progress "${resume[@]}"
done

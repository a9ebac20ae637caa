#!/usr/bin/env bash
# The prepared device session of issue 13: training speed on one GPU, every setting, in one run (about 10 min).
# Carry the prepared data along (colorizer prepare ../shared/photos .gpu/data --size 768 --quality 90: ~30 MB) and,
# for the EfficientNet model, .gpu/site with the efficientnet_lite_pytorch package. Writes
# benchmarks/results/gpu_speed.md (folded into BENCHMARKS.md by make bench) and copies it to $OUT.
set -eu
export PYTHONPATH="$PWD:$PWD/.gpu/site" PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/gpu-out}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
python3 -m benchmarks.gpu_speed "${DATA:-.gpu/data}" --device cuda --budget-minutes "${BUDGET:-9}" 2>&1 | tee "$OUT/gpu_speed.log"
cp benchmarks/results/gpu_speed.md "$OUT/"

#!/usr/bin/env bash
# Scores behind recipes/hints/README.md, after train_cpu.sh. Writes runs/eval-*/ and docs/hints-*.png.
set -euo pipefail
cd "$(dirname "$0")/../.."
C=.venv/bin/colorizer
BEFORE=runs/bundled-before-hints.pt   # the bundled model before hints (from git history, by train_cpu.sh)
TUNED=runs/hints-all/best.pt          # its fine-tune with hints
BUNDLED=runs/bundled-hints.pt         # BEFORE + the hint convolutions of TUNED: the new bundled model
.venv/bin/python recipes/hints/combine.py $BEFORE $TUNED $BUNDLED
# automatic colour (no hints) on the 32 validation photos, whose sources the training photos share
$C evaluate data/all --model $BEFORE --out runs/eval-val-old --figures 0
$C evaluate data/all --model $TUNED --out runs/eval-val-new --figures 0
$C evaluate data/all --model $BUNDLED --out runs/eval-val-combined --figures 8
# the same on the 64 photos of the held-out sources (the bundled models trained on other photos of these sources)
for m in heldout-nohints heldout-hints; do
  $C evaluate data/heldout --model runs/$m/best.pt --out runs/eval-heldout-$m --figures 0
done
$C evaluate data/heldout --model $BUNDLED --out runs/eval-heldout-bundled --figures 0
# Zhang's hint sweep on the held-out sources, the example figure on validation photos, and timing
.venv/bin/python -m benchmarks.hints --heldout data/heldout --hints-model runs/heldout-hints/best.pt \
  --plain-model runs/heldout-nohints/best.pt --val data/all --out docs   # --val: the bundled ONNX model

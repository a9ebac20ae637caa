#!/usr/bin/env bash
# The CPU training behind the hints model and its generalisation experiment, in the order they ran.
#   colorizer prepare ../shared/photos data/all --size 768 --quality 90          # seed 0: 289 train / 32 val
#   data/src-gcompris = links to ../shared/photos/gcompris-*; data/heldout = links to mate-*, plasma-*, opencv-*
#   colorizer prepare data/src-gcompris data/gcompris --size 768 --quality 90   # 231 train / 26 val
# Each run can be continued after an interruption with the same command plus --resume.
set -euo pipefail
cd "$(dirname "$0")/../.."
C=.venv/bin/colorizer
# 1. the new bundled model: today's bundled model fine-tuned with simulated hints, all sources
git show 63cb29e:colorizer/weights/colorizer.pt > runs/bundled-before-hints.pt  # the bundled model before hints
$C train data/all --out runs/hints-all --config configs/bundled-hints.toml --init-from runs/bundled-before-hints.pt \
  --no-progress
# 2. held-out sources: the same recipe from ImageNet on gcompris only, with and without hints, same budget
$C train data/gcompris --out runs/heldout-hints --config configs/heldout-hints.toml --no-progress
$C train data/gcompris --out runs/heldout-nohints --config configs/heldout-hints.toml --no-hints --no-progress

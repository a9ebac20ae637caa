#!/usr/bin/env bash
# Keep stage 4's progress in the repository, so the next session (on any machine) goes on from it:
# a compact resumable checkpoint (weights float32, Adam's moments and the weight average's difference bfloat16;
# `colorizer.training.checkpoint.compact_checkpoint`), the best epoch's weights as their bfloat16 difference from it
# (`compact_best`: 7 MB; without them a plateau reached on another machine would have lost its best epoch), the epoch
# log and the loss curve. Each save replaces the last.
#
#   recipes/pool/save_progress.sh [WORK]    # default runs/pool; then git add recipes/pool/progress && git commit
set -euo pipefail
WORK=${1:-runs/pool}
RUN=$WORK/384-more
PROGRESS=recipes/pool/progress
PYTHON=${PYTHON:-python}
mkdir -p "$PROGRESS"
rm -f "$PROGRESS/last.pt.new"
$PYTHON -c 'import sys; from colorizer.training.checkpoint import compact_checkpoint; compact_checkpoint(*sys.argv[1:])' \
  "$RUN/last.pt" "$PROGRESS/last.pt.new"
mv "$PROGRESS/last.pt.new" "$PROGRESS/last.pt"
if [ -f "$RUN/best.pt" ]; then  # stored against the last.pt just written (train.sh restores it from the same pair)
  rm -f "$PROGRESS/best.pt.new"
  $PYTHON -c 'import sys; from colorizer.training.checkpoint import compact_best; compact_best(*sys.argv[1:])' \
    "$RUN/best.pt" "$PROGRESS/last.pt" "$PROGRESS/best.pt.new"
  mv "$PROGRESS/best.pt.new" "$PROGRESS/best.pt"
fi
[ -f "$RUN/log.jsonl" ] && cp "$RUN/log.jsonl" "$PROGRESS/log.jsonl"
# the learning curve redrawn from the whole log with this checkout's plot (losses, the average's, ΔE where logged)
$PYTHON -c 'import json, sys; from pathlib import Path; from colorizer.figures import plot_loss
plot_loss([json.loads(line) for line in Path(sys.argv[1]).read_text().splitlines()], Path(sys.argv[2]))' \
  "$PROGRESS/log.jsonl" "$PROGRESS/loss.png"
[ -f "$RUN/finished.json" ] && cp "$RUN/finished.json" "$PROGRESS/finished.json"
ls -l "$PROGRESS"

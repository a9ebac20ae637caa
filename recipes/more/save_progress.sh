#!/usr/bin/env bash
# Keep the larger-pool run's progress in the repository: one file a session, replacing the last (the weights alone,
# bfloat16, about 7 MB: `colorizer.training.checkpoint.session_checkpoint`), with the epoch log and loss curve.
#
#   recipes/more/save_progress.sh [RUN]    # default runs/more/cmp-$LOSS; then git add recipes/more/progress && git commit
set -euo pipefail
LOSS=${LOSS:-huber}
RUN=${1:-runs/more/cmp-$LOSS}
PROGRESS=recipes/more/progress
PYTHON=${PYTHON:-.venv/bin/python}
mkdir -p "$PROGRESS"
$PYTHON -c 'import sys; from colorizer.training.checkpoint import session_checkpoint; session_checkpoint(*sys.argv[1:])' \
  "$RUN/last.pt" "$PROGRESS/last.pt"
cp "$RUN/log.jsonl" "$PROGRESS/log.jsonl"
$PYTHON -c 'import json, sys; from pathlib import Path; from colorizer.figures import plot_loss
plot_loss([json.loads(line) for line in Path(sys.argv[1]).read_text().splitlines()], Path(sys.argv[2]))' \
  "$PROGRESS/log.jsonl" "$PROGRESS/loss.png"
ls -l "$PROGRESS"

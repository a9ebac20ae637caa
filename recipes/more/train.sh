#!/usr/bin/env bash
# The larger-pool model, carried across sessions: bring the photos (extract.py), prepare them beside the pool, then
# train the objective that won the comparison (compare.sh; recipes/more/README.md) on from its comparison run.
# Each step is skipped when its output is there; an interrupted run goes on where it stopped.
#
#   MAX_MINUTES=100 nohup nice -n 10 recipes/more/train.sh > runs/more-train.log 2>&1 &
#   ... before the session ends: pkill -INT -f "colorizer train" (it saves mid-epoch), then
#   recipes/more/save_progress.sh && git add recipes/more/progress && git commit -m "more: progress"
#
# On a fresh machine the committed progress (recipes/more/progress/: the weights alone, bfloat16) is put back as the
# run's last.pt; the run then resumes at its epoch and step, with Adam's moments afresh.
set -euo pipefail
SHARED=${SHARED:-../shared}
MIRRORS=${MIRRORS:-/work/.mirror}
COLORIZER=${COLORIZER:-.venv/bin/colorizer}
PYTHON=${PYTHON:-$(dirname "$COLORIZER")/python}
DATA=${DATA:-runs/pool/data}
LOSS=${LOSS:-huber}  # the comparison's winner on validation ΔE2000 (README of this folder)
EPOCHS=${EPOCHS:-60}
RUN=runs/more/cmp-$LOSS
PROGRESS=recipes/more/progress

if [ ! -f runs/more/photos/manifest.tsv ]; then  # needs the two snapshots of ../shared/datasets/MORE.md (fetch)
  "$PYTHON" recipes/more/extract.py "$MIRRORS" runs/more/photos "$SHARED"
fi
if [ ! -f "$DATA/manifest.json" ]; then  # the pool first, as recipes/pool/train.sh splits it, then the new photos
  $COLORIZER prepare "$SHARED/photos" "$SHARED/datasets" "$DATA" --size 768 --quality 90 \
    --val-sources urban100,sun-hays80
fi
if ! "$PYTHON" -c 'import json, sys; m = json.load(open(sys.argv[1])); sys.exit(0 if any(r["source_name"] == "cats-dogs" for r in m["files"]) else 1)' "$DATA/manifest.json"; then
  $COLORIZER prepare "$SHARED/photos" "$SHARED/datasets" runs/more/photos "$DATA" --size 768 --quality 90 \
    --val-sources urban100,sun-hays80
fi
if [ ! -f "$RUN/last.pt" ] && [ -f "$PROGRESS/last.pt" ]; then
  mkdir -p "$RUN"
  cp "$PROGRESS/last.pt" "$RUN/last.pt"
  cp "$PROGRESS/log.jsonl" "$RUN/log.jsonl"
fi
resume=()
[ -f "$RUN/last.pt" ] && resume=(--resume)
$COLORIZER train "$DATA" --out "$RUN" --config configs/more-224.toml --loss "$LOSS" --epochs "$EPOCHS" \
  --init-from recipes/bundled-model.pt --no-progress ${MAX_MINUTES:+--max-minutes "$MAX_MINUTES"} "${resume[@]}"

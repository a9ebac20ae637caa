#!/usr/bin/env bash
# The pool model, start to finish, on a CPU: prepare the pool, train 128, 224 then 384 px, evaluate, export.
# Interrupted (Ctrl-C, a closed session, a time limit)? Run the same command again: each stage resumes exactly
# from its last.pt, a finished stage is skipped.
#
#   recipes/pool/train.sh [SHARED] [WORK]     # defaults: ../shared and runs/pool
#
# In the background of a session (stage 4 goes on where the last session's commit left it; README of this folder):
#   MAX_MINUTES=120 TRAIN_ONLY=1 nohup nice -n 10 recipes/pool/train.sh > runs/pool-train.log 2>&1 &
#   ... before the session ends: kill -INT the `colorizer train` process (it saves mid-epoch), then
#   recipes/pool/save_progress.sh && git add recipes/pool/progress && git commit
set -euo pipefail
SHARED=${1:-../shared}
WORK=${2:-runs/pool}
COLORIZER=${COLORIZER:-colorizer}
PYTHON=${PYTHON:-$(dirname "$(command -v "$COLORIZER")")/python}  # the one colorizer is installed in
DATA=$WORK/data

# Held out whole: two sources never trained on (nor used to pick the best epoch), scored per source at the end.
if [ ! -f "$DATA/manifest.json" ]; then
  $COLORIZER prepare "$SHARED/photos" "$SHARED/datasets" "$DATA" --size 768 --quality 90 \
    --val-sources urban100,sun-hays80
fi

finished() {  # a stage is finished when its log has all its epochs, or its run says so (a plateau: finished.json)
  local run=$1 epochs=$2
  [ -f "$run/finished.json" ] || { [ -f "$run/log.jsonl" ] && [ "$(wc -l < "$run/log.jsonl")" -ge "$epochs" ]; }
}

stage() {  # stage RUN EPOCHS CONFIG [flags...]
  local run=$1 epochs=$2 config=$3
  shift 3
  until finished "$run" "$epochs"; do
    if [ -f "$run/last.pt" ]; then
      $COLORIZER train "$DATA" --out "$run" --config "$config" --resume --no-progress ${MAX_MINUTES:+--max-minutes "$MAX_MINUTES"} "$@"
    else
      $COLORIZER train "$DATA" --out "$run" --config "$config" --no-progress ${MAX_MINUTES:+--max-minutes "$MAX_MINUTES"} "$@"
    fi
    if [ -n "${MAX_MINUTES:-}" ] && ! finished "$run" "$epochs"; then
      echo "$run: this session's $MAX_MINUTES minutes are used; run the same command again to go on" >&2
      exit 0
    fi
  done
}

if [ "${FROM_SCRATCH:-0}" = 1 ]; then  # the three stages that made the bundled network (about 100 min unshared)
  stage "$WORK/128" 14 configs/pool-128.toml --init-from recipes/bundled-model.pt
  stage "$WORK/224" 5 configs/pool-224.toml --init-from "$WORK/128/best.pt"
  stage "$WORK/384" 3 configs/pool-384.toml --init-from "$WORK/224/best.pt"
fi
# Stage 4, carried across sessions and machines: more 384-px epochs until the validation loss is flat for 3, from the
# bundled network (stage 3's best). Its progress is committed (recipes/pool/save_progress.sh) and restored here.
MORE=$WORK/384-more
PROGRESS=recipes/pool/progress
# Stage 4 is finished (its log and finished.json stay in recipes/pool/progress/; its best weights are the bundled
# network, recipes/bundled-model.pt); its 28-MB resume checkpoint was taken out of the tree once it was.
if [ ! -f "$MORE/log.jsonl" ] && [ -f "$PROGRESS/finished.json" ]; then
  mkdir -p "$MORE"
  cp "$PROGRESS/log.jsonl" "$MORE/log.jsonl"
  cp "$PROGRESS/finished.json" "$MORE/finished.json"
fi
# stage 3's best: recipes/bundled-model.pt until stage 4 itself was bundled (as of commit 52abdd2), or this run's own
INIT_MORE=recipes/bundled-model.pt
[ "${FROM_SCRATCH:-0}" = 1 ] && INIT_MORE=$WORK/384/best.pt
stage "$MORE" 40 configs/pool-384-more.toml --init-from "$INIT_MORE"
[ "${TRAIN_ONLY:-0}" = 1 ] && exit 0
FINAL=$MORE/best.pt
# Recorded in the model: the size it colourises best at (README, "Working size") and how much bolder its colour is made
# where it commits to one (README, "Vivid colour": chosen on the validation split, `python -m benchmarks.chroma_boost`).
WORKING_SIZE=${WORKING_SIZE:-384}
CHROMA_BOOST=${CHROMA_BOOST:-0.3}  # stage 4's, as finish.sh chose it (stage 3's was 0.5)

$COLORIZER evaluate "$DATA" --model "$FINAL" --out "$WORK/eval" --working-size "$WORKING_SIZE" \
  --chroma-boost "$CHROMA_BOOST"
# the ONNX model, and the checkpoint it is (weights, metrics, settings) for recipes/bundled-model.pt (bundle.sh)
for model in "$WORK/colorizer.onnx" "$WORK/colorizer.pt"; do
  [ -f "$model" ] || $COLORIZER export "$FINAL" "$model" \
    --metrics "$WORK/eval/metrics.json" --working-size "$WORKING_SIZE" --chroma-boost "$CHROMA_BOOST"
done

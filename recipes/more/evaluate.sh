#!/usr/bin/env bash
# Score each run of the objective comparison, and the bundled model beside them, on the same validation photos:
# every 4th photo of the validation split and every photo of the people subset, at 512 px, the network at 384.
#
#   recipes/more/evaluate.sh [LOSS...]    # default: the bundled model (boost 0 and its own 0.3) and every cmp-* run
set -euo pipefail
COLORIZER=${COLORIZER:-.venv/bin/colorizer}
DATA=${DATA:-runs/pool/data}
common=(--split val --every 4 --people recipes/more/people.txt --working-size 384 --figures 8)
score() {  # score NAME [model flags...]
  local name=$1
  shift
  [ -f "runs/more/eval-$name/metrics.json" ] && return 0
  $COLORIZER evaluate "$DATA" --out "runs/more/eval-$name" "${common[@]}" "$@" > "runs/more/eval-$name.txt"
}
[ $# -eq 0 ] && set -- bundled $(ls -d runs/more/cmp-* | sed 's|runs/more/cmp-||')
for name in "$@"; do
  if [ "$name" = bundled ]; then
    score bundled
    score bundled-b0 --chroma-boost 0
  elif [ -f "runs/more/cmp-$name/best.pt" ]; then
    score "$name" --model "runs/more/cmp-$name/best.pt" --chroma-boost 0
  fi
done

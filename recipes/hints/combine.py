"""The bundled hints model = the bundled model before hints + the hint convolutions of its hints fine-tune.

The hint convolutions only add to the layers they join, and add nothing without hints: so today's weights plus the
fine-tuned hint convolutions colour exactly like today's model without hints, and follow hints as the fine-tuned
model does (measured in README.md here). The fine-tune's own automatic colour was slightly less accurate (it had
only 224-px crops on a CPU, where today's model had 448-px ones on a GPU).

    python recipes/hints/combine.py runs/bundled-before-hints.pt runs/hints-all/best.pt runs/bundled-hints.pt
"""

import sys
from pathlib import Path

from colorizer.training.checkpoint import load_checkpoint, save_checkpoint
from colorizer.training.model import is_hint_parameter

before, tuned, output = (Path(a) for a in sys.argv[1:4])
base, hints = load_checkpoint(before), load_checkpoint(tuned)
weights = dict(base["model"]) | {k: v for k, v in hints["model"].items() if is_hint_parameter(k)}
keep = ("model_config", "head", "config", "epoch", "best_val_loss")
save_checkpoint(output, {k: hints[k] for k in keep} | {"model": weights, "made_from": [str(before), str(tuned)]})
print(f"{output}: {before} + the hint convolutions of {tuned}")

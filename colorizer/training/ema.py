"""An exponential moving average of a model's weights, validated beside the raw weights every epoch.

As timm's ModelEmaV2/V3 and TensorFlow's ExponentialMovingAverage: after every optimizer step each floating-point
entry of the state dict (weights and batch-norm statistics) moves towards the model's by (1 - decay), with
decay = min(DECAY, (1 + n) / (10 + n)) after n updates, so the average follows the weights closely at first. The
average is a plain module of the same architecture: `validate` runs on it as on the model, and its state dict is
what a checkpoint keeps (under "ema") and what `best.pt` holds when it wins on the validation split.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class WeightAverage:
    """The averaged copy of `model` (unwrapped: no DDP or compile wrapper), updated with `update(model)`."""

    def __init__(self, model: nn.Module, decay: float):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"the averaging decay must be between 0 and 1, not {decay}")
        self.decay = decay
        self.updates = 0
        self.module = copy.deepcopy(model).eval()
        for parameter in self.module.parameters():
            parameter.requires_grad_(False)

    def decay_now(self) -> float:
        return min(self.decay, (1 + self.updates) / (10 + self.updates))

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        weight = 1.0 - self.decay_now()
        averaged = self.module.state_dict()
        for name, value in model.state_dict().items():
            mine = averaged[name]
            if mine.is_floating_point():
                mine.lerp_(value.to(mine.dtype), weight)
            else:  # counters such as batch norm's num_batches_tracked
                mine.copy_(value)
        self.updates += 1

    def state_dict(self) -> dict:
        return {"weights": self.module.state_dict(), "updates": self.updates, "decay": self.decay}

    def load_state_dict(self, state: dict) -> None:
        self.module.load_state_dict(state["weights"])
        self.updates = int(state["updates"])

"""Weight averaging (ours, not the paper's): an exponential moving average of the model's weights.

Why: with CPU-sized training, two runs that differ only in their seed end several HOTA apart, and the
seed spread -- not the method -- decides what a comparison can show. Averaging the weights over the
last part of training smooths the step-to-step wander of the final weights:

    theta_avg <- d_t * theta_avg + (1 - d_t) * theta,   d_t = d * (1 - exp(-t / warmup))

The warm-up (YOLOX's ModelEMA schedule) keeps the first steps from freezing the average at the
initial weights. Floating-point tensors are averaged; integer buffers are copied.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import Tensor, nn


class WeightAverage:
    """EMA of ``model``'s state; :meth:`update` after every optimiser step, :meth:`averaged` to deploy."""

    def __init__(self, model: nn.Module, decay: float, warmup_steps: float = 500.0) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"the averaging decay must lie in (0, 1), got {decay}")
        if warmup_steps <= 0:
            raise ValueError(f"warmup_steps must be positive, got {warmup_steps}")
        self.decay, self.warmup_steps, self.steps = decay, warmup_steps, 0
        self.state: dict[str, Tensor] = {k: v.detach().clone() for k, v in model.state_dict().items()}

    def current_decay(self) -> float:
        """d_t after ``self.steps`` updates."""
        return self.decay * (1.0 - math.exp(-self.steps / self.warmup_steps))

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.steps += 1
        d = self.current_decay()
        for name, value in model.state_dict().items():
            average = self.state[name]
            if average.is_floating_point():
                average.mul_(d).add_(value.detach(), alpha=1.0 - d)
            else:
                average.copy_(value)

    def averaged(self, model: nn.Module) -> nn.Module:
        """A copy of ``model`` holding the averaged weights (``model`` itself is left as it is)."""
        copied = copy.deepcopy(model)
        copied.load_state_dict(self.state)
        return copied

    def state_dict(self) -> dict:
        return {"decay": self.decay, "warmup_steps": self.warmup_steps, "steps": self.steps, "state": self.state}

    def load_state_dict(self, saved: dict) -> None:
        if (saved["decay"], saved["warmup_steps"]) != (self.decay, self.warmup_steps):
            raise ValueError(f"the run being resumed averaged with decay {saved['decay']} / warm-up "
                             f"{saved['warmup_steps']}, not {self.decay} / {self.warmup_steps}")
        self.steps = saved["steps"]
        self.state = {k: v.clone() for k, v in saved["state"].items()}

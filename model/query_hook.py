"""The seam between query construction and the decoder.

The baseline passes queries through unchanged; VSD-MOT (``model.vsd``) runs the student on them and
fuses the result through DSWR. Keeping this one seam is what makes the paper's ablations a switch.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn


@dataclass
class HookOutput:
    """What the hook returns for a batch of ``B`` frames with ``n`` queries each.

    Attributes:
        queries: (B, n, 256) the vectors the decoder consumes (F_fused for VSD-MOT).
        student: (B, n, 256) the student's output S (for the distillation loss), or None.
        semantic_weight: (B,) DSWR's w per frame, or None where no fusion happens.
    """

    queries: Tensor
    student: Tensor | None = None
    semantic_weight: Tensor | None = None


class IdentityHook(nn.Module):
    """The baseline: the decoder sees the proposal and track queries as built."""

    def forward(self, queries: Tensor, quality: Tensor | None = None, padding_mask: Tensor | None = None) -> HookOutput:
        return HookOutput(queries)

"""Dynamic Semantic Weight Regulation (paper Sec. III-C, eqs. 13-14).

Poor frames carry little usable appearance, so their queries should lean on the distilled visual
semantics; good frames should keep their own query features. DSWR turns the frame quality Q
(:mod:`model.vsd.quality`) into a per-frame semantic weight and blends the two feature sets with it:

    w       = sigmoid(W * Q + b)                          (13)
    F_fused = w * F_semantic + (1 - w) * F_query           (14)

Initialisation (``DSWRConfig``): W = -2, b = 1, so w(Q=0) = sigmoid(1) = 0.731,
w(Q=0.5) = 0.5 and w(Q=1) = sigmoid(-1) = 0.269. Why: W < 0 encodes the paper's "lower quality,
higher semantic weight" from the first step; the curve is symmetric about the middle of the Q
range, so neither branch dominates a priori; neither end saturates (dw/dQ stays >= 0.39 in
magnitude over [0, 1]), so W and b still get useful gradients. A clean PETS09 frame (Q ~ 0.79)
starts at w ~ 0.36: mostly its own queries, with semantic guidance, as Sec. III-C describes.

``DSWR(fixed_weight=0.5)`` is the "no DSWR" ablation: a constant, non-learnable ratio.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn


@dataclass
class DSWRConfig:
    """Initial values of the learnable scalars of eq. 13 (see the module docstring for the choice)."""

    W_init: float = -2.0
    b_init: float = 1.0


@dataclass
class DSWROutput:
    """Result of :class:`DSWR`.

    Attributes:
        fused: (B, n, D) F_fused of eq. 14, or (n, D) when the inputs were unbatched.
        weight: (B,) semantic weight w per frame, or a 0-d tensor when the inputs were unbatched;
            returned so a UI can plot it against Q.
    """

    fused: Tensor
    weight: Tensor


class DSWR(nn.Module):
    """Blend semantic and query features per frame with a quality-driven weight (eqs. 13-14)."""

    def __init__(self, config: DSWRConfig | None = None, fixed_weight: float | None = None) -> None:
        super().__init__()
        self.fixed_weight = fixed_weight
        if fixed_weight is not None:
            if not 0.0 <= fixed_weight <= 1.0:
                raise ValueError(f"fixed_weight is a mixing ratio and must lie in [0, 1], got {fixed_weight}")
            if config is not None:
                raise ValueError("pass either a DSWRConfig (learnable weight) or fixed_weight, not both")
            return
        config = config or DSWRConfig()
        self.W = nn.Parameter(torch.tensor(float(config.W_init)))
        self.b = nn.Parameter(torch.tensor(float(config.b_init)))

    def semantic_weight(self, quality: Tensor) -> Tensor:
        """Eq. 13: w = sigmoid(W * Q + b), same shape as ``quality``."""
        if self.fixed_weight is not None:
            return torch.full_like(quality, self.fixed_weight)
        return torch.sigmoid(self.W * quality + self.b)

    def forward(
        self, f_semantic: Tensor, f_query: Tensor, quality: Tensor | float | None = None
    ) -> DSWROutput:
        """Fuse features (eq. 14).

        Args:
            f_semantic: (B, n, D) or (n, D) semantic features; a size-1 query axis, e.g. (B, 1, D)
                for one global vector per frame, broadcasts over the queries.
            f_query: (B, n, D) or (n, D) query vectors.
            quality: Q per frame, (B,), or a scalar for all frames; may be omitted in fixed mode.
        """
        unbatched = f_query.ndim == 2
        if f_query.ndim not in (2, 3) or f_semantic.ndim != f_query.ndim:
            raise ValueError(
                "f_semantic and f_query must both be (B, n, D) or both (n, D); "
                f"got {tuple(f_semantic.shape)} and {tuple(f_query.shape)}"
            )
        if unbatched:
            f_semantic, f_query = f_semantic[None], f_query[None]
        try:
            shape = torch.broadcast_shapes(f_semantic.shape, f_query.shape)
        except RuntimeError:
            raise ValueError(
                f"f_semantic {tuple(f_semantic.shape)} and f_query {tuple(f_query.shape)} do not broadcast: "
                "they need the same feature size D and batch, and n equal or 1"
            ) from None
        batch = shape[0]
        quality = self._quality_per_frame(quality, batch, f_query)
        weight = self.semantic_weight(quality)
        w = weight[:, None, None]
        fused = w * f_semantic + (1 - w) * f_query
        if unbatched:
            return DSWROutput(fused=fused[0], weight=weight[0])
        return DSWROutput(fused=fused, weight=weight)

    def _quality_per_frame(self, quality: Tensor | float | None, batch: int, like: Tensor) -> Tensor:
        """Quality as a (B,) tensor on ``like``'s device and dtype."""
        if quality is None:
            if self.fixed_weight is None:
                raise ValueError("quality is required unless the module was built with fixed_weight")
            return torch.zeros(batch, dtype=like.dtype, device=like.device)
        quality = torch.as_tensor(quality, dtype=like.dtype, device=like.device)
        if quality.ndim == 0:
            return quality.expand(batch)
        if quality.shape != (batch,):
            raise ValueError(
                f"quality must be a scalar or hold one value per frame ({batch},), got {tuple(quality.shape)}"
            )
        return quality

    def extra_repr(self) -> str:
        return f"fixed_weight={self.fixed_weight}" if self.fixed_weight is not None else ""


def fixed_ratio_fusion(f_semantic: Tensor, f_query: Tensor, weight: float) -> DSWROutput:
    """The paper's "no DSWR" ablation: eq. 14 with a constant w instead of eq. 13."""
    return DSWR(fixed_weight=weight)(f_semantic, f_query)

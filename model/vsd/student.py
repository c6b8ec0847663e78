"""The student model of paper Sec. III-A (eqs. 1-3): a small Transformer encoder over the queries.

It reads the tracker's n query vectors of one frame, lets them exchange context through
self-attention, and returns a correction added to the input:

    X_proj = Linear(X)                      (1)
    X_enc  = TransformerEncoder(X_proj)     (2)   3 layers
    X_out  = Linear(X_enc) + X              (3)   residual

The output projection starts at zero, so an untrained student is exactly the identity: it can be
dropped into a trained baseline tracker without changing a single prediction, and distillation
then moves it away from the identity only as far as the loss asks.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn


@dataclass
class StudentConfig:
    """Sizes of the student. The paper fixes d_model=256 and num_layers=3; hidden_dim is left open.

    These defaults (hidden 256, ffn_dim 512: 1.7 M parameters) are the paper-sized student of the
    Table V analogue; it costs 3-4 ms per frame on one CPU thread for n = 10-60 queries. The shipped
    ``assets/vsd_mot.pt`` uses hidden_dim=64, num_heads=4, ffn_dim=128 (0.13 M, ~1.5 ms), which halves
    VSD-MOT's added end-to-end frame time (+15 % -> +7.4 %) with no loss of accuracy (BENCHMARKS.md).
    dropout=0.1 is the usual Transformer regularisation and is inactive at inference.
    """

    d_model: int = 256
    hidden_dim: int = 256
    num_layers: int = 3
    num_heads: int = 8
    ffn_dim: int = 512
    dropout: float = 0.1

    def __post_init__(self) -> None:
        if self.hidden_dim % self.num_heads:
            raise ValueError(
                f"hidden_dim={self.hidden_dim} must be divisible by num_heads={self.num_heads}; "
                "pick a head count that divides the hidden size"
            )
        if min(self.d_model, self.hidden_dim, self.num_layers, self.num_heads, self.ffn_dim) < 1:
            raise ValueError("all StudentConfig sizes must be positive integers")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")


@dataclass
class StudentOutput:
    """What the student returns.

    Attributes:
        features: X_out, (B, n, d_model) -- or (n, d_model) when the input had no batch axis.
            At padded positions it equals the input: the student never edits what it is told
            to ignore.
    """

    features: Tensor


class StudentModel(nn.Module):
    """Eqs. 1-3: input projection, 3-layer Transformer encoder, output projection plus residual."""

    def __init__(self, config: StudentConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or StudentConfig()
        self.input_proj = nn.Linear(config.d_model, config.hidden_dim)
        layer = nn.TransformerEncoderLayer(
            d_model=config.hidden_dim,
            nhead=config.num_heads,
            dim_feedforward=config.ffn_dim,
            dropout=config.dropout,
            activation="gelu",
            batch_first=True,
            norm_first=True,  # pre-LN trains stably without a learning-rate warm-up
        )
        self.encoder = nn.TransformerEncoder(
            layer,
            num_layers=config.num_layers,
            norm=nn.LayerNorm(config.hidden_dim),  # pre-LN stacks need a final norm
            enable_nested_tensor=False,  # same numerics in train and eval mode
        )
        self.output_proj = nn.Linear(config.hidden_dim, config.d_model)
        nn.init.zeros_(self.output_proj.weight)  # identity at init, see the module docstring
        nn.init.zeros_(self.output_proj.bias)

    def forward(self, x: Tensor, padding_mask: Tensor | None = None) -> StudentOutput:
        """Refine queries ``x`` (B, n, d_model) or (n, d_model); ``padding_mask`` (B, n), True = padding."""
        unbatched = x.dim() == 2
        if unbatched:
            x = x.unsqueeze(0)
            if padding_mask is not None and padding_mask.dim() == 1:
                padding_mask = padding_mask.unsqueeze(0)
        padding_mask = self._check_inputs(x, padding_mask)
        batch, n, _ = x.shape
        if n == 0 or batch == 0:
            out = x.clone()
            return StudentOutput(out.squeeze(0) if unbatched else out)

        attention_mask = None
        if padding_mask is not None:
            # A frame that is all padding would give softmax over nothing (NaN); let it attend
            # freely instead -- its outputs are replaced by the input below anyway.
            attention_mask = padding_mask & ~padding_mask.all(dim=1, keepdim=True)
        x_proj = self.input_proj(x)  # (1)
        x_enc = self.encoder(x_proj, src_key_padding_mask=attention_mask)  # (2)
        correction = self.output_proj(x_enc)  # (3), the residual is added below
        if padding_mask is not None:
            correction = correction.masked_fill(padding_mask.unsqueeze(-1), 0.0)
        out = correction + x
        return StudentOutput(out.squeeze(0) if unbatched else out)

    def _check_inputs(self, x: Tensor, padding_mask: Tensor | None) -> Tensor | None:
        if x.dim() != 3 or x.shape[-1] != self.config.d_model:
            raise ValueError(
                f"student input must be (B, n, {self.config.d_model}) or (n, {self.config.d_model}), "
                f"got {tuple(x.shape)}"
            )
        if padding_mask is None:
            return None
        if padding_mask.shape != x.shape[:2]:
            raise ValueError(
                f"padding_mask must be (B, n) = {tuple(x.shape[:2])} to match the queries, "
                f"got {tuple(padding_mask.shape)}"
            )
        return padding_mask.to(device=x.device, dtype=torch.bool)

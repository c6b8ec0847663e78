"""The query decoder: self-attention over all queries, box-anchored multi-scale sampling attention
to the detector's feature maps, iterative box refinement and score heads (pure PyTorch, CPU-fast).

Design follows MOTRv2 / DAB-Deformable-DETR: each query carries a content vector (256) and a box
anchor (cx, cy, w, h in [0, 1] of the detector's letterboxed input); positional queries are sine
encodings of the anchor, and cross-attention samples a few learned points per feature level inside
and around the anchor box. Sampling happens on the raw PAFPN channels and only then projects to
``d_model``: bilinear sampling and a linear projection commute, and projecting a few hundred
samples is far cheaper on a CPU than projecting whole feature maps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from model.core.box_ops import inverse_sigmoid


@dataclass
class DecoderConfig:
    d_model: int = 256
    num_layers: int = 2
    num_heads: int = 8
    num_points: int = 4  # sampling points per feature level and query
    ffn_dim: int = 512
    dropout: float = 0.0
    feature_channels: tuple[int, ...] = (64, 128, 256)  # YOLOX-Nano PAFPN, strides 8/16/32


@dataclass
class DecoderOutput:
    """Per-layer predictions for ``n`` queries in a batch of ``B`` frames.

    Attributes:
        logits: (L, B, n) objectness logits, one row per decoder layer (last = final).
        boxes: (L, B, n, 4) cx, cy, w, h in [0, 1] of the letterboxed detector input.
        hidden: (B, n, d_model) last layer's query content, fed to the track-query update.
    """

    logits: Tensor
    boxes: Tensor
    hidden: Tensor


def sine_encoding(values: Tensor, num_feats: int = 64, temperature: float = 10000.0) -> Tensor:
    """(..., k) values in [0, 1] -> (..., k * num_feats) interleaved sin/cos (DETR/DAB-DETR style)."""
    dim_t = torch.arange(num_feats, dtype=torch.float32, device=values.device)
    dim_t = temperature ** (2 * (dim_t // 2) / num_feats)
    pos = values[..., None] * (2 * math.pi) / dim_t
    pos = torch.stack((pos[..., 0::2].sin(), pos[..., 1::2].cos()), dim=-1).flatten(-2)
    return pos.flatten(-2)


class MLP(nn.Module):
    def __init__(self, in_dim: int, hidden_dim: int, out_dim: int, num_layers: int) -> None:
        super().__init__()
        dims = [in_dim] + [hidden_dim] * (num_layers - 1) + [out_dim]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))

    def forward(self, x: Tensor) -> Tensor:
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = F.relu(x)
        return x


def sample_levels(features: list[Tensor], points: Tensor) -> list[Tensor]:
    """Bilinear samples of every level at ``points`` (B, n, P, 2) in [0, 1] -> [(B, n, P, C_l)]."""
    grid = points * 2 - 1
    return [
        F.grid_sample(feat, grid, mode="bilinear", padding_mode="zeros", align_corners=False).permute(0, 2, 3, 1)
        for feat in features
    ]


class BoxSamplingAttention(nn.Module):
    """Deformable-style cross-attention whose sampling points are placed relative to the anchor box.

    Points are shared by the heads (each head has its own softmax weights over the points), which
    keeps the number of bilinear samples at ``n * levels * points``.
    """

    def __init__(self, cfg: DecoderConfig) -> None:
        super().__init__()
        self.cfg = cfg
        levels, points = len(cfg.feature_channels), cfg.num_points
        self.offsets = nn.Linear(cfg.d_model, levels * points * 2)
        self.weights = nn.Linear(cfg.d_model, cfg.num_heads * levels * points)
        self.value_proj = nn.ModuleList(nn.Linear(c, cfg.d_model) for c in cfg.feature_channels)
        self.output_proj = nn.Linear(cfg.d_model, cfg.d_model)
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        # Start from a fixed pattern of points spread over the box (offsets in units of half the box size).
        nn.init.zeros_(self.offsets.weight)
        levels, points = len(self.cfg.feature_channels), self.cfg.num_points
        angles = torch.arange(points, dtype=torch.float32) * (2 * math.pi / points) + math.pi / 4
        pattern = torch.stack((angles.cos(), angles.sin()), -1) * 0.5
        with torch.no_grad():
            self.offsets.bias.copy_(pattern[None].repeat(levels, 1, 1).flatten())
        nn.init.zeros_(self.weights.weight)
        nn.init.zeros_(self.weights.bias)

    def forward(self, query: Tensor, anchors: Tensor, features: list[Tensor]) -> Tensor:
        B, n, _ = query.shape
        levels, points, heads = len(features), self.cfg.num_points, self.cfg.num_heads
        offsets = self.offsets(query).view(B, n, levels, points, 2)
        locations = anchors[:, :, None, None, :2] + offsets * anchors[:, :, None, None, 2:] * 0.5
        values = [
            proj(sampled)
            for proj, sampled in zip(
                self.value_proj,
                (sample_levels([feat], locations[:, :, lvl])[0] for lvl, feat in enumerate(features)),
            )
        ]
        values = torch.cat(values, dim=2)  # (B, n, L*P, d)
        values = values.view(B, n, levels * points, heads, -1)
        attn = self.weights(query).view(B, n, heads, levels * points).softmax(-1)
        out = torch.einsum("bnhk,bnkhc->bnhc", attn, values).reshape(B, n, -1)
        return self.output_proj(out)


class DecoderLayer(nn.Module):
    def __init__(self, cfg: DecoderConfig) -> None:
        super().__init__()
        self.self_attn = nn.MultiheadAttention(cfg.d_model, cfg.num_heads, dropout=cfg.dropout, batch_first=True)
        self.cross_attn = BoxSamplingAttention(cfg)
        self.ffn = nn.Sequential(
            nn.Linear(cfg.d_model, cfg.ffn_dim), nn.ReLU(), nn.Dropout(cfg.dropout), nn.Linear(cfg.ffn_dim, cfg.d_model)
        )
        self.norm1, self.norm2, self.norm3 = (nn.LayerNorm(cfg.d_model) for _ in range(3))
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(
        self, tgt: Tensor, pos: Tensor, anchors: Tensor, features: list[Tensor], padding_mask: Tensor | None
    ) -> Tensor:
        q = k = tgt + pos
        tgt = self.norm1(tgt + self.dropout(self.self_attn(q, k, tgt, key_padding_mask=padding_mask, need_weights=False)[0]))
        tgt = self.norm2(tgt + self.dropout(self.cross_attn(tgt + pos, anchors, features)))
        return self.norm3(tgt + self.dropout(self.ffn(tgt)))


class QueryDecoder(nn.Module):
    """Refines every query's box and scores it, layer by layer (boxes detached between layers)."""

    def __init__(self, cfg: DecoderConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg = DecoderConfig() if cfg is None else cfg
        self.layers = nn.ModuleList(DecoderLayer(cfg) for _ in range(cfg.num_layers))
        self.anchor_pos = MLP(4 * (cfg.d_model // 4), cfg.d_model, cfg.d_model, 2)
        self.class_heads = nn.ModuleList(nn.Linear(cfg.d_model, 1) for _ in range(cfg.num_layers))
        self.box_heads = nn.ModuleList(MLP(cfg.d_model, cfg.d_model, 4, 3) for _ in range(cfg.num_layers))
        prior = 0.01  # focal-loss prior: start with low objectness everywhere
        for head in self.class_heads:
            nn.init.constant_(head.bias, -math.log((1 - prior) / prior))
        for head in self.box_heads:
            nn.init.zeros_(head.layers[-1].weight)
            nn.init.zeros_(head.layers[-1].bias)

    def position(self, anchors: Tensor) -> Tensor:
        return self.anchor_pos(sine_encoding(anchors, self.cfg.d_model // 4))

    def forward(
        self, content: Tensor, anchors: Tensor, features: list[Tensor], padding_mask: Tensor | None = None
    ) -> DecoderOutput:
        """content (B, n, d), anchors (B, n, 4) cxcywh in (0, 1), features [(B, C_l, H_l, W_l)]."""
        B, n, d = content.shape
        if n == 0:
            empty = content.new_zeros((self.cfg.num_layers, B, 0))
            return DecoderOutput(empty, content.new_zeros((self.cfg.num_layers, B, 0, 4)), content)
        tgt, all_logits, all_boxes = content, [], []
        for layer, class_head, box_head in zip(self.layers, self.class_heads, self.box_heads):
            tgt = layer(tgt, self.position(anchors), anchors, features, padding_mask)
            boxes = (box_head(tgt) + inverse_sigmoid(anchors)).sigmoid()
            all_logits.append(class_head(tgt).squeeze(-1))
            all_boxes.append(boxes)
            anchors = boxes.detach()
        return DecoderOutput(torch.stack(all_logits), torch.stack(all_boxes), tgt)

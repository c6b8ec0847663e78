"""The learnable part of the MOTRv2-style query tracker: query construction -> hook -> decoder.

Per frame, every YOLOX box above 0.05 becomes a *proposal query* (box as anchor; content = a shared
learnable embedding + a sine encoding of the detector score + appearance sampled inside the box),
and every live track contributes a *track query* carried over from the previous frame (content =
the decoder's last hidden state after the query-interaction update, anchor = its last box). The
two are concatenated into the frame's n x 256 query vectors, passed through the query hook
(identity for the baseline; student + DSWR for VSD-MOT), and decoded against the detector's
multi-scale features. The identity rules that turn decoded queries into tracks live in
:mod:`model.tracking.runtime`; checkpoints in :mod:`model.tracking.checkpoint`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

import torch
from torch import Tensor, nn

from model.tracking.decoder import MLP, DecoderConfig, DecoderOutput, QueryDecoder, sample_levels, sine_encoding
from model.tracking.hooks import HookInputs, HookOutput, HookSwitches, IdentityHook, QueryHook
from model.tracking.proposals import ProposalInputs

# Run-time thresholds that the first checkpoints stored in their model config; they belong to
# RuntimeConfig now (not stored in checkpoints) and are ignored when such a checkpoint loads.
LEGACY_RUNTIME_KEYS = frozenset({
    "new_track_threshold", "keep_threshold", "miss_tolerance", "duplicate_iou", "track_nms_iou",
    "track_nms_removes", "snap_iou", "snap_min_score",
})


@dataclass
class TrackerConfig:
    """The model's shape (stored in checkpoints)."""

    decoder: DecoderConfig = field(default_factory=DecoderConfig)
    max_proposals: int = 100
    appearance_grid: int = 3  # appearance = mean of grid x grid samples inside the box, per level
    # Ours (model.tracking.motion): a track query's next anchor is its last box moved by its velocity, a
    # momentum average of its centre steps with this weight on the past; None = its last box (MOTRv2).
    # Stored here, not in RuntimeConfig, because training and the tracker must agree on it.
    track_motion_momentum: float | None = None

    def __post_init__(self) -> None:
        if self.track_motion_momentum is not None and not 0.0 <= self.track_motion_momentum < 1.0:
            raise ValueError(f"track_motion_momentum is in [0, 1) or None, got {self.track_motion_momentum}")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrackerConfig:
        """Rebuild from a checkpoint's ``config``; unknown keys are refused by name."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known - LEGACY_RUNTIME_KEYS)
        decoder_data = dict(data.get("decoder", {}))
        decoder_known = {f.name for f in fields(DecoderConfig)}
        unknown += [f"decoder.{k}" for k in sorted(set(decoder_data) - decoder_known)]
        if unknown:
            raise ValueError(f"the checkpoint's tracker config has keys this code does not know: {', '.join(unknown)}")
        decoder = DecoderConfig(**decoder_data)
        decoder.feature_channels = tuple(decoder.feature_channels)
        return cls(decoder=decoder, **{k: v for k, v in data.items() if k in known and k != "decoder"})


@dataclass
class FrameOutput:
    """The model's answer for one batch of frames.

    Attributes:
        decoder: per-layer logits (L, B, n) and boxes (L, B, n, 4); hidden (B, n, 256).
        hook: the hook's output (queries fed to the decoder, student features, semantic weight).
        num_track_queries: queries ``[:num_track_queries]`` are track queries, the rest proposals.
    """

    decoder: DecoderOutput
    hook: HookOutput
    num_track_queries: int


class QueryTrackerModel(nn.Module):
    """Query construction, hook, decoder and the track-query update."""

    def __init__(self, config: TrackerConfig | None = None, hook: QueryHook | None = None) -> None:
        super().__init__()
        self.config = config = config or TrackerConfig()
        d = config.decoder.d_model
        self.decoder = QueryDecoder(config.decoder)
        self.proposal_embed = nn.Parameter(torch.zeros(d))
        self.score_embed = MLP(d, d, d, 2)
        self.appearance = nn.Sequential(nn.Linear(sum(config.decoder.feature_channels), d), nn.LayerNorm(d))
        self.query_norm = nn.LayerNorm(d)
        # Query interaction: a survived track's hidden state becomes next frame's track query.
        self.track_update = MLP(d, 2 * d, d, 2)
        self.track_norm = nn.LayerNorm(d)
        self.hook: QueryHook = hook if hook is not None else IdentityHook()
        g = config.appearance_grid
        ticks = (torch.arange(g, dtype=torch.float32) + 0.5) / g - 0.5
        self.register_buffer("_grid", torch.stack(torch.meshgrid(ticks, ticks, indexing="xy"), -1).view(-1, 2), persistent=False)

    def proposal_queries(self, anchors: Tensor, scores: Tensor, features: list[Tensor]) -> Tensor:
        """anchors (B, m, 4) cxcywh, scores (B, m) -> content (B, m, d)."""
        d = self.config.decoder.d_model
        points = anchors[:, :, None, :2] + self._grid[None, None] * anchors[:, :, None, 2:]
        pooled = torch.cat([s.mean(dim=2) for s in sample_levels(features, points)], dim=-1)
        content = self.proposal_embed + self.score_embed(sine_encoding(scores[..., None], d)) + self.appearance(pooled)
        return self.query_norm(content)

    def next_track_queries(self, hidden: Tensor) -> Tensor:
        """(.., d) decoder hidden state -> (.., d) track query content for the next frame."""
        return self.track_norm(hidden + self.track_update(hidden))

    def forward(
        self,
        track_content: Tensor,
        track_anchors: Tensor,
        proposals: ProposalInputs,
        hook_inputs: HookInputs,
        switches: HookSwitches | None = None,
        padding_mask: Tensor | None = None,
    ) -> FrameOutput:
        """Shapes: track_content (B, t, d), track_anchors (B, t, 4) cxcywh; ``proposals`` from
        :func:`model.tracking.proposals.proposal_inputs`; ``switches`` for the hook (unset fields: as
        trained); padding_mask (B, t + m), True = padding."""
        switches = self.hook.resolve(switches)  # idempotent on resolved switches, so callers may resolve once
        content = self.proposal_queries(proposals.anchors, proposals.scores, proposals.features)
        queries = torch.cat((track_content, content), dim=1)
        anchors = torch.cat((track_anchors, proposals.anchors), dim=1)
        hooked = self.hook(queries, hook_inputs, switches, padding_mask=padding_mask)
        decoded = self.decoder(hooked.queries, anchors, proposals.features, padding_mask)
        return FrameOutput(decoded, hooked, track_content.shape[1])

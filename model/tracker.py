"""MOTRv2-style query tracker: YOLOX proposals + track queries -> (hook) -> decoder -> identities.

Per frame, every YOLOX box above 0.05 becomes a *proposal query* (box as anchor; content = a shared
learnable embedding + a sine encoding of the detector score + appearance sampled inside the box),
and every live track contributes a *track query* carried over from the previous frame (content =
the decoder's last hidden state after the query-interaction update, anchor = its last box). The
two are concatenated into the frame's n x 256 query vectors, passed through the query hook
(identity for the baseline; student + DSWR for VSD-MOT), and decoded against the detector's
multi-scale features. Identity logic at run time follows MOTRv2: a proposal becomes a new track at
score >= 0.5, a track is lost below 0.5 and removed after ``miss_tolerance`` frames; IDs restart
at 1 per video.
"""

from __future__ import annotations

import hashlib
import io
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from model.box_ops import box_iou_numpy, cxcywh_to_xyxy, xyxy_to_cxcywh
from model.decoder import MLP, DecoderConfig, DecoderOutput, QueryDecoder, sample_levels, sine_encoding
from model.query_hook import HookOutput, IdentityHook
from model.types import Tracks


@dataclass
class TrackerConfig:
    """The model's shape (stored in checkpoints)."""

    decoder: DecoderConfig = field(default_factory=DecoderConfig)
    max_proposals: int = 100
    appearance_grid: int = 3  # appearance = mean of grid x grid samples inside the box, per level

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrackerConfig:
        decoder = DecoderConfig(**data.get("decoder", {}))
        decoder.feature_channels = tuple(decoder.feature_channels)
        known = {"max_proposals", "appearance_grid"}  # older checkpoints also stored run-time thresholds
        return cls(decoder=decoder, **{k: v for k, v in data.items() if k in known})


@dataclass
class RuntimeConfig:
    """Run-time identity rules: MOTRv2's thresholds plus two duplicate guards (not stored in checkpoints).

    ``track_nms_iou``: when two visible track queries converge on one person (IoU above this), the
    lower-scoring one has lost its identity and is removed (``track_nms_removes``). Without it our
    CPU-trained decoder leaves many collapsed duplicates. ``snap_iou``: the decoder keeps identity
    and score, the detector's box (one-to-one, IoU >= 0.5) replaces the decoder's less precise box.
    Both were chosen by HOTA on the training sequence TUD-Stadtmitte (``benchmarks/runtime_ablation.py``,
    all settings reported in BENCHMARKS.md); set them to None for MOTRv2's plain rules.
    """

    new_track_threshold: float = 0.5  # proposal query -> new track (MOTRv2)
    keep_threshold: float = 0.5  # track query below this is lost for the frame (MOTRv2)
    miss_tolerance: int = 20  # frames a lost track is kept before removal (MOTRv2)
    duplicate_iou: float | None = 0.8  # a new-born box overlapping a visible track this much is a duplicate
    track_nms_iou: float | None = 0.7
    track_nms_removes: bool = True
    snap_iou: float | None = 0.5  # a visible track adopts its best-overlapping confident proposal's box
    snap_min_score: float = 0.3  # only proposals at least this confident are snapped to


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
    """The learnable part: query construction, hook, decoder and the track-query update."""

    def __init__(self, config: TrackerConfig = TrackerConfig(), hook: nn.Module | None = None) -> None:
        super().__init__()
        self.config = config
        d = config.decoder.d_model
        self.decoder = QueryDecoder(config.decoder)
        self.proposal_embed = nn.Parameter(torch.zeros(d))
        self.score_embed = MLP(d, d, d, 2)
        self.appearance = nn.Sequential(nn.Linear(sum(config.decoder.feature_channels), d), nn.LayerNorm(d))
        self.query_norm = nn.LayerNorm(d)
        # Query interaction: a survived track's hidden state becomes next frame's track query.
        self.track_update = MLP(d, 2 * d, d, 2)
        self.track_norm = nn.LayerNorm(d)
        self.hook = hook if hook is not None else IdentityHook()
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
        proposal_anchors: Tensor,
        proposal_scores: Tensor,
        features: list[Tensor],
        quality: Tensor | None = None,
        padding_mask: Tensor | None = None,
        teacher_embedding: Tensor | None = None,
    ) -> FrameOutput:
        """Shapes: track_* (B, t, d)/(B, t, 4); proposal_* (B, m, 4)/(B, m); features [(B, C_l, H_l, W_l)];
        quality (B,) frame quality Q (used by DSWR); padding_mask (B, t + m), True = padding;
        teacher_embedding (B, D) only for direct teacher integration (Fig. 1a)."""
        proposals = self.proposal_queries(proposal_anchors, proposal_scores, features)
        queries = torch.cat((track_content, proposals), dim=1)
        anchors = torch.cat((track_anchors, proposal_anchors), dim=1)
        extra = {"teacher_embedding": teacher_embedding} if getattr(self.hook, "needs_teacher", False) else {}
        hooked = self.hook(queries, quality=quality, padding_mask=padding_mask, **extra)
        decoded = self.decoder(hooked.queries, anchors, features, padding_mask)
        return FrameOutput(decoded, hooked, track_content.shape[1])


# ----------------------------------------------------------------------------------------------
# Checkpoints


def save_checkpoint(path: str | Path, model: QueryTrackerModel, meta: dict[str, Any], half: bool = True) -> str:
    """Write weights (fp16 by default, to keep committed checkpoints small), config and metadata; return sha256."""
    state = {k: (v.half() if half and v.is_floating_point() else v) for k, v in model.state_dict().items()}
    payload = {"state_dict": state, "config": asdict(model.config), "hook": hook_spec(model.hook), "meta": meta}
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_bytes(buffer.getvalue())
    return hashlib.sha256(buffer.getvalue()).hexdigest()


def hook_spec(hook: nn.Module) -> dict[str, Any]:
    spec = getattr(hook, "spec", None)
    return spec() if callable(spec) else {"kind": "identity"}


def build_hook(spec: dict[str, Any]) -> nn.Module:
    kind = spec.get("kind", "identity")
    if kind == "identity":
        return IdentityHook()
    from model.vsd import DirectTeacherHook, VSDHook  # the paper's student + DSWR, and Fig. 1(a)

    if kind == "direct":
        return DirectTeacherHook.from_spec(spec)
    return VSDHook.from_spec(spec)


def load_checkpoint(path: str | Path, map_location: str = "cpu") -> tuple[QueryTrackerModel, dict[str, Any]]:
    """Rebuild the model a checkpoint was trained as (config and hook included) in fp32, eval mode."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"tracker checkpoint not found: {path}")
    payload = torch.load(path, map_location=map_location, weights_only=False)
    model = QueryTrackerModel(TrackerConfig.from_dict(payload["config"]), hook=build_hook(payload.get("hook", {})))
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in payload["state_dict"].items()})
    model.eval()
    meta = dict(payload.get("meta", {}))
    meta["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    meta["path"] = str(path)
    return model, meta


# ----------------------------------------------------------------------------------------------
# Run time


@dataclass
class _Track:
    track_id: int
    content: Tensor  # (d,)
    anchor: Tensor  # (4,) cxcywh normalised
    box: np.ndarray  # (4,) xyxy pixels, last visible
    score: float
    misses: int = 0


@dataclass
class FrameInfo:
    """What happened in the last ``update``: for plots, the API and benchmarks."""

    frame_index: int
    num_proposals: int
    num_visible: int
    quality: Any | None  # model.quality.QualityScores or None
    semantic_weight: float | None
    tracker_ms: float


def to_model_boxes(xyxy: np.ndarray, scale: float, input_size: int) -> Tensor:
    """Pixel xyxy of the original frame -> cxcywh in [0, 1] of the letterboxed detector input."""
    boxes = torch.as_tensor(np.asarray(xyxy, dtype=np.float32).reshape(-1, 4) * (scale / input_size))
    return xyxy_to_cxcywh(boxes).clamp(1e-4, 1 - 1e-4)


def to_pixel_boxes(cxcywh: Tensor, scale: float, input_size: int, image_size: tuple[int, int]) -> np.ndarray:
    xyxy = cxcywh_to_xyxy(cxcywh).detach().cpu().numpy() * (input_size / scale)
    height, width = image_size
    xyxy[:, [0, 2]] = xyxy[:, [0, 2]].clip(0, width)
    xyxy[:, [1, 3]] = xyxy[:, [1, 3]].clip(0, height)
    return xyxy.astype(np.float32)


class Tracker:
    """Stateful tracker for one video at a time: ``update(frame) -> Tracks``, ``reset()`` between videos."""

    def __init__(self, model: QueryTrackerModel, detector: Any | None = None, quality: Any | None = None,
                 teacher: Any | None = None, runtime: RuntimeConfig | None = None) -> None:
        self.model = model.eval()
        self.runtime = runtime or RuntimeConfig()
        self.detector = detector
        self.teacher = teacher  # only for direct teacher integration (Fig. 1a): runs on every frame
        self._quality = quality
        self.reset()

    @property
    def needs_quality(self) -> bool:
        return bool(getattr(self.model.hook, "needs_quality", False))

    def reset(self) -> None:
        self._tracks: list[_Track] = []
        self._next_id = 1
        self._frame_index = 0
        self.last: FrameInfo | None = None

    @torch.no_grad()
    def update(self, frame: np.ndarray | None = None, detections: Any | None = None, quality: Any | None = None) -> Tracks:
        """Track one frame. Pass ``frame`` (BGR uint8) and let the detector run, or a cached
        ``DetectorOutput`` as ``detections``; ``quality`` (QualityScores) skips re-assessing the frame."""
        if detections is None:
            if self.detector is None or frame is None:
                raise ValueError("update() needs a frame and a detector, or precomputed detections")
            detections = self.detector(frame)
        start = time.perf_counter()
        self._frame_index += 1
        if quality is None and frame is not None and (self.needs_quality or self._quality is not None):
            quality = self._assess(frame)
        cfg = self.runtime
        proposals = detections.detections
        max_proposals = self.model.config.max_proposals
        if len(proposals) > max_proposals:
            proposals = proposals[np.argsort(-proposals.scores)[:max_proposals]]
        scale, input_size, image_size = detections.scale, int(detections.input_size), detections.image_size
        features = [torch.from_numpy(np.ascontiguousarray(f, dtype=np.float32))[None] for f in detections.features]
        d = self.model.config.decoder.d_model
        track_content = torch.stack([t.content for t in self._tracks])[None] if self._tracks else torch.zeros(1, 0, d)
        track_anchors = torch.stack([t.anchor for t in self._tracks])[None] if self._tracks else torch.zeros(1, 0, 4)
        q = None if quality is None else torch.tensor([float(quality.q)])
        teacher_embedding = None
        if getattr(self.model.hook, "needs_teacher", False):
            if self.teacher is None or frame is None:
                raise ValueError("direct teacher integration needs the frame and a teacher (Tracker(teacher=...))")
            teacher_embedding = self.teacher.embed([frame])
        out = self.model(
            track_content,
            track_anchors,
            to_model_boxes(proposals.xyxy, scale, input_size)[None],
            torch.as_tensor(proposals.scores)[None],
            features,
            quality=q,
            teacher_embedding=teacher_embedding,
        )
        scores = out.decoder.logits[-1, 0].sigmoid().numpy()
        boxes = to_pixel_boxes(out.decoder.boxes[-1, 0], scale, input_size, image_size)
        anchors = out.decoder.boxes[-1, 0]
        next_content = self.model.next_track_queries(out.decoder.hidden[0])
        nt = out.num_track_queries

        survivors: list[_Track] = []
        for i, track in enumerate(self._tracks):
            if scores[i] >= cfg.keep_threshold:
                track.content, track.anchor, track.box, track.score, track.misses = (
                    next_content[i], anchors[i], boxes[i], float(scores[i]), 0,
                )
                survivors.append(track)
            else:
                track.misses += 1
                if track.misses <= cfg.miss_tolerance:
                    survivors.append(track)
        self._suppress_duplicate_tracks([t for t in survivors if t.misses == 0])
        survivors = [t for t in survivors if t.misses <= cfg.miss_tolerance]
        self._snap_to_proposals([t for t in survivors if t.misses == 0], proposals, scale, input_size)
        visible_boxes = np.array([t.box for t in survivors if t.misses == 0]).reshape(-1, 4)
        newborn = [j for j in range(nt, len(scores)) if scores[j] >= cfg.new_track_threshold]
        newborn.sort(key=lambda j: -scores[j])
        for j in newborn:
            if cfg.duplicate_iou is not None and len(visible_boxes):
                if box_iou_numpy(boxes[j : j + 1], visible_boxes).max() >= cfg.duplicate_iou:
                    continue
            track = _Track(self._next_id, next_content[j], anchors[j], boxes[j], float(scores[j]))
            self._next_id += 1
            survivors.append(track)
            visible_boxes = np.concatenate((visible_boxes, boxes[j : j + 1]))
        self._tracks = survivors
        visible = [t for t in survivors if t.misses == 0]
        weight = out.hook.semantic_weight
        self.last = FrameInfo(
            frame_index=self._frame_index,
            num_proposals=len(proposals),
            num_visible=len(visible),
            quality=quality,
            semantic_weight=None if weight is None else float(weight.reshape(-1)[0]),
            tracker_ms=(time.perf_counter() - start) * 1000,
        )
        if not visible:
            return Tracks.empty()
        return Tracks(
            xyxy=np.stack([t.box for t in visible]),
            scores=np.array([t.score for t in visible]),
            ids=np.array([t.track_id for t in visible]),
        )

    def _snap_to_proposals(self, visible: list[_Track], proposals: Any, scale: float, input_size: int) -> None:
        """Optional box refinement: the decoder keeps identity and score, but where a confident
        detector box overlaps a track one-to-one above ``snap_iou``, the track takes that box (the
        detector localises better than our small CPU-trained decoder)."""
        cfg = self.runtime
        if cfg.snap_iou is None or not visible or not len(proposals):
            return
        strong = proposals[proposals.scores >= cfg.snap_min_score]
        if not len(strong):
            return
        from scipy.optimize import linear_sum_assignment

        iou = box_iou_numpy(np.stack([t.box for t in visible]), strong.xyxy)
        rows, cols = linear_sum_assignment(-iou)
        model_boxes = to_model_boxes(strong.xyxy, scale, input_size)
        for r, c in zip(rows, cols):
            if iou[r, c] >= cfg.snap_iou:
                visible[r].box = strong.xyxy[c].copy()
                visible[r].anchor = model_boxes[c]

    def _suppress_duplicate_tracks(self, visible: list[_Track]) -> None:
        """Greedy NMS over visible tracks: when two track queries converge on one person, the one
        with the lower score (ties: the younger track) counts as a miss this frame."""
        iou_limit = self.runtime.track_nms_iou
        if iou_limit is None or len(visible) < 2:
            return
        order = sorted(visible, key=lambda t: (-t.score, t.track_id))
        boxes = np.stack([t.box for t in order])
        iou = box_iou_numpy(boxes, boxes)
        kept: list[int] = []
        for i, track in enumerate(order):
            if any(iou[i, k] >= iou_limit for k in kept):
                # A query that collapsed onto another track's person has lost its own identity.
                track.misses = self.runtime.miss_tolerance + 1 if self.runtime.track_nms_removes else 1
            else:
                kept.append(i)

    def _assess(self, frame: np.ndarray) -> Any:
        if self._quality is None:
            from model.quality import assess_frame

            self._quality = assess_frame
        return self._quality(frame)

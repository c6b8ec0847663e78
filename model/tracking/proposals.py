"""From the detector's answer for one frame to the query tracker's proposal inputs: one function,
used by inference (:class:`model.tracking.runtime.Tracker`) and by training
(:class:`model.training.objective.ClipObjective`) alike, so the two can never disagree on what a
proposal is (which boxes, in which coordinates, with which features).

Coordinates: the tracker works in cx, cy, w, h in [0, 1] of the detector's letterboxed square input
(the space its feature maps live in); users see pixel xyxy of the original frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from model.core.box_ops import cxcywh_to_xyxy, xyxy_to_cxcywh
from model.core.types import Detections, DetectorOutput


@dataclass
class ProposalInputs:
    """One frame's proposals, batched with B = 1, as the query tracker consumes them.

    Attributes:
        detections: the m proposals kept (pixel xyxy of the original frame, scores), highest score first
            when more than ``max_proposals`` were offered.
        anchors: (1, m, 4) cx, cy, w, h in (0, 1) of the letterboxed detector input.
        scores: (1, m) detector scores.
        features: one (1, C_l, H_l, W_l) float32 PAFPN map per level.
        index: (m,) int64 position of each proposal in the detector's output for the frame (what the
            training caches key per-box data by, e.g. the teacher's region tokens).
    """

    detections: Detections
    anchors: Tensor
    scores: Tensor
    features: list[Tensor]
    index: np.ndarray

    def to(self, device: torch.device | str) -> ProposalInputs:
        """The same proposals with their tensors on ``device`` (``detections`` stay numpy, in pixels)."""
        return ProposalInputs(self.detections, self.anchors.to(device), self.scores.to(device),
                              [f.to(device) for f in self.features], self.index)


def to_model_boxes(xyxy: np.ndarray, scale: float, input_size: int) -> Tensor:
    """Pixel xyxy of the original frame -> cxcywh in (0, 1) of the letterboxed detector input."""
    boxes = torch.as_tensor(np.asarray(xyxy, dtype=np.float32).reshape(-1, 4) * (scale / input_size))
    return xyxy_to_cxcywh(boxes).clamp(1e-4, 1 - 1e-4)


def to_pixel_boxes(cxcywh: Tensor, scale: float, input_size: int, image_size: tuple[int, int]) -> np.ndarray:
    """cxcywh of the letterboxed input -> pixel xyxy of the original frame, clipped to the image."""
    xyxy = cxcywh_to_xyxy(cxcywh).detach().cpu().numpy() * (input_size / scale)
    height, width = image_size
    xyxy[:, [0, 2]] = xyxy[:, [0, 2]].clip(0, width)
    xyxy[:, [1, 3]] = xyxy[:, [1, 3]].clip(0, height)
    return xyxy.astype(np.float32)


def proposal_inputs(output: DetectorOutput, max_proposals: int) -> ProposalInputs:
    """The ``max_proposals`` best detector boxes as anchors + scores, and the frame's feature maps."""
    proposals = output.detections
    index = np.arange(len(proposals), dtype=np.int64)
    if len(proposals) > max_proposals:
        index = np.argsort(-proposals.scores)[:max_proposals].astype(np.int64)
        proposals = proposals[index]
    return ProposalInputs(
        detections=proposals,
        anchors=to_model_boxes(proposals.xyxy, output.scale, output.input_size)[None],
        scores=torch.as_tensor(proposals.scores)[None],
        features=[torch.from_numpy(np.ascontiguousarray(f, dtype=np.float32))[None] for f in output.features],
        index=index,
    )

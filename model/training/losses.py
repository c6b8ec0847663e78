"""MOTRv2's tracking loss for one frame of a clip.

Track queries are supervised by the identity they carry (tracked objects keep their query); objects
seen for the first time are Hungarian-matched to proposal queries; every other query must score as
background. Classification is a sigmoid focal loss, boxes L1 + generalised IoU, summed over all
decoder layers (auxiliary losses) and normalised by the number of objects in the frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from scipy.optimize import linear_sum_assignment
from torch import Tensor

from model.core.box_ops import cxcywh_to_xyxy, pairwise_generalized_iou


@dataclass
class LossWeights:
    """MOTR's defaults: classification 2, L1 5, GIoU 2."""

    cls: float = 2.0
    l1: float = 5.0
    giou: float = 2.0
    focal_alpha: float = 0.25
    focal_gamma: float = 2.0


@dataclass
class FrameAssignment:
    """Which query answers for which ground-truth object in one frame.

    Attributes:
        query_index: (k,) long, indices into the frame's queries.
        target_index: (k,) long, indices into the frame's ground-truth boxes.
        target_ids: (k,) long, the ground-truth identities (so the next frame knows who is tracked).
    """

    query_index: Tensor
    target_index: Tensor
    target_ids: Tensor


def sigmoid_focal_loss(logits: Tensor, targets: Tensor, alpha: float, gamma: float) -> Tensor:
    """Summed focal loss (Lin et al. 2017) over all elements."""
    prob = logits.sigmoid()
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p_t = prob * targets + (1 - prob) * (1 - targets)
    loss = ce * (1 - p_t) ** gamma
    alpha_t = alpha * targets + (1 - alpha) * (1 - targets)
    return (alpha_t * loss).sum()


@torch.no_grad()
def assign(
    logits: Tensor,
    boxes: Tensor,
    num_track_queries: int,
    track_ids: Tensor,
    gt_boxes: Tensor,
    gt_ids: Tensor,
    weights: LossWeights | None = None,
) -> FrameAssignment:
    """logits (n,), boxes (n, 4) of the last layer; track_ids (t,) identity carried by each track query
    (-1 for inserted false positives); gt_boxes (g, 4) cxcywh; gt_ids (g,)."""
    weights = LossWeights() if weights is None else weights
    gt_pos = {int(i): k for k, i in enumerate(gt_ids.tolist())}
    q_idx, t_idx = [], []
    for q, tid in enumerate(track_ids.tolist()):
        if tid in gt_pos:
            q_idx.append(q)
            t_idx.append(gt_pos[tid])
    tracked = set(track_ids.tolist())
    newborn = [k for k, i in enumerate(gt_ids.tolist()) if i not in tracked]
    num_props = logits.shape[0] - num_track_queries
    if newborn and num_props > 0:
        prob = logits[num_track_queries:].sigmoid()
        a, g = weights.focal_alpha, weights.focal_gamma
        pos_cost = a * (1 - prob) ** g * -(prob + 1e-8).log()
        neg_cost = (1 - a) * prob**g * -(1 - prob + 1e-8).log()
        cls_cost = (pos_cost - neg_cost)[:, None]
        pred = boxes[num_track_queries:]
        target = gt_boxes[newborn]
        cost = (
            weights.cls * cls_cost
            + weights.l1 * torch.cdist(pred, target, p=1)
            - weights.giou * pairwise_generalized_iou(cxcywh_to_xyxy(pred), cxcywh_to_xyxy(target))
        )
        rows, cols = linear_sum_assignment(cost.cpu().numpy())
        q_idx += (rows + num_track_queries).tolist()
        t_idx += np.asarray(newborn)[cols].tolist()
    q = torch.as_tensor(q_idx, dtype=torch.long, device=logits.device)
    t = torch.as_tensor(t_idx, dtype=torch.long, device=gt_ids.device)
    return FrameAssignment(q, t, gt_ids[t] if len(t) else gt_ids.new_zeros(0))


def frame_loss(
    all_logits: Tensor,
    all_boxes: Tensor,
    assignment: FrameAssignment,
    gt_boxes: Tensor,
    weights: LossWeights | None = None,
) -> dict[str, Tensor]:
    """all_logits (L, n), all_boxes (L, n, 4): focal + L1 + GIoU summed over layers, per-object normalised."""
    weights = LossWeights() if weights is None else weights
    num_objects = max(len(gt_boxes), 1)
    target_cls = torch.zeros_like(all_logits[0])
    target_cls[assignment.query_index] = 1.0
    cls = l1 = giou = all_logits.new_zeros(())
    for logits, boxes in zip(all_logits, all_boxes):
        cls = cls + sigmoid_focal_loss(logits, target_cls, weights.focal_alpha, weights.focal_gamma) / num_objects
        if len(assignment.query_index):
            pred = boxes[assignment.query_index]
            target = gt_boxes[assignment.target_index]
            l1 = l1 + F.l1_loss(pred, target, reduction="sum") / num_objects
            g = pairwise_generalized_iou(cxcywh_to_xyxy(pred), cxcywh_to_xyxy(target)).diagonal()
            giou = giou + (1 - g).sum() / num_objects
    total = weights.cls * cls + weights.l1 * l1 + weights.giou * giou
    return {"loss_mot": total, "loss_cls": cls.detach(), "loss_l1": l1.detach(), "loss_giou": giou.detach()}

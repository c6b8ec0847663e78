import math

import torch

from model.training.losses import LossWeights, assign, frame_loss, sigmoid_focal_loss


def test_focal_loss_by_hand() -> None:
    # logit 0 -> p = 0.5; target 1: ce = ln 2, (1 - p_t)^2 = 0.25, alpha 0.25 -> 0.25 * 0.25 * ln 2
    loss = sigmoid_focal_loss(torch.tensor([0.0]), torch.tensor([1.0]), alpha=0.25, gamma=2.0)
    assert abs(float(loss) - 0.0625 * math.log(2)) < 1e-6
    neg = sigmoid_focal_loss(torch.tensor([0.0]), torch.tensor([0.0]), alpha=0.25, gamma=2.0)
    assert abs(float(neg) - 0.75 * 0.25 * math.log(2)) < 1e-6


def test_track_queries_keep_their_identity_and_newborns_match_proposals() -> None:
    gt_boxes = torch.tensor([[0.2, 0.2, 0.1, 0.2], [0.7, 0.5, 0.1, 0.2], [0.5, 0.8, 0.1, 0.2]])
    gt_ids = torch.tensor([5, 9, 11])
    # queries 0-1 are tracks carrying ids 9 and 42 (42 left the scene); 2-4 are proposals
    boxes = torch.tensor([
        [0.69, 0.5, 0.1, 0.2], [0.1, 0.9, 0.1, 0.1],
        [0.5, 0.79, 0.1, 0.2], [0.9, 0.1, 0.1, 0.1], [0.21, 0.2, 0.1, 0.2],
    ])
    logits = torch.zeros(5)
    a = assign(logits, boxes, 2, torch.tensor([9, 42]), gt_boxes, gt_ids)
    pairs = dict(zip(a.query_index.tolist(), a.target_ids.tolist()))
    assert pairs == {0: 9, 2: 11, 4: 5}


def test_frame_loss_perfect_match_has_zero_box_loss() -> None:
    gt = torch.tensor([[0.3, 0.3, 0.1, 0.2]])
    logits = torch.tensor([[8.0, -8.0]])  # one layer, two queries
    boxes = torch.stack([torch.cat([gt, torch.tensor([[0.8, 0.8, 0.1, 0.1]])])])
    a = assign(logits[-1], boxes[-1], 0, torch.zeros(0, dtype=torch.long), gt, torch.tensor([1]))
    losses = frame_loss(logits, boxes, a, gt, LossWeights())
    assert float(losses["loss_l1"]) < 1e-6 and float(losses["loss_giou"]) < 1e-6
    assert float(losses["loss_cls"]) < 1e-3

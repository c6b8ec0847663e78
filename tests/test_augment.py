"""Cache-compatible augmentations: exact shifts of cached outputs, HSV jitter."""

from __future__ import annotations

import numpy as np
import torch

from model.data.augment import augment_hsv, shift_boxes, shift_features


def test_shift_features_moves_whole_cells_and_zero_fills() -> None:
    feats = [torch.arange(16.0).view(1, 1, 4, 4), torch.arange(4.0).view(1, 1, 2, 2)]
    out = shift_features(feats, (8, 16), dx=16, dy=0)  # 2 cells at stride 8, 1 cell at stride 16
    assert out[0][0, 0].tolist() == [[0, 0, 0, 1], [0, 0, 4, 5], [0, 0, 8, 9], [0, 0, 12, 13]]
    assert out[1][0, 0].tolist() == [[0, 0], [0, 2]]
    back = shift_features(feats, (8, 16), dx=0, dy=-16)
    assert back[1][0, 0].tolist() == [[2, 3], [0, 0]]


def test_shift_boxes_by_hand() -> None:
    boxes = torch.tensor([[0.5, 0.5, 0.2, 0.2], [0.1, 0.1, 0.1, 0.1]])
    moved, keep = shift_boxes(boxes, dx=-64, dy=32, input_size=320, extent=(1.0, 0.75))
    # box 1: centre (0.5 - 0.2, 0.5 + 0.1), fully inside
    assert torch.allclose(moved[0], torch.tensor([0.3, 0.6, 0.2, 0.2]), atol=1e-6) and keep[0]
    # box 2: x from 0.05..0.15 -> -0.15..-0.05: entirely outside -> dropped
    assert not keep[1]


def test_hsv_jitter_is_seeded_and_keeps_shape() -> None:
    frame = np.random.default_rng(0).integers(0, 255, (20, 30, 3), dtype=np.uint8)
    a = augment_hsv(frame, np.random.default_rng(5))
    b = augment_hsv(frame, np.random.default_rng(5))
    assert a.shape == frame.shape and a.dtype == np.uint8 and np.array_equal(a, b)
    assert not np.array_equal(a, augment_hsv(frame, np.random.default_rng(6)))

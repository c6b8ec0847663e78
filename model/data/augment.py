"""Training augmentations that work with the frozen-feature cache.

- :func:`augment_hsv`: YOLOX's HSV jitter, applied to frames *before* the detector runs, so it is
  cached as its own rendition of a sequence (``CacheKey.preset = "hsv"``).
- :func:`shift_frame`: MOTR/MOTRv2's pseudo-clips from single images, done on cached outputs: a
  translation by a multiple of 32 px moves every PAFPN level by whole cells (4, 2, 1 at strides
  8, 16, 32), so features, proposals and ground truth can be shifted exactly without re-running
  the detector.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from model.core.box_ops import cxcywh_to_xyxy, xyxy_to_cxcywh

HSV_GAINS = (5, 30, 30)  # YOLOX: hue degrees (OpenCV units are half-degrees), saturation, value
SHIFT_UNIT = 32  # px of the detector input: the coarsest stride


def augment_hsv(frame: np.ndarray, rng: np.random.Generator, gains: tuple[int, int, int] = HSV_GAINS) -> np.ndarray:
    """Random hue/saturation/value offsets (YOLOX's ``augment_hsv``), BGR uint8 in and out."""
    offsets = rng.uniform(-1, 1, 3) * np.asarray(gains)
    hsv = cv2.cvtColor(frame, cv2.COLOR_BGR2HSV).astype(np.int16)
    hsv[..., 0] = (hsv[..., 0] + offsets[0] / 2) % 180
    hsv[..., 1] = np.clip(hsv[..., 1] + offsets[1], 0, 255)
    hsv[..., 2] = np.clip(hsv[..., 2] + offsets[2], 0, 255)
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2BGR)


def shift_features(features: list[torch.Tensor], strides: tuple[int, ...], dx: int, dy: int) -> list[torch.Tensor]:
    """Translate (B, C, H, W) maps by (dx, dy) input pixels (multiples of ``SHIFT_UNIT``), zero-filling."""
    out = []
    for feat, stride in zip(features, strides):
        cx, cy = dx // stride, dy // stride
        shifted = torch.zeros_like(feat)
        h, w = feat.shape[-2:]
        src_x, dst_x = (slice(0, w - cx), slice(cx, w)) if cx >= 0 else (slice(-cx, w), slice(0, w + cx))
        src_y, dst_y = (slice(0, h - cy), slice(cy, h)) if cy >= 0 else (slice(-cy, h), slice(0, h + cy))
        shifted[..., dst_y, dst_x] = feat[..., src_y, src_x]
        out.append(shifted)
    return out


def shift_boxes(cxcywh: torch.Tensor, dx: int, dy: int, input_size: int, extent: tuple[float, float],
                min_visible: float = 0.5) -> tuple[torch.Tensor, torch.Tensor]:
    """Shift normalised boxes by (dx, dy) input pixels and clip to the image ``extent`` (normalised
    width, height of the letterboxed picture). Returns the boxes and a keep-mask of those with at
    least ``min_visible`` of their area still inside."""
    xyxy = cxcywh_to_xyxy(cxcywh) + torch.tensor([dx, dy, dx, dy], dtype=cxcywh.dtype) / input_size
    area = (xyxy[:, 2] - xyxy[:, 0]).clamp(min=0) * (xyxy[:, 3] - xyxy[:, 1]).clamp(min=0)
    limits = torch.tensor([extent[0], extent[1], extent[0], extent[1]], dtype=cxcywh.dtype)
    clipped = torch.minimum(xyxy.clamp(min=0), limits)
    kept_area = (clipped[:, 2] - clipped[:, 0]).clamp(min=0) * (clipped[:, 3] - clipped[:, 1]).clamp(min=0)
    keep = kept_area >= min_visible * area.clamp(min=1e-9)
    return xyxy_to_cxcywh(clipped).clamp(1e-4, 1 - 1e-4), keep

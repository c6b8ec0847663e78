"""Region teachers (ours, not the paper's; issue 13): one frozen embedding per box, T in R^{n x D}.

The paper's teacher embeds the whole frame (T in R^{1 x D}); eq. 5 then copies that one vector to
every query, so DCSD's attention A is blind and L_local pulls every query of a frame to the same
point (BENCHMARKS.md, hook diagnostics). A region teacher embeds each query's own box instead:
a proposal query's proposal, a track query's supervised object. T then has one row per query
(m = n, eq. 5 is the identity) and eqs. 4, 6-12 apply unchanged.

Two kinds, one interface (:class:`RegionTeacher`, ``embed(frame_bgr, xyxy) -> (N, D)``):

- image teachers on crops (``effnet-lite0``, ``clip-rn50``): the frozen encoder of
  :mod:`model.vsd.teacher` on the box crop; EfficientNet sees the crop resized to 128 x 64 (H x W,
  a person's shape; ImageNet mean/std), CLIP its own eval transform of the crop;
- person re-ID teachers (``reid-0287``, ``reid-0288``, ``reid-0248``, ``osnet-x0_25``): the
  frozen ONNX models of :mod:`model.tracking.reid` with their own preprocessing, L2-normalised.

A box under 2 px gives a zero row and ``valid`` False: it has no region token and is not distilled.
The teacher runs offline only (:mod:`model.data.region_cache`); it never runs at inference.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
import torch
from torch import Tensor

from model.core.choices import REGION_TEACHERS

MIN_BOX_PX = 2  # below this there is nothing to embed
# (H, W) of a crop for EfficientNet: a standing person's aspect ratio; 128 x 64 costs 3.6 ms a crop on one
# core here (224 x 112: 17.6 ms), which keeps a training set's tokens at minutes, not an hour.
CROP_SIZE = (128, 64)


@dataclass
class RegionEmbeddings:
    """The teacher's answer for one frame's boxes.

    Attributes:
        vectors: (N, D) float32, zero where not valid.
        valid: (N,) bool, False for boxes too small to look at.
    """

    vectors: np.ndarray
    valid: np.ndarray


class RegionTeacher(ABC):
    """A frozen embedder of box regions. ``name`` is its entry in REGION_TEACHERS, ``dim`` its D."""

    name: str
    dim: int

    def embed(self, frame_bgr: np.ndarray, xyxy: np.ndarray) -> RegionEmbeddings:
        """Pixel xyxy boxes of ``frame_bgr`` -> one embedding each (boxes are clipped to the image)."""
        boxes = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
        crops, rows = [], []
        height, width = frame_bgr.shape[:2]
        for row, (x1, y1, x2, y2) in enumerate(boxes):
            left, top = int(max(0, np.floor(x1))), int(max(0, np.floor(y1)))
            right, bottom = int(min(width, np.ceil(x2))), int(min(height, np.ceil(y2)))
            if right - left < MIN_BOX_PX or bottom - top < MIN_BOX_PX:
                continue
            crops.append(frame_bgr[top:bottom, left:right])
            rows.append(row)
        vectors = np.zeros((len(boxes), self.dim), dtype=np.float32)
        valid = np.zeros(len(boxes), dtype=bool)
        if crops:
            vectors[rows] = self.embed_crops(crops)
            valid[rows] = True
        return RegionEmbeddings(vectors, valid)

    @abstractmethod
    def embed_crops(self, crops_bgr: list[np.ndarray]) -> np.ndarray:
        """(N, dim) float32 for N non-empty BGR uint8 crops."""


class ImageCropTeacher(RegionTeacher):
    """An image teacher of :mod:`model.vsd.teacher` applied to box crops, in batches."""

    def __init__(self, teacher, preprocess: Callable[[np.ndarray], Tensor], batch_size: int = 32) -> None:
        self.teacher = teacher
        self.name = teacher.name
        self.dim = teacher.dim
        self.preprocess = preprocess
        self.batch_size = batch_size

    @torch.no_grad()
    def embed_crops(self, crops_bgr: list[np.ndarray]) -> np.ndarray:
        out = []
        for start in range(0, len(crops_bgr), self.batch_size):
            batch = torch.stack([self.preprocess(c) for c in crops_bgr[start:start + self.batch_size]])
            out.append(self.teacher.network(batch.to(self.teacher.device)).float().cpu().numpy())
        return np.concatenate(out).astype(np.float32)


class ReidRegionTeacher(RegionTeacher):
    """A person re-ID network (:class:`model.tracking.reid.ReidEmbedder`) as a region teacher."""

    def __init__(self, name: str, weights_name: str, num_threads: int = 1) -> None:
        from model.tracking.reid import ReidConfig, ReidEmbedder

        self.name = name
        self.embedder = ReidEmbedder(ReidConfig(model=weights_name, num_threads=num_threads))
        self.dim = self.embedder.dim

    def embed_crops(self, crops_bgr: list[np.ndarray]) -> np.ndarray:
        # The embedder takes boxes; each crop is its own whole image.
        return np.concatenate([self.embedder(c, np.array([[0, 0, c.shape[1], c.shape[0]]])) for c in crops_bgr])


def person_crop_preprocess(crop_bgr: np.ndarray, size: tuple[int, int] = CROP_SIZE) -> Tensor:
    """BGR crop -> (3, H, W) RGB, resized to ``size`` (H, W), ImageNet mean/std (EfficientNet's input)."""
    from model.vsd.teacher import IMAGENET_MEAN, IMAGENET_STD

    height, width = size
    shrinking = crop_bgr.shape[0] > height or crop_bgr.shape[1] > width
    resized = cv2.resize(crop_bgr, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC)
    rgb = cv2.cvtColor(resized, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0
    normalised = (rgb - np.asarray(IMAGENET_MEAN, np.float32)) / np.asarray(IMAGENET_STD, np.float32)
    return torch.from_numpy(normalised).permute(2, 0, 1).contiguous()


# Re-ID teacher name -> weights registry name (model.core.weights).
REID_TEACHER_WEIGHTS: dict[str, str] = {
    "reid-0287": "person_reid_0287",
    "reid-0288": "person_reid_0288",
    "reid-0248": "person_reid_0248",
    "osnet-x0_25": "osnet_x0_25_msmt17",
}


def build_region_teacher(name: str, checkpoint: str | None = None, device: str = "cpu") -> RegionTeacher:
    """The region teacher called ``name`` (one of :data:`model.core.choices.REGION_TEACHERS`)."""
    if name not in REGION_TEACHERS:
        raise ValueError(f"unknown region teacher {name!r}; choose one of: {', '.join(REGION_TEACHERS)}")
    if name in REID_TEACHER_WEIGHTS:
        return ReidRegionTeacher(name, REID_TEACHER_WEIGHTS[name])
    from model.vsd.teacher import build_teacher

    teacher = build_teacher(name, checkpoint, device)
    # CLIP keeps its own eval transform (resize shortest side, centre crop); EfficientNet sees a person-shaped crop.
    return ImageCropTeacher(teacher, teacher.preprocess if name == "clip-rn50" else person_crop_preprocess)

"""The data types every stage shares: boxes in a frame (optionally with identities), and the
detector's answer for one frame.

Like ``supervision.Detections``: arrays in parallel, indexable by masks, so the detector,
the tracker, the evaluator, the renderer and the API never pass loose arrays around.
:class:`DetectorOutput` is the one frame-input type of the tracker: the live detector returns it,
and so does the frozen-feature cache that training reads, so both feed the same code.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import TypeVar

import numpy as np

T = TypeVar("T", bound="Detections")


@dataclass
class Detections:
    """Boxes in one frame.

    Attributes:
        xyxy: (N, 4) float32, pixel corners ``x1, y1, x2, y2`` in the original frame.
        scores: (N,) float32 confidence in [0, 1].
    """

    xyxy: np.ndarray
    scores: np.ndarray

    def __post_init__(self) -> None:
        self.xyxy = np.asarray(self.xyxy, dtype=np.float32).reshape(-1, 4)
        self.scores = np.asarray(self.scores, dtype=np.float32).reshape(-1)
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, np.ndarray) and len(value) != len(self.xyxy):
                raise ValueError(f"{f.name} has {len(value)} rows, xyxy has {len(self.xyxy)}")

    @classmethod
    def empty(cls: type[T]) -> T:
        kwargs = {f.name: np.zeros((0, 4) if f.name == "xyxy" else (0,)) for f in fields(cls)}
        return cls(**kwargs)

    def __len__(self) -> int:
        return len(self.xyxy)

    def __getitem__(self: T, index: np.ndarray | slice | list[int]) -> T:
        """Select rows (boolean mask, integer indices or slice), keeping the type."""
        sliced = {
            f.name: getattr(self, f.name)[index]
            for f in fields(self)
            if isinstance(getattr(self, f.name), np.ndarray)
        }
        return replace(self, **sliced)

    @property
    def xywh(self) -> np.ndarray:
        """(N, 4) top-left x, y, width, height: the MOTChallenge box convention."""
        out = self.xyxy.copy()
        out[:, 2:] -= out[:, :2]
        return out

    @property
    def area(self) -> np.ndarray:
        wh = np.clip(self.xyxy[:, 2:] - self.xyxy[:, :2], 0, None)
        return wh[:, 0] * wh[:, 1]


@dataclass
class Tracks(Detections):
    """Boxes with identities: what a tracker outputs for one frame.

    Attributes:
        ids: (N,) int64 track identities, starting at 1 for every video.
    """

    ids: np.ndarray

    def __post_init__(self) -> None:
        self.ids = np.asarray(self.ids, dtype=np.int64).reshape(-1)
        super().__post_init__()


def xywh_to_xyxy(xywh: np.ndarray) -> np.ndarray:
    out = np.asarray(xywh, dtype=np.float32).reshape(-1, 4).copy()
    out[:, 2:] += out[:, :2]
    return out


@dataclass
class DetectorOutput:
    """Proposals and features for one frame: what the tracker reads, live or from the cache.

    Attributes:
        detections: N person boxes in original pixel coordinates, sorted by descending score.
        features: one (C_i, H_i, W_i) float32 PAFPN map per level, finest first.
        strides: input pixels per feature cell for each map, e.g. (8, 16, 32).
        scale: letterbox ratio; a point at original pixel p is at p * scale in the network input,
            so at p * scale / strides[i] in ``features[i]``.
        image_size: original (height, width).
        input_size: side of the square, letterboxed detector input the boxes were scaled to.
    """

    detections: Detections
    features: list[np.ndarray]
    strides: tuple[int, ...]
    scale: float
    image_size: tuple[int, int]
    input_size: int

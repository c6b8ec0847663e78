"""The one data type every stage shares: boxes in a frame, optionally with identities.

Like ``supervision.Detections``: arrays in parallel, indexable by masks, so the detector,
the tracker, the evaluator, the renderer and the API never pass loose arrays around.
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

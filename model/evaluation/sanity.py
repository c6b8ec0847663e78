"""Output-sanity counters: what a HOTA average hides and a user sees at once.

- degenerate boxes: height under ``MIN_HEIGHT_PX``, or height / width outside [``MIN_ASPECT``,
  ``MAX_ASPECT``] (a person is taller than wide, but not a line);
- part tracks: a track whose box lies at least ``PART_INSIDE`` inside another visible track's box
  for at least ``PART_MIN_FRAMES`` consecutive frames (a "leg" or "torso" track inside a person);
- identities produced, beside the ground truth's count.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from model.core.types import Tracks

MIN_HEIGHT_PX = 8.0
MIN_ASPECT, MAX_ASPECT = 0.5, 8.0  # height / width
PART_INSIDE = 0.9  # share of a box's area inside the other box
PART_MIN_FRAMES = 10


@dataclass(frozen=True)
class SanityCounters:
    """Counters over one tracked sequence.

    Attributes:
        boxes: output rows.
        degenerate: rows with a degenerate box (see the module docstring).
        part_tracks: identities that are part tracks at some point.
        identities: distinct identities produced.
        gt_identities: distinct identities in the ground truth of the same frames (None without one).
    """

    boxes: int
    degenerate: int
    part_tracks: int
    identities: int
    gt_identities: int | None = None

    @property
    def degenerate_share(self) -> float:
        return self.degenerate / self.boxes if self.boxes else 0.0


def degenerate_mask(xyxy: np.ndarray) -> np.ndarray:
    """(N,) True where a box is too flat, too thin or too short to be a person."""
    boxes = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
    width, height = np.clip(boxes[:, 2] - boxes[:, 0], 0, None), np.clip(boxes[:, 3] - boxes[:, 1], 0, None)
    aspect = np.divide(height, width, out=np.full_like(height, np.inf), where=width > 0)
    return (height < MIN_HEIGHT_PX) | (aspect < MIN_ASPECT) | (aspect > MAX_ASPECT)


def inside_share(inner: np.ndarray, outer: np.ndarray) -> np.ndarray:
    """(N, M) share of each ``inner`` box's area that lies inside each ``outer`` box (0 for empty boxes)."""
    inner, outer = np.asarray(inner, np.float64).reshape(-1, 4), np.asarray(outer, np.float64).reshape(-1, 4)
    lt = np.maximum(inner[:, None, :2], outer[None, :, :2])
    rb = np.minimum(inner[:, None, 2:], outer[None, :, 2:])
    overlap = np.clip(rb - lt, 0, None).prod(axis=2)
    area = np.clip(inner[:, 2:] - inner[:, :2], 0, None).prod(axis=1)[:, None]
    return np.divide(overlap, area, out=np.zeros_like(overlap), where=area > 0)


def part_track_ids(tracks_by_frame: Mapping[int, Tracks]) -> set[int]:
    """Identities that sit inside another visible track for ``PART_MIN_FRAMES`` consecutive frames."""
    run: dict[int, int] = {}  # id -> consecutive frames inside some other track so far
    parts: set[int] = set()
    previous = None
    for frame in sorted(tracks_by_frame):
        tracks = tracks_by_frame[frame]
        if previous is not None and frame != previous + 1:
            run.clear()  # a gap in the frame numbers breaks every run
        previous = frame
        inside_now: set[int] = set()
        if len(tracks) > 1:
            share = inside_share(tracks.xyxy, tracks.xyxy)
            np.fill_diagonal(share, 0.0)
            inside_now = {int(i) for i, row in zip(tracks.ids, share) if row.max() >= PART_INSIDE}
        run = {i: run.get(i, 0) + 1 for i in inside_now}
        parts.update(i for i, n in run.items() if n >= PART_MIN_FRAMES)
    return parts


def sanity_counters(tracks_by_frame: Mapping[int, Tracks], gt_identities: int | None = None) -> SanityCounters:
    boxes = sum(len(t) for t in tracks_by_frame.values())
    degenerate = sum(int(degenerate_mask(t.xyxy).sum()) for t in tracks_by_frame.values() if len(t))
    identities = len({int(i) for t in tracks_by_frame.values() for i in t.ids})
    return SanityCounters(boxes, degenerate, len(part_track_ids(tracks_by_frame)), identities, gt_identities)

"""One sequence laid out for the metrics: per frame, evaluated gt ids, tracker ids and their IoUs.

This is TrackEval's ``MotChallenge2DBox`` loading and preprocessing, re-implemented in memory so
the runtime needs no TrackEval package (its wheel requires the non-headless ``opencv-python``,
a second OpenCV build the demo has no use for). The rules are TrackEval's, to the float:

1. IoU of every gt box with every predicted box, boxes as ``x, y, w, h`` (TrackEval's
   ``_calculate_box_ious``: degenerate boxes and empty unions give 0).
2. MOT16/17/20 only: predictions are matched one-to-one to *all* gt boxes at IoU >= 0.5
   (Hungarian on IoU); a prediction matched to a distractor class (person on vehicle, static
   person, distractor, reflection; MOT20 adds non-MOT vehicle) is dropped, neither TP nor FP.
3. gt rows are kept when their conf column, truncated to int, is non-zero, and (except MOT15)
   their class is pedestrian.
4. gt and tracker ids are relabelled 0..K-1 in sorted order.

``tests/test_metrics_trackeval.py`` checks every field against TrackEval itself on real and
randomised sequences.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from model.data.mot_io import MotTable

EPS = np.finfo("float").eps  # TrackEval compares with this margin everywhere
PEDESTRIAN = 1
CLASS_IDS = tuple(range(1, 14))  # MOTChallenge's 13 classes; others are an error under preprocessing
DISTRACTOR_CLASSES = (2, 7, 8, 12)  # person_on_vehicle, static_person, distractor, reflection
MOT20_EXTRA_DISTRACTOR = 6  # non_mot_vehicle
MATCH_THRESHOLD = 0.5  # IoU at which a prediction "is" a distractor


@dataclass(frozen=True)
class SequenceData:
    """What HOTA, CLEAR and Identity read, one entry per frame t = 0..T-1.

    Attributes:
        gt_ids: T arrays (G_t,) int64, evaluated gt ids relabelled to 0..num_gt_ids-1.
        tracker_ids: T arrays (P_t,) int64, kept prediction ids relabelled to 0..num_tracker_ids-1.
        similarity: T arrays (G_t, P_t) float64 IoU.
        num_gt_ids, num_tracker_ids, num_gt_dets, num_tracker_dets: totals after preprocessing.
    """

    gt_ids: list[np.ndarray]
    tracker_ids: list[np.ndarray]
    similarity: list[np.ndarray]
    num_gt_ids: int
    num_tracker_ids: int
    num_gt_dets: int
    num_tracker_dets: int

    @property
    def num_timesteps(self) -> int:
        return len(self.gt_ids)


def box_iou_xywh(boxes1: np.ndarray, boxes2: np.ndarray) -> np.ndarray:
    """(N, 4) x (M, 4) boxes ``x, y, w, h`` -> (N, M) IoU; zero-area boxes and empty unions give 0."""
    a = np.asarray(boxes1, dtype=np.float64).reshape(-1, 4).copy()
    b = np.asarray(boxes2, dtype=np.float64).reshape(-1, 4).copy()
    a[:, 2:] += a[:, :2]
    b[:, 2:] += b[:, :2]
    low = np.maximum(a[:, None, :2], b[None, :, :2])
    high = np.minimum(a[:, None, 2:], b[None, :, 2:])
    sides = np.maximum(high - low, 0)
    intersection = sides[..., 0] * sides[..., 1]
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - intersection
    intersection[area_a <= EPS, :] = 0
    intersection[:, area_b <= EPS] = 0
    intersection[union <= EPS] = 0
    union[union <= EPS] = 1
    return intersection / union


def prepare_sequence(gt: MotTable, pred: MotTable, num_frames: int, benchmark: str) -> SequenceData:
    """Lay out ``gt`` and ``pred`` (frames already 1..num_frames) under ``benchmark``'s rules.

    Raises ValueError where TrackEval would refuse the data: frames outside 1..num_frames, an id
    twice in one frame, a gt file without a class column, or unknown gt classes under MOT16/17/20.
    """
    preprocess = benchmark != "MOT15"
    if len(gt) and gt.num_columns < 8:
        raise ValueError("ground truth has no class column (8th): MOTChallenge gt needs frame,id,x,y,w,h,conf,class")
    for table, what in ((gt, "ground truth"), (pred, "predictions")):
        if len(table) and (table.frames.min() < 1 or table.frames.max() > num_frames):
            raise ValueError(f"{what} has frames outside 1..{num_frames}")
    distractors = DISTRACTOR_CLASSES + ((MOT20_EXTRA_DISTRACTOR,) if benchmark == "MOT20" else ())

    gt_rows = _rows_by_frame(gt, num_frames)
    pred_rows = _rows_by_frame(pred, num_frames)
    gt_ids: list[np.ndarray] = []
    tracker_ids: list[np.ndarray] = []
    similarity: list[np.ndarray] = []
    for t in range(num_frames):
        g, p = gt_rows[t], pred_rows[t]
        _check_unique(g[:, 1], "ground truth", t)
        _check_unique(p[:, 1], "predictions", t)
        iou = box_iou_xywh(g[:, 2:6], p[:, 2:6])
        classes = g[:, 7].astype(np.int64)
        drop = np.zeros(len(p), dtype=bool)
        if preprocess and len(g) and len(p):
            unknown = np.setdiff1d(np.unique(classes), CLASS_IDS)
            if len(unknown):
                raise ValueError(
                    f"ground truth frame {t + 1} has classes {unknown.tolist()} outside MOTChallenge's 1..13: "
                    "check the file, or evaluate it as MOT15 (no class rules)"
                )
            scores = iou.copy()
            scores[scores < MATCH_THRESHOLD - EPS] = 0
            rows, cols = linear_sum_assignment(-scores)
            matched = scores[rows, cols] > EPS
            rows, cols = rows[matched], cols[matched]
            drop[cols[np.isin(classes[rows], distractors)]] = True
        keep_gt = g[:, 6].astype(np.int64) != 0
        if preprocess:
            keep_gt &= classes == PEDESTRIAN
        gt_ids.append(g[keep_gt, 1].astype(np.int64))
        tracker_ids.append(p[~drop, 1].astype(np.int64))
        similarity.append(iou[keep_gt][:, ~drop])

    gt_ids, num_gt_ids = _relabel(gt_ids)
    tracker_ids, num_tracker_ids = _relabel(tracker_ids)
    return SequenceData(
        gt_ids=gt_ids,
        tracker_ids=tracker_ids,
        similarity=similarity,
        num_gt_ids=num_gt_ids,
        num_tracker_ids=num_tracker_ids,
        num_gt_dets=sum(len(ids) for ids in gt_ids),
        num_tracker_dets=sum(len(ids) for ids in tracker_ids),
    )


def _rows_by_frame(table: MotTable, num_frames: int) -> list[np.ndarray]:
    """Rows of each frame 1..num_frames, in file order (the order TrackEval reads them in)."""
    frames = table.frames
    order = np.argsort(frames, kind="stable")
    values, frames = table.values[order], frames[order]
    bounds = np.searchsorted(frames, np.arange(1, num_frames + 2))
    return [values[bounds[t] : bounds[t + 1]] for t in range(num_frames)]


def _check_unique(ids: np.ndarray, what: str, t: int) -> None:
    unique, counts = np.unique(ids, return_counts=True)
    if len(counts) and counts.max() > 1:
        raise ValueError(f"{what} use id(s) {unique[counts > 1].astype(int).tolist()} twice in frame {t + 1}")


def _relabel(ids_per_frame: list[np.ndarray]) -> tuple[list[np.ndarray], int]:
    """Map the ids that occur to 0..K-1 in sorted order (TrackEval's contiguous relabelling)."""
    occurring = np.unique(np.concatenate(ids_per_frame)) if ids_per_frame else np.zeros(0, np.int64)
    return [np.searchsorted(occurring, ids).astype(np.int64) for ids in ids_per_frame], len(occurring)

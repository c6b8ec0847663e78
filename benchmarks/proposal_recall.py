"""How many ground-truth people the detector's proposals cover, per condition and score floor: the
ceiling of what a query tracker (and VSD-MOT's student, which only re-weights the queries of existing
proposals) can detect on a degraded frame. Training renditions first (where issue 12's score floor is
chosen), then the protocol's validation renditions (report only).

    python -m benchmarks.proposal_recall [--floors 0.05 0.1 0.3 0.5]

Recall at floor s = ground-truth boxes matched one-to-one (Hungarian, IoU >= 0.5) by a cached YOLOX-Nano
proposal of score >= s, over all ground-truth boxes of the rendition; the same IoU threshold as
CLEAR's TP, so recall at the tracker's own floor bounds its DetRe from above at alpha = 0.5.
"""

from __future__ import annotations

import argparse
import statistics as stats
import sys
from collections.abc import Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

from benchmarks.common import machine_line
from model.core import settings
from model.core.box_ops import box_iou_numpy
from model.data.cache import CacheKey, FrameCache, build_frame_cache
from model.data.clips import LQ_TRAIN_RENDITIONS, TRAIN_SPANS
from model.data.mot_io import GroundTruth, read_gt
from model.evaluation.protocol import CLEAN, PROFILES, VALIDATION_SETS, renditions
from model.tracking.detector import YoloxDetector

IOU = 0.5
FLOORS = (0.05, 0.1, 0.3, 0.5)
# The training copies the recall is read on: the host's own pair and issue 12's realesrgan copy.
TRAIN_RECIPES: tuple[tuple[str, int] | None, ...] = (None, *LQ_TRAIN_RENDITIONS, ("realesrgan", 13))


def matched(gt_xyxy: np.ndarray, proposals: np.ndarray, iou: float = IOU) -> int:
    """Ground-truth boxes matched one-to-one by ``proposals`` at IoU >= ``iou`` (maximum matching on IoU)."""
    if len(gt_xyxy) == 0 or len(proposals) == 0:
        return 0
    overlap = box_iou_numpy(gt_xyxy, proposals)
    rows, cols = linear_sum_assignment(-np.where(overlap >= iou, overlap, 0.0))
    return int((overlap[rows, cols] >= iou).sum())


def recall(cache: FrameCache, gt: GroundTruth, floors: Sequence[float]) -> tuple[dict[float, float], int, float]:
    """({floor: recall}, ground-truth boxes, mean proposals per frame at the lowest floor) of one rendition."""
    hits = dict.fromkeys(floors, 0)
    total, proposals = 0, []
    for i, frame in enumerate(cache.frames):
        lo, hi = int(cache.offsets[i]), int(cache.offsets[i + 1])
        boxes, scores = np.asarray(cache.boxes[lo:hi]), np.asarray(cache.scores[lo:hi])
        people = gt.pedestrians(frame).xyxy
        total += len(people)
        proposals.append(int((scores >= min(floors)).sum()))
        for floor in floors:
            hits[floor] += matched(people, boxes[scores >= floor])
    return {f: hits[f] / max(total, 1) for f in floors}, total, stats.fmean(proposals)


def _row(name: str, condition: str, caches: list[FrameCache], gt: GroundTruth, floors: Sequence[float]) -> str:
    results = [recall(cache, gt, floors) for cache in caches]
    def cell(floor: float) -> str:  # mean over the recipe seeds, and their range
        values = [100 * r[0][floor] for r in results]
        spread = f" ({min(values):.1f}–{max(values):.1f})" if len(values) > 1 else ""
        return f"{stats.fmean(values):.1f}{spread}"

    cells = " | ".join(cell(f) for f in floors)
    return (f"| {name} | {condition} | {len(caches)} | {results[0][1]} | "
            f"{stats.fmean(r[2] for r in results):.1f} | {cells} |")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--floors", nargs="+", type=float, default=list(FLOORS))
    args = p.parse_args(argv)
    floors = tuple(sorted(args.floors))
    data = settings.data_dir()
    if data is None:
        raise SystemExit("no data: set VSDMOT_DATA_DIR (or VSDMOT_SHARED_DIR) to the MOTChallenge folder")
    detector = YoloxDetector()
    header = ("| span | condition | renditions | gt boxes | proposals / frame (score ≥ "
              f"{floors[0]}) | " + " | ".join(f"recall ≥ {f} (%, recipe range)" for f in floors) + " |")
    rule = "|---|---|---|---|---|" + "---|" * len(floors)
    print(f"Command: `python -m benchmarks.proposal_recall {' '.join(argv if argv is not None else sys.argv[1:])}`"
          f" — {machine_line()}; IoU ≥ {IOU}, one-to-one\n")
    print("#### Training spans (choose here)\n")
    print(header)
    print(rule)
    for name, first, last in TRAIN_SPANS:
        gt = read_gt(data / name, first, last)
        for recipe in TRAIN_RECIPES:
            preset, seed = recipe if recipe else (None, 0)
            cache = build_frame_cache(data / name, CacheKey(name, first, last, preset, seed), detector, progress=False)
            print(_row(f"{name} {first}-{last}", f"{preset}-s{seed}" if preset else CLEAN, [cache], gt, floors))
    print("\n#### Validation sets (report only)\n")
    print(header)
    print(rule)
    by_condition: dict[tuple[str, str], list] = {}
    for rendition in renditions(PROFILES["full"]):
        by_condition.setdefault((rendition.set.name, rendition.condition), []).append(rendition)
    for validation in VALIDATION_SETS:
        gt = read_gt(data / validation.sequence, validation.first, validation.last)
        for (name, condition), members in by_condition.items():
            if name != validation.name:
                continue
            caches = [build_frame_cache(data / validation.sequence, r.cache_key(), detector, progress=False)
                      for r in members]
            print(_row(name, condition, caches, gt, floors))
    return 0


if __name__ == "__main__":
    sys.exit(main())

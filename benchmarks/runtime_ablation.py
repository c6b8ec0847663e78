"""Run-time rule ablation for a trained checkpoint: MOTRv2's plain rules vs our duplicate guards
(track NMS, removal of collapsed queries) and optional proposal box snapping, on a training
sequence (TUD-Stadtmitte, where defaults were chosen) and on the validation split.

    python -m benchmarks.runtime_ablation [--checkpoint assets/baseline.pt]
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import torch

from benchmarks.common import format_table, validation_caches
from model.core import settings
from model.core.choices import VARIANTS
from model.data.cache import CacheKey, build_frame_cache
from model.tracking.detector import YoloxDetector
from model.evaluation.metrics import evaluate_sequence
from model.tracking.pipeline import load_tracker, track_cache
from model.tracking.runtime import RuntimeConfig

SETTINGS = {
    "MOTRv2 rules only": RuntimeConfig(track_nms_iou=None, snap_iou=None),
    "+ track NMS 0.7, keep collapsed as lost": RuntimeConfig(track_nms_removes=False, snap_iou=None),
    "+ track NMS 0.7, remove collapsed": RuntimeConfig(snap_iou=None),
    "+ snap to proposals, IoU 0.5 (default)": RuntimeConfig(),
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", default=None)
    p.add_argument("--variant", default="baseline", choices=VARIANTS)
    args = p.parse_args()
    torch.set_num_threads(1)
    detector = YoloxDetector()
    seq_dir, caches = validation_caches(detector)
    tud = settings.data_dir() / "TUD-Stadtmitte"
    caches = {"TUD-Stadtmitte (train)": build_frame_cache(tud, CacheKey(tud.name, 1, 179, None, 0), detector), **caches}
    tracker, _ = load_tracker(args.variant, args.checkpoint)
    rows = []
    for name, runtime in SETTINGS.items():
        tracker.runtime = replace(runtime)
        for split, cache in caches.items():
            m = evaluate_sequence(cache.meta["source"], track_cache(tracker, cache), first=cache.frames[0], last=cache.frames[-1])
            rows.append((name, split, m, {}))
    print(format_table(rows))


if __name__ == "__main__":
    main()

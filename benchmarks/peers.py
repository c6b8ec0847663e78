"""Peers, side by side: our query tracker(s) vs ByteTrack, OC-SORT and SORT from the ``trackers``
package, on the same YOLOX-Nano detections of the same validation frames (PETS09-S2L1 501-795),
clean and degraded. Prints one Markdown table (for BENCHMARKS.md).

    python -m benchmarks.peers [--variants baseline vsd-mot] [--splits hq lq-medium lq-severe]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from benchmarks.common import format_table, machine_line, validation_caches
from model.data.clips import VAL_SPAN
from model.tracking.detector import YoloxDetector
from model.evaluation.metrics import evaluate_sequence
from model.tracking.checkpoint import CheckpointMissingError
from model.tracking.pipeline import load_tracker, track_cache
from model.core.choices import VARIANTS
from model.core.types import Tracks


def run_peer(name: str, cache, fps: float) -> tuple[dict[int, Tracks], float]:
    """One of the ``trackers`` package's trackers over cached detections; returns tracks and ms/frame."""
    import supervision as sv
    import trackers

    classes = {"ByteTrack": trackers.ByteTrackTracker, "OC-SORT": trackers.OCSORTTracker, "SORT": trackers.SORTTracker}
    tracker = classes[name](frame_rate=fps)
    results, elapsed = {}, 0.0
    for frame in cache.frames:
        det = cache.detections(frame).detections
        start = time.perf_counter()
        out = tracker.update(sv.Detections(xyxy=det.xyxy.astype(np.float32), confidence=det.scores.astype(np.float32),
                                           class_id=np.zeros(len(det), dtype=int)))
        elapsed += time.perf_counter() - start
        keep = out.tracker_id >= 0 if len(out) else np.zeros(0, dtype=bool)
        out = out[keep]
        results[frame] = Tracks(xyxy=out.xyxy, scores=out.confidence if out.confidence is not None else np.ones(len(out)),
                                ids=out.tracker_id)
    return results, elapsed / len(cache.frames) * 1000


def detector_ms(detector: YoloxDetector, seq_dir, first: int, frames: int = 30) -> float:
    from model.data.video import open_frames

    images = [f for _, f in open_frames(seq_dir, first, first + frames - 1)]
    detector(images[0])
    start = time.perf_counter()
    for image in images:
        detector(image)
    return (time.perf_counter() - start) / len(images) * 1000


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=VARIANTS)
    p.add_argument("--peers", nargs="*", default=["ByteTrack", "OC-SORT", "SORT"])
    p.add_argument("--splits", nargs="*", default=["hq", "lq-medium", "lq-severe"])
    p.add_argument("--checkpoint", action="append", default=[], help="VARIANT=PATH to override a checkpoint")
    args = p.parse_args()
    torch.set_num_threads(1)
    overrides = dict(item.split("=", 1) for item in args.checkpoint)

    detector = YoloxDetector()
    seq_dir, caches = validation_caches(detector, args.splits)
    name, first, last = VAL_SPAN
    fps = 7.0
    det_ms = detector_ms(detector, seq_dir, first)
    rows = []
    for variant in args.variants:
        try:
            tracker, meta = load_tracker(variant, overrides.get(variant))
        except CheckpointMissingError as exc:
            print(f"skipping {variant}: {exc}")
            continue
        for split, cache in caches.items():
            tracker.reset()
            start = time.perf_counter()
            tracks = track_cache(tracker, cache)
            ms = (time.perf_counter() - start) / len(cache.frames) * 1000
            m = evaluate_sequence(seq_dir, tracks, first=first, last=last)
            rows.append((f"{variant} (ours)", split, m, {"tracker ms/frame": ms, "detector ms/frame": det_ms}))
    for peer in args.peers:
        for split, cache in caches.items():
            tracks, ms = run_peer(peer, cache, fps)
            m = evaluate_sequence(seq_dir, tracks, first=first, last=last)
            rows.append((peer, split, m, {"tracker ms/frame": ms, "detector ms/frame": det_ms}))
    print(f"# {name} frames {first}-{last}; YOLOX-Nano proposals (score > 0.05); {machine_line()}; torch threads 1")
    print(format_table(rows, extra=("tracker ms/frame", "detector ms/frame")))


if __name__ == "__main__":
    main()

"""End-to-end speed (issue 14): both variants against a plain YOLOX-Nano + ByteTrack loop on the same
frames, measured side by side in one process, with a per-stage breakdown.

    python -m benchmarks.speed [--first 396] [--last 795] [--repeats 3] [--detector-threads 1 2]

Rows, interleaved within each repeat (median wall time over repeats; one warm-up pass first, so no row
pays for process start-up, weight loading or first-call allocation):

- ``reference``: ``cv2.imread`` of each JPEG -> YOLOX-Nano (the unmodified ONNX file, onnxruntime's
  default session options, i.e. its own thread count) -> YOLOX post-processing -> ``trackers``
  ByteTrack. The loop a user would write with the peer we compare against.
- ``<variant> serial``: what ``vsdmot track`` did before issue 14 -- decode, Q, detector (1 thread)
  and tracker one after another in one thread.
- ``<variant> ahead, detector N threads``: what ``vsdmot track`` and the service do now
  (``model.tracking.pipeline.prepare_frames``, detector 2 threads): decode + Q and the detector run
  ahead on two threads while the tracker runs; onnxruntime's idle threads do not spin-wait.
- ``... spin-waiting``: the same with onnxruntime's default busy-waiting threads, for comparison.

Stages (ms per frame, medians over frames of the last repeat): decode, quality Q, detector (its own
thread when ahead, so they overlap the tracker's), and the tracker split into queries (proposal
queries, the rest of the model's forward), hook (student + DSWR; ~0 for the baseline's identity hook),
decoder, and bookkeeping (proposal conversion and the identity rules of ``Tracker.update``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
import torch

from benchmarks.common import machine_line
from model.core import settings
from model.core.choices import DEVICE_CHOICES
from model.core.device import resolve_device
from model.core.weights import resolve_weights
from model.data.video import open_frames
from model.tracking.detector import (
    PERSON_CLASS, DetectorConfig, YoloxDetector, decode_yolox, letterbox, non_max_suppression,
)
from model.tracking.pipeline import load_tracker, prepare_frames
from model.tracking.runtime import Tracker

SEQUENCE = "PETS09-S2L1"
STAGES = ("decode", "quality", "detector", "queries", "hook", "decoder", "bookkeeping")


@dataclass
class Run:
    """One pass of one row: wall seconds and per-frame stage times (ms)."""

    wall_s: float
    frames: int
    stages: dict[str, list[float]] = field(default_factory=dict)

    @property
    def fps(self) -> float:
        return self.frames / self.wall_s


class PlainYolox:
    """YOLOX-Nano as a plain loop runs it: the unmodified file, onnxruntime's default options."""

    def __init__(self, providers: tuple[str, ...] = ("CPUExecutionProvider",)) -> None:
        self.session = ort.InferenceSession(str(resolve_weights("yolox_nano")), providers=list(providers))
        self.input_name = self.session.get_inputs()[0].name
        self.size = int(self.session.get_inputs()[0].shape[2])

    def __call__(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        blob, scale = letterbox(frame, self.size)
        raw = self.session.run(None, {self.input_name: blob})[0]
        xyxy, scores = decode_yolox(raw[0], self.size, (8, 16, 32))
        scores = scores[:, PERSON_CLASS]
        above = scores > 0.05
        xyxy, scores = xyxy[above] / scale, scores[above]
        keep = non_max_suppression(xyxy, scores, 0.7)
        return xyxy[keep], scores[keep]


def run_reference(images: list[Path], detector: PlainYolox) -> Run:
    import supervision as sv
    import trackers

    tracker = trackers.ByteTrackTracker(frame_rate=7)
    start = time.perf_counter()
    for path in images:
        frame = cv2.imread(str(path))
        xyxy, scores = detector(frame)
        tracker.update(sv.Detections(xyxy=xyxy.astype(np.float32), confidence=scores.astype(np.float32),
                                     class_id=np.zeros(len(scores), dtype=int)))
    return Run(time.perf_counter() - start, len(images))


class StageTimer:
    """Forward hooks on the model, its hook and its decoder: their time per frame (benchmark-only)."""

    def __init__(self, tracker: Tracker) -> None:
        self.totals: dict[str, float] = {}
        self._open: dict[str, float] = {}
        model = tracker.model
        self.handles = []
        for name, module in (("model", model), ("hook", model.hook), ("decoder", model.decoder)):
            self.handles.append(module.register_forward_pre_hook(self._starter(name)))
            self.handles.append(module.register_forward_hook(self._stopper(name)))

    def _starter(self, name: str) -> Callable:
        def hook(*_: object) -> None:
            self._open[name] = time.perf_counter()
        return hook

    def _stopper(self, name: str) -> Callable:
        def hook(*_: object) -> None:
            self.totals[name] = self.totals.get(name, 0.0) + (time.perf_counter() - self._open.pop(name)) * 1e3
        return hook

    def take(self) -> dict[str, float]:
        totals, self.totals = self.totals, {}
        return totals

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()


def run_ours(seq: Path, first: int, last: int, tracker: Tracker, detector: YoloxDetector, ahead: int,
             timer: StageTimer | None) -> Run:
    tracker.reset()
    stages: dict[str, list[float]] = {s: [] for s in STAGES}
    frames = 0
    start = time.perf_counter()
    for item in prepare_frames(open_frames(seq, first, last), detector, assess=tracker.needs.quality, ahead=ahead):
        tracker.update(item.frame, detections=item.detections, quality=item.quality)
        frames += 1
        if timer is not None:
            parts = timer.take()
            model_ms, hook_ms, decoder_ms = parts.get("model", 0.0), parts.get("hook", 0.0), parts.get("decoder", 0.0)
            for stage, value in (("decode", item.decode_ms), ("quality", item.quality_ms),
                                 ("detector", item.detector_ms), ("queries", model_ms - hook_ms - decoder_ms),
                                 ("hook", hook_ms), ("decoder", decoder_ms),
                                 ("bookkeeping", tracker.last.tracker_ms - model_ms)):
                stages[stage].append(value)
    return Run(time.perf_counter() - start, frames, stages)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--first", type=int, default=396)
    p.add_argument("--last", type=int, default=795)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--detector-threads", type=int, nargs="*", default=[1, 2])
    p.add_argument("--torch-threads", type=int, default=1, help="the tracker's intra-op threads (the service's default)")
    p.add_argument("--variants", nargs="*", default=["baseline", "vsd-mot"])
    p.add_argument("--device", choices=DEVICE_CHOICES, default="cpu",
                   help="where the trackers and every detector (the reference's too) run; model.core.device")
    args = p.parse_args(argv)
    plan = resolve_device(args.device)
    data = settings.data_dir()
    if data is None:
        raise SystemExit("no data: set VSDMOT_DATA_DIR (or VSDMOT_SHARED_DIR)")
    torch.set_num_threads(args.torch_threads)
    seq = data / SEQUENCE
    images = [seq / "img1" / f"{n:06d}.jpg" for n in range(args.first, args.last + 1)]
    reference_detector = PlainYolox(plan.detector_providers)
    detectors = {n: YoloxDetector(DetectorConfig(num_threads=n, providers=plan.detector_providers))
                 for n in sorted({1, *args.detector_threads})}
    spinning = {n: YoloxDetector(DetectorConfig(num_threads=n, spin_wait=True, providers=plan.detector_providers))
                for n in args.detector_threads if n > 1}
    trackers = {v: load_tracker(v, device=plan.tracker)[0] for v in args.variants}
    print(f"# device: tracker {plan.tracker}, detector {plan.detector}", file=sys.stderr)
    timers = {v: StageTimer(t) for v, t in trackers.items()}

    rows: dict[str, Callable[[], Run]] = {"reference (YOLOX-Nano + ByteTrack)": lambda: run_reference(images, reference_detector)}
    for variant, tracker in trackers.items():
        rows[f"{variant} serial, detector 1 thread"] = (
            lambda t=tracker, v=variant: run_ours(seq, args.first, args.last, t, detectors[1], 0, timers[v]))
        for n in args.detector_threads:
            rows[f"{variant} ahead, detector {n} thread{'s' if n > 1 else ''}"] = (
                lambda t=tracker, v=variant, n=n: run_ours(seq, args.first, args.last, t, detectors[n], 2, timers[v]))
        for n, spinner in spinning.items():  # onnxruntime's default: why the project turns spinning off
            rows[f"{variant} ahead, detector {n} threads, spin-waiting"] = (
                lambda t=tracker, v=variant, d=spinner: run_ours(seq, args.first, args.last, t, d, 2, timers[v]))

    # Warm-up: every row on the first 20 frames.
    for name, row in rows.items():
        if name.startswith("reference"):
            run_reference(images[:20], reference_detector)
        else:
            variant = name.split()[0]
            run_ours(seq, args.first, args.first + 19, trackers[variant], detectors[1], 2, None)
    results: dict[str, list[Run]] = {name: [] for name in rows}
    for _ in range(args.repeats):
        for name, row in rows.items():
            results[name].append(row())

    def median_fps(name: str) -> float:
        return statistics.median(r.fps for r in results[name])

    reference = next(iter(rows))
    ref_fps = median_fps(reference)
    frames = args.last - args.first + 1
    print(f"Machine: {machine_line()}; torch {torch.__version__}, onnxruntime {ort.__version__}, "
          f"tracker torch threads {args.torch_threads}")
    print(f"Frames: {SEQUENCE} {args.first}-{args.last} ({frames} JPEG frames), {args.repeats} interleaved repeats, "
          f"median\n")
    print("| row | FPS | ms / frame | time vs reference |")
    print("|---|---|---|---|")
    for name in rows:
        fps = median_fps(name)
        print(f"| {name} | {fps:.1f} | {1000 / fps:.1f} | {ref_fps / fps:.2f}x |")
    best = {v: max((n for n in rows if n.startswith(v + " ")), key=median_fps) for v in trackers}
    if "baseline" in best and "vsd-mot" in best:
        extra = median_fps(best["baseline"]) / median_fps(best["vsd-mot"]) - 1
        print(f"\nVSD-MOT over the baseline end to end (each at its fastest row): {100 * extra:+.1f} %")
    print("\n### Stages, ms per frame (median over the frames of the last repeat)\n")
    print("| row | " + " | ".join(STAGES) + " | tracker total |")
    print("|---|" + "---|" * (len(STAGES) + 1))
    for name in rows:
        if name.startswith("reference"):
            continue
        stages = results[name][-1].stages
        med = {s: statistics.median(stages[s]) for s in STAGES}
        tracker_total = med["queries"] + med["hook"] + med["decoder"] + med["bookkeeping"]
        print(f"| {name} | " + " | ".join(f"{med[s]:.2f}" for s in STAGES) + f" | {tracker_total:.2f} |")
    for timer in timers.values():
        timer.remove()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

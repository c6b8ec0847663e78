"""Table VIII analogue: parameters and speed of baseline, + student, + student + DSWR, and direct
teacher integration (paper Fig. 1a), measured in one run on the same frames.

Every row runs the same YOLOX-Nano detector on the same frames (PETS09-S2L1 501-600 by default) and
reports the tracker's own time (everything after the detector: query construction, hook, decoder,
identity logic, and for direct integration the teacher) and the end-to-end FPS. The paper's Table VIII
compares whole-system FPS (its "tracker" includes the detector), so both ratios are printed.

    python -m benchmarks.efficiency [--frames 100] [--threads 1] [--vsd A.pt B.pt] [--direct C.pt]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from benchmarks.common import machine_line
from model.core import settings
from model.tracking.detector import YoloxDetector
from model.vsd.quality import assess_frame
from model.tracking.runtime import Tracker
from model.tracking.checkpoint import CheckpointMissingError
from model.tracking.hooks import DirectTeacherHook, HookSwitches, VSDHook
from model.tracking.pipeline import load_tracker
from model.data.video import open_frames


def count_params(module: torch.nn.Module) -> float:
    return sum(p.numel() for p in module.parameters()) / 1e6


def time_tracker(tracker: Tracker, frames: list, detections: list, qualities: list | None) -> list[float]:
    tracker.reset()
    times = []
    for frame, det, q in zip(frames, detections, qualities or [None] * len(frames)):
        start = time.perf_counter()
        tracker.update(frame, detections=det, quality=q)
        times.append((time.perf_counter() - start) * 1000)
    return times


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--frames", type=int, default=100)
    p.add_argument("--first", type=int, default=501)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=5, help="passes over the frames, rows interleaved; the median pass counts")
    p.add_argument("--vsd", nargs="*", default=None, help="VSD-MOT checkpoints to compare (default assets/vsd_mot.pt)")
    p.add_argument("--direct", default=None, help="direct-integration checkpoint")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    data = settings.data_dir()
    if data is None:
        raise SystemExit("no data: set VSDMOT_DATA_DIR")
    detector = YoloxDetector()
    frames = [f for _, f in open_frames(data / "PETS09-S2L1", args.first, args.first + args.frames - 1)]
    det_times, detections = [], []
    for frame in frames:
        start = time.perf_counter()
        detections.append(detector(frame))
        det_times.append((time.perf_counter() - start) * 1000)
    quality_times, qualities = [], []
    for frame in frames:
        start = time.perf_counter()
        qualities.append(assess_frame(frame))
        quality_times.append((time.perf_counter() - start) * 1000)
    det_ms, q_ms = statistics.median(det_times), statistics.median(quality_times)

    rows = []
    try:
        base, _ = load_tracker("baseline")
        rows.append(("baseline", base, False))
    except CheckpointMissingError as exc:
        raise SystemExit(str(exc)) from None
    for path in args.vsd or [None]:
        try:
            vsd_student, _ = load_tracker("vsd-mot", path, switches=HookSwitches(student=True, dswr=False))
            vsd_full, _ = load_tracker("vsd-mot", path, switches=HookSwitches(student=True, dswr=True))
        except CheckpointMissingError as exc:
            print(f"# no VSD-MOT rows: {exc}")
            continue
        if not isinstance(vsd_full.model.hook, VSDHook):
            raise SystemExit(f"{path or 'assets/vsd_mot.pt'} is not a student + DSWR checkpoint (--vsd)")
        size = vsd_full.model.hook.student_config
        tag = f"student h{size.hidden_dim}/ffn{size.ffn_dim}/{size.num_layers}L"
        rows += [(f"+ {tag} (fixed-ratio fusion)", vsd_student, False), (f"+ {tag} + DSWR (VSD-MOT)", vsd_full, True)]
    if args.direct:
        direct, meta = load_tracker("vsd-mot", args.direct)
        if not isinstance(direct.model.hook, DirectTeacherHook):
            raise SystemExit(f"{args.direct} is not a direct-integration checkpoint (--direct)")
        rows.append((f"direct teacher integration ({direct.model.hook.teacher_name})", direct, True))

    print(f"# PETS09-S2L1 frames {args.first}-{args.first + args.frames - 1}; {machine_line()}; torch threads {args.threads}")
    print(f"# detector (YOLOX-Nano, onnxruntime 1 thread): median {det_ms:.2f} ms/frame; frame quality Q: median {q_ms:.2f} ms/frame")
    print("| variant | params (M, tracker) | tracker ms/frame (median) | + Q ms | end-to-end FPS "
          "| tracker time vs baseline | end-to-end time vs baseline |")
    print("|---|---|---|---|---|---|---|")
    # Rows take turns pass by pass, so a slow spell of the machine hits every row alike instead of one.
    passes: dict[str, list[float]] = {name: [] for name, _, _ in rows}
    for _ in range(args.repeats):
        for name, tracker, uses_quality in rows:
            times = time_tracker(tracker, frames, detections, qualities if uses_quality else None)
            passes[name].append(statistics.median(times))
    base_ms = None
    for name, tracker, uses_quality in rows:
        ms = statistics.median(passes[name])
        extra = q_ms if uses_quality else 0.0
        total = ms + extra
        base_ms = base_ms or total
        fps = 1000 / (det_ms + total)
        end_to_end = (det_ms + total) / (det_ms + base_ms) - 1
        print(f"| {name} | {count_params(tracker.model):.2f} | {ms:.2f} | {extra:.2f} | {fps:.1f} "
              f"| {100 * (total / base_ms - 1):+.1f}% | {100 * end_to_end:+.1f}% |")


if __name__ == "__main__":
    main()

"""Tracking CLI and the helpers every consumer shares (app, benchmarks, evaluation).

``python -m model.track <video file or MOTChallenge sequence dir> --variant baseline --output tracks.txt
[--json tracks.json] [--render out.mp4]``
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from model.settings import ASSETS_DIR
from model.tracker import FrameInfo, Tracker, load_checkpoint
from model.types import Tracks

VARIANTS = ("baseline", "vsd-mot")
DEFAULT_CHECKPOINTS = {"baseline": ASSETS_DIR / "baseline.pt", "vsd-mot": ASSETS_DIR / "vsd_mot.pt"}


class CheckpointMissingError(FileNotFoundError):
    """The variant's trained weights are not there; the message says what to do."""


def checkpoint_path(variant: str, checkpoint: str | Path | None = None) -> Path:
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}: choose one of {', '.join(VARIANTS)}")
    path = Path(checkpoint) if checkpoint else DEFAULT_CHECKPOINTS[variant]
    if not path.is_file():
        raise CheckpointMissingError(
            f"no trained {variant} checkpoint at {path}. Train one with "
            f"`python -m model.train --variant {variant} --output runs/{variant}` and copy "
            f"runs/{variant}/checkpoint.pt to {DEFAULT_CHECKPOINTS[variant]}, or pass --checkpoint."
        )
    return path


def load_tracker(
    variant: str = "baseline",
    checkpoint: str | Path | None = None,
    detector: Any | None = None,
    student: bool | None = None,
    dswr: bool | None = None,
) -> tuple[Tracker, dict[str, Any]]:
    """Build a ready tracker for a variant; ``student``/``dswr`` switch VSD-MOT's parts at run time."""
    model, meta = load_checkpoint(checkpoint_path(variant, checkpoint))
    teacher = None
    if getattr(model.hook, "needs_teacher", False):
        from model.teacher import build_teacher

        teacher = build_teacher(model.hook.teacher_name)
    if hasattr(model.hook, "configure"):
        model.hook.configure(student=student, dswr=dswr)
    elif student or dswr:
        raise ValueError(f"the {variant} checkpoint has no student/DSWR to switch on")
    return Tracker(model, detector=detector, teacher=teacher), meta


def track_frames(
    tracker: Tracker,
    frames: Iterable[tuple[int, np.ndarray]],
    detections: Callable[[int], Any] | None = None,
    on_frame: Callable[[int, np.ndarray, Tracks, FrameInfo], None] | None = None,
) -> dict[int, Tracks]:
    """Run a fresh track over ``(frame_number, frame)`` pairs; ``detections(frame_number)`` may supply
    cached detector outputs (then frames may be None)."""
    tracker.reset()
    results: dict[int, Tracks] = {}
    for number, frame in frames:
        cached = detections(number) if detections is not None else None
        tracks = tracker.update(frame, detections=cached)
        results[number] = tracks
        if on_frame is not None:
            on_frame(number, frame, tracks, tracker.last)
    return results


def track_cache(tracker: Tracker, cache: Any) -> dict[int, Tracks]:
    """Track a cached (sequence, degradation) span: detector outputs and frame quality come from the cache."""
    from model.quality import QualityScores

    tracker.reset()
    results = {}
    for number in cache.frames:
        quality = QualityScores(*(float(v) for v in cache.quality[cache.position(number)]))
        results[number] = tracker.update(None, detections=cache.detections(number), quality=quality)
    return results


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m model.track", description="Track people in a video or MOTChallenge sequence.")
    p.add_argument("source", help="video file (mp4/avi/mov/webm/mkv/gif) or MOTChallenge sequence folder")
    p.add_argument("--variant", choices=VARIANTS, default="vsd-mot" if DEFAULT_CHECKPOINTS["vsd-mot"].is_file() else "baseline")
    p.add_argument("--checkpoint", default=None, help="tracker checkpoint (default: the variant's file in assets/)")
    p.add_argument("--student", action=argparse.BooleanOptionalAction, default=None, help="VSD-MOT: run the student")
    p.add_argument("--dswr", action=argparse.BooleanOptionalAction, default=None, help="VSD-MOT: DSWR (else fixed-ratio fusion)")
    p.add_argument("--degrade", choices=["none", "mild", "medium", "severe", "realesrgan"], default="none")
    p.add_argument("--seed", type=int, default=0, help="degradation seed")
    p.add_argument("--first", type=int, default=1)
    p.add_argument("--last", type=int, default=None)
    p.add_argument("--output", required=True, help="MOTChallenge text output")
    p.add_argument("--json", default=None, help="also write JSON tracks here")
    p.add_argument("--render", default=None, help="also write an H.264 mp4 with the tracks drawn")
    args = p.parse_args(argv)

    from tqdm import tqdm

    from model.detector import YoloxDetector
    from model.mot_io import write_json, write_mot
    from model.video import UnreadableVideoError, open_frames

    try:
        source = open_frames(args.source, args.first, args.last)
        tracker, meta = load_tracker(args.variant, args.checkpoint, YoloxDetector(), args.student, args.dswr)
    except (FileNotFoundError, ValueError, UnreadableVideoError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None

    degrader = None
    if args.degrade != "none":
        from model.degrade import Degrader

        degrader = Degrader(preset=args.degrade, seed=args.seed)
    writer = None
    if args.render:
        from model.render import VideoWriter

        writer = VideoWriter(args.render, source.info.fps)

    def frames() -> Iterable[tuple[int, np.ndarray]]:
        for number, frame in tqdm(source, total=len(source), desc=f"{args.variant}", unit="frame"):
            yield number, degrader(frame, number) if degrader is not None else frame

    def on_frame(number: int, frame: np.ndarray, tracks: Tracks, info: FrameInfo) -> None:
        if writer is not None:
            from model.render import draw_tracks

            writer.write(draw_tracks(frame, tracks, f"{args.variant} #{number}"))

    try:
        results = track_frames(tracker, frames(), on_frame=on_frame)
    finally:
        if writer is not None:
            writer.close()
    write_mot(args.output, results)
    if args.json:
        write_json(args.json, results)
    ids = {int(i) for t in results.values() for i in t.ids}
    print(f"{len(results)} frames, {len(ids)} identities -> {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()

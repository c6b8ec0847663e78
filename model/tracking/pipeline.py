"""Ready-made tracking loops that every consumer shares (CLI, web service, benchmarks, evaluation).

:func:`load_tracker` builds a :class:`Tracker` for a variant's checkpoint (and the teacher, for the
one hook that runs it at inference); :func:`track_frames` runs a fresh track over frames;
:func:`track_cache` over a frozen-feature cache, as training and the benchmarks see a sequence.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from model.core.types import DetectorOutput, Tracks
from model.data.cache import FrameCache
from model.tracking.checkpoint import checkpoint_path, load_checkpoint
from model.tracking.hooks import HookSwitches
from model.tracking.runtime import Detector, FrameInfo, RuntimeConfig, Tracker


def load_tracker(
    variant: str = "baseline",
    checkpoint: str | Path | None = None,
    detector: Detector | None = None,
    switches: HookSwitches | None = None,
    runtime: RuntimeConfig | None = None,
) -> tuple[Tracker, dict[str, Any]]:
    """A ready tracker for a variant's checkpoint; ``switches`` turn VSD-MOT's parts on/off for it."""
    model, meta = load_checkpoint(checkpoint_path(variant, checkpoint))
    needs = model.hook.needs(model.hook.resolve(switches))
    teacher = None
    if needs.teacher is not None:
        from model.vsd.teacher import build_teacher

        teacher = build_teacher(needs.teacher)
    return Tracker(model, detector=detector, teacher=teacher, runtime=runtime, switches=switches), meta


def track_frames(
    tracker: Tracker,
    frames: Iterable[tuple[int, np.ndarray | None]],
    detections: Callable[[int], DetectorOutput] | None = None,
    on_frame: Callable[[int, np.ndarray | None, Tracks, FrameInfo], None] | None = None,
) -> dict[int, Tracks]:
    """Run a fresh track over ``(frame_number, frame)`` pairs; ``detections(frame_number)`` may supply
    precomputed detector outputs (then frames may be None)."""
    tracker.reset()
    results: dict[int, Tracks] = {}
    for number, frame in frames:
        cached = detections(number) if detections is not None else None
        tracks = tracker.update(frame, detections=cached)
        results[number] = tracks
        if on_frame is not None:
            on_frame(number, frame, tracks, tracker.last)
    return results


def track_cache(tracker: Tracker, cache: FrameCache) -> dict[int, Tracks]:
    """Track a cached (sequence, degradation) span: detector outputs and frame quality come from the cache."""
    tracker.reset()
    teacher = tracker.needs.teacher  # direct integration: the cache holds the embeddings training read
    embeddings = cache.teacher(teacher) if teacher is not None else None
    return {
        number: tracker.update(None, detections=cache.detections(number), quality=cache.quality_scores(number),
                               teacher_embedding=None if embeddings is None else embeddings[cache.position(number)])
        for number in cache.frames
    }

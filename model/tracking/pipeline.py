"""Ready-made tracking loops that every consumer shares (CLI, web service, benchmarks, evaluation).

:func:`load_tracker` builds a :class:`Tracker` for a variant's checkpoint (and the teacher, for the
one hook that runs it at inference); :func:`prepare_frames` decodes, degrades, assesses and detects
frames ahead of the trackers on a second thread; :func:`track_frames` runs a fresh track over frames;
:func:`track_cache` over a frozen-feature cache, as training and the benchmarks see a sequence.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from model.core.types import DetectorOutput, Tracks
from model.data.cache import FrameCache
from model.tracking.checkpoint import checkpoint_path, load_checkpoint
from model.tracking.hooks import HookSwitches
from model.tracking.runtime import Detector, FrameInfo, RuntimeConfig, Tracker
from model.vsd.quality import QualityScores, assess_frame

FrameTransform = Callable[[np.ndarray, int], np.ndarray]  # (frame, frame number) -> frame, e.g. a Degrader
PREPARE_AHEAD = 2  # frames prepared before the trackers ask for them: enough to hide a slow frame, little memory


@dataclass
class PreparedFrame:
    """One frame ready for the trackers, with what its preparation cost.

    Attributes:
        number: 1-based frame number.
        frame: (H, W, 3) BGR uint8, after the transform (the frame the trackers and renders see).
        detections: the detector's output for it.
        quality: its quality scores Q (None when not asked for).
        decode_ms, transform_ms, quality_ms, detector_ms: time of each step (decode includes reading the file).
    """

    number: int
    frame: np.ndarray
    detections: DetectorOutput
    quality: QualityScores | None
    decode_ms: float
    transform_ms: float
    quality_ms: float
    detector_ms: float


_DONE = object()


@dataclass
class _ReadFrame:
    number: int
    frame: np.ndarray
    quality: QualityScores | None
    decode_ms: float
    transform_ms: float
    quality_ms: float


def _read(frames: Iterable[tuple[int, np.ndarray]], transform: FrameTransform | None,
          assess: bool) -> Iterator[_ReadFrame]:
    """Stage 1: decode, transform (degrade), assess Q -- each timed."""
    source = iter(frames)
    while True:
        tick = time.perf_counter()
        try:
            number, frame = next(source)
        except StopIteration:
            return
        decoded = time.perf_counter()
        if transform is not None:
            frame = transform(frame, number)
        transformed = time.perf_counter()
        quality = assess_frame(frame) if assess else None
        assessed = time.perf_counter()
        yield _ReadFrame(number, frame, quality, (decoded - tick) * 1e3, (transformed - decoded) * 1e3,
                         (assessed - transformed) * 1e3)


def _detect(read: Iterable[_ReadFrame], detector: Detector) -> Iterator[PreparedFrame]:
    """Stage 2: the detector, timed."""
    for item in read:
        tick = time.perf_counter()
        detections = detector(item.frame)
        yield PreparedFrame(item.number, item.frame, detections, item.quality, item.decode_ms, item.transform_ms,
                            item.quality_ms, (time.perf_counter() - tick) * 1e3)


def _run_ahead(stage: Iterator[Any], ahead: int, name: str) -> Iterator[Any]:
    """Run ``stage`` (a generator) on its own thread, at most ``ahead`` items before the consumer.

    An exception in the stage is raised in the consumer after the items before it; a consumer that
    stops early (``close()``, a ``break``) stops the thread and closes the stage, and with it the
    stages it reads from.
    """
    ready: queue.Queue = queue.Queue(maxsize=ahead)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for item in stage:
                if not put(item):
                    return
        except BaseException as exc:  # raised again in the consumer's thread
            put(exc)
            return
        finally:
            stage.close()  # type: ignore[attr-defined]  (our stages are generators)
        put(_DONE)

    worker = threading.Thread(target=work, name=name, daemon=True)
    worker.start()
    try:
        while True:
            item = ready.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()


def prepare_frames(frames: Iterable[tuple[int, np.ndarray]], detector: Detector,
                   transform: FrameTransform | None = None, assess: bool = True,
                   ahead: int = PREPARE_AHEAD) -> Iterator[PreparedFrame]:
    """Decode, transform (degrade), assess (Q) and detect each frame, ``ahead`` frames before the consumer.

    Why threads (ours, issue 14): the detector (onnxruntime), OpenCV's decoding and resizing release
    the GIL. Two stages run on their own threads -- decode + transform + Q, then the detector -- so
    while the trackers run frame t the detector runs frame t + 1 and frame t + 2 is being decoded;
    the detector alone is then the critical path (``benchmarks/speed.py``). ``ahead=0`` runs the same
    steps in the caller's thread, in the same order, with the same results. An error in any step (an
    unreadable frame, say) is raised in the caller after the frames before it, as the serial loop
    would; a caller that stops early stops both threads.
    """
    if ahead <= 0:
        yield from _detect(_read(frames, transform, assess), detector)
        return
    read = _run_ahead(_read(frames, transform, assess), ahead, "prepare-frames-read")
    yield from _run_ahead(_detect(read, detector), ahead, "prepare-frames-detect")


def load_tracker(
    variant: str = "baseline",
    checkpoint: str | Path | None = None,
    detector: Detector | None = None,
    switches: HookSwitches | None = None,
    runtime: RuntimeConfig | None = None,
    device: str = "cpu",
) -> tuple[Tracker, dict[str, Any]]:
    """A ready tracker for a variant's checkpoint on ``device`` (a torch device string, e.g. from
    :func:`model.core.device.resolve_device`); ``switches`` turn VSD-MOT's parts on/off for it."""
    model, meta = load_checkpoint(checkpoint_path(variant, checkpoint))
    model = model.to(device)
    needs = model.hook.needs(model.hook.resolve(switches))
    teacher = None
    if needs.teacher is not None:
        from model.vsd.teacher import build_teacher

        teacher = build_teacher(needs.teacher)
    return Tracker(model, detector=detector, teacher=teacher, runtime=runtime, switches=switches), meta


def track_prepared(
    tracker: Tracker,
    prepared: Iterable[PreparedFrame],
    on_frame: Callable[[PreparedFrame, Tracks, FrameInfo], None] | None = None,
) -> dict[int, Tracks]:
    """Run a fresh track over :func:`prepare_frames`' output (the CLI's loop)."""
    tracker.reset()
    results: dict[int, Tracks] = {}
    for item in prepared:
        tracks = tracker.update(item.frame, detections=item.detections, quality=item.quality)
        results[item.number] = tracks
        if on_frame is not None:
            on_frame(item, tracks, tracker.last)
    return results


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

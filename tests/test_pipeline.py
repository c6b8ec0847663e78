"""model.tracking.pipeline: frames prepared ahead on a second thread give exactly the serial loop's
answers, errors reach the caller, a caller that stops early stops the thread."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from model.core.types import Detections, DetectorOutput
from model.data.video import UnreadableVideoError
from model.tracking.pipeline import prepare_frames


def _frames(count: int, fail_at: int | None = None):
    for number in range(1, count + 1):
        if number == fail_at:
            raise UnreadableVideoError(f"frame {number} of clip.mp4 cannot be decoded")
        yield number, np.full((48, 64, 3), number, np.uint8)


class _FakeDetector:
    """One box whose score is the frame's mean grey level / 255: each output names its frame."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.calls: list[int] = []
        self.delay_s = delay_s

    def __call__(self, frame: np.ndarray) -> DetectorOutput:
        self.calls.append(int(frame[0, 0, 0]))
        time.sleep(self.delay_s)
        return DetectorOutput(Detections(np.array([[1, 1, 10, 10]], np.float32), np.array([frame.mean() / 255])),
                              features=[], strides=(), scale=1.0, image_size=frame.shape[:2], input_size=64)


def _worker_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("prepare-frames")]


@pytest.mark.parametrize("ahead", [0, 1, 2, 5])
def test_every_frame_in_order_transformed_assessed_and_detected(ahead: int) -> None:
    detector = _FakeDetector()
    brighten = lambda frame, number: frame + 10  # noqa: E731 - a transform sees the frame number too
    got = list(prepare_frames(_frames(7), detector, transform=brighten, ahead=ahead))
    assert [p.number for p in got] == list(range(1, 8))
    assert [int(p.frame[0, 0, 0]) for p in got] == [n + 10 for n in range(1, 8)]
    assert detector.calls == [n + 10 for n in range(1, 8)]  # the detector saw the transformed frame
    np.testing.assert_allclose([p.detections.detections.scores[0] for p in got], [(n + 10) / 255 for n in range(1, 8)])
    assert all(p.quality is not None and p.detector_ms >= 0 and p.decode_ms >= 0 for p in got)
    assert not _worker_threads()


def test_quality_is_skipped_when_not_asked_for() -> None:
    assert all(p.quality is None for p in prepare_frames(_frames(3), _FakeDetector(), assess=False))


def test_the_same_answers_ahead_and_serial() -> None:
    serial = list(prepare_frames(_frames(6), _FakeDetector(), ahead=0))
    threaded = list(prepare_frames(_frames(6), _FakeDetector(), ahead=2))
    for a, b in zip(serial, threaded, strict=True):
        assert a.number == b.number and a.quality == b.quality
        np.testing.assert_array_equal(a.frame, b.frame)


@pytest.mark.parametrize("ahead", [0, 2])
def test_an_unreadable_frame_is_raised_in_the_caller_after_the_good_ones(ahead: int) -> None:
    seen = []
    with pytest.raises(UnreadableVideoError, match="frame 4 of clip.mp4"):
        for prepared in prepare_frames(_frames(9, fail_at=4), _FakeDetector(), ahead=ahead):
            seen.append(prepared.number)
    assert seen == [1, 2, 3]
    assert not _worker_threads()


def test_a_caller_that_stops_early_stops_the_thread() -> None:
    detector = _FakeDetector(delay_s=0.01)
    stream = prepare_frames(_frames(1000), detector, ahead=2)
    first = next(stream)
    assert first.number == 1
    stream.close()  # what a `break` or an exception in the caller's loop does
    assert not _worker_threads()
    assert len(detector.calls) <= 5  # it stopped, it did not run on through the clip


def test_the_next_frame_is_detected_while_the_caller_still_holds_this_one() -> None:
    """The overlap itself, without timing: while the caller is busy with frame 1, the detector gets
    frame 2 (with ahead=0 it cannot, the caller's own thread would have to run it)."""
    second_detected = threading.Event()

    class Detector(_FakeDetector):
        def __call__(self, frame: np.ndarray) -> DetectorOutput:
            out = super().__call__(frame)
            if len(self.calls) == 2:
                second_detected.set()
            return out

    stream = prepare_frames(_frames(5), Detector(), ahead=2)
    assert next(stream).number == 1
    assert second_detected.wait(timeout=30)
    stream.close()
    serial = prepare_frames(_frames(5), Detector(), ahead=0)
    second_detected.clear()
    next(serial)
    assert not second_detected.is_set()
    serial.close()


@pytest.mark.shared
def test_the_cli_loop_tracks_as_the_serial_loop_does(pets_dir: Path, weights_dir: Path) -> None:
    """Both variants on real frames with the real detector: prepared ahead == one frame at a time."""
    from model.data.video import open_frames
    from model.tracking.detector import YoloxDetector
    from model.tracking.pipeline import load_tracker, track_frames, track_prepared

    detector = YoloxDetector()
    for variant in ("baseline", "vsd-mot"):
        tracker, _ = load_tracker(variant, detector=detector)
        serial = track_frames(tracker, open_frames(pets_dir, 501, 540))
        ahead = track_prepared(tracker, prepare_frames(open_frames(pets_dir, 501, 540), detector,
                                                       assess=tracker.needs.quality))
        assert serial.keys() == ahead.keys()
        for number in serial:
            np.testing.assert_array_equal(serial[number].ids, ahead[number].ids)
            np.testing.assert_array_equal(serial[number].xyxy, ahead[number].xyxy)

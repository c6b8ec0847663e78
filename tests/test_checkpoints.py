"""The shipped checkpoints, on real validation frames they were never trained on.

Floors sit a few HOTA under the measured values (BENCHMARKS.md: baseline 45.2, VSD-MOT 50.2 on
PETS09-S2L1 501-795 clean), so a broken loader, a wrong default or a damaged file fails here, while
the numbers themselves come from the benchmark scripts.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from model.track import DEFAULT_CHECKPOINTS, load_tracker, track_frames

pytestmark = [pytest.mark.shared, pytest.mark.slow]
FIRST, LAST = 501, 795  # the validation split (model.data.VAL_SPAN)


@pytest.fixture(scope="module")
def validation(mot_dir: Path, weights_dir: Path) -> tuple[Path, list, dict]:
    """Frames and YOLOX outputs of the validation split, computed once for both checkpoints."""
    from model.detector import YoloxDetector
    from model.video import open_frames

    seq = mot_dir / "PETS09-S2L1"
    frames = list(open_frames(seq, FIRST, LAST))
    detector = YoloxDetector()
    return seq, frames, {number: detector(frame) for number, frame in frames}


@pytest.mark.parametrize(("variant", "floor"), [("baseline", 40.0), ("vsd-mot", 40.0)])
def test_shipped_checkpoint_tracks_the_validation_split(variant: str, floor: float, validation: tuple) -> None:
    from model.eval import evaluate_sequence

    seq, frames, detections = validation
    checkpoint = DEFAULT_CHECKPOINTS[variant]
    assert checkpoint.is_file() and checkpoint.stat().st_size < 10 * 2**20  # issue 4: under 10 MB
    tracker, meta = load_tracker(variant)
    if variant == "vsd-mot":
        assert meta["teacher"] == "effnet-lite0"  # the model card's claim
        assert tracker.model.hook.student_config.hidden_dim == 64
    tracks = track_frames(tracker, frames, detections=detections.__getitem__)
    metrics = evaluate_sequence(seq, tracks, first=FIRST, last=LAST)
    assert metrics.HOTA >= floor, f"{variant}: HOTA {metrics.HOTA:.1f} < {floor}"

"""The frozen-feature cache serves exactly what the detector computed (up to fp16 features)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from model.data.cache import CacheKey, FrameCache, build_frame_cache, quality_tag
from model.vsd.quality import assess_frame
from model.data.video import open_frames


def test_cache_matches_a_live_detector_run(mot_dir: Path, weights_dir: Path, tmp_path: Path) -> None:
    from model.tracking.detector import YoloxDetector

    seq = mot_dir / "TUD-Stadtmitte"
    detector = YoloxDetector()
    cache = build_frame_cache(seq, CacheKey(seq.name, 3, 5, None, 0), detector, root=tmp_path, progress=False)
    assert cache.frames == [3, 4, 5]
    for number, frame in open_frames(seq, 3, 5):
        live, cached = detector(frame), cache.detections(number)
        assert np.allclose(live.detections.xyxy, cached.detections.xyxy)
        assert np.allclose(live.features[0], cached.features[0], atol=1e-2, rtol=1e-2)
        assert cached.input_size == detector.input_size and cached.image_size == (480, 640)
        assert abs(cache.quality_scores(number).q - assess_frame(frame).q) < 1e-6
    assert (cache.folder / f"quality_{quality_tag()}.npy").exists()
    # reopening reuses the folder; a deleted quality file is recomputed, not served stale
    (cache.folder / f"quality_{quality_tag()}.npy").unlink()
    again = FrameCache(cache.folder)
    assert np.allclose(again.quality, cache.quality)


def test_degraded_rendition_has_lower_quality(mot_dir: Path, weights_dir: Path, tmp_path: Path) -> None:
    from model.tracking.detector import YoloxDetector

    seq = mot_dir / "TUD-Stadtmitte"
    detector = YoloxDetector()
    clean = build_frame_cache(seq, CacheKey(seq.name, 1, 2, None, 0), detector, root=tmp_path, progress=False)
    severe = build_frame_cache(seq, CacheKey(seq.name, 1, 2, "severe", 0), detector, root=tmp_path, progress=False)
    def mean_q(cache: FrameCache) -> float:
        return float(np.mean([cache.quality_scores(n).q for n in cache.frames]))

    assert mean_q(severe) < mean_q(clean) - 0.1


def test_a_failed_build_leaves_no_partial_folder(mot_dir: Path, tmp_path: Path) -> None:
    class Broken:
        name, input_size = "broken", 416

        def __call__(self, frame: np.ndarray):
            raise RuntimeError("detector died")

    seq = mot_dir / "TUD-Stadtmitte"
    with pytest.raises(RuntimeError, match="detector died"):
        build_frame_cache(seq, CacheKey(seq.name, 1, 2, None, 0, "broken"), Broken(), root=tmp_path, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_an_empty_span_is_a_clear_error(tmp_path: Path) -> None:
    seq = tmp_path / "empty"
    (seq / "img1").mkdir(parents=True)
    with pytest.raises(ValueError, match="no frames|no images|empty"):
        build_frame_cache(seq, CacheKey("empty", 1, 1, None, 0), object(), root=tmp_path / "c", progress=False)
    assert not (tmp_path / "c").exists() or not any((tmp_path / "c").iterdir())

"""One proposal path for training and inference: the tensors the query tracker receives for a real
frame are the same whether the frame comes live through the detector (``Tracker.update``) or from
the frozen-feature cache that training reads (``ClipObjective``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from model.core.types import Detections, DetectorOutput
from model.tracking.query_model import QueryTrackerModel
from model.tracking.proposals import proposal_inputs, to_model_boxes, to_pixel_boxes
from model.tracking.runtime import Tracker


def _capture(model: QueryTrackerModel) -> list[tuple]:
    """Record (proposals, hook_inputs) of every forward call of ``model``."""
    calls: list[tuple] = []

    def record(module, args, kwargs):
        calls.append((args[2], args[3]))

    model.register_forward_pre_hook(record, with_kwargs=True)
    return calls


def test_proposal_inputs_keep_the_best_and_convert_coordinates() -> None:
    boxes = np.array([[0, 0, 40, 80], [100, 50, 140, 150], [10, 10, 20, 30]], np.float32)
    output = DetectorOutput(Detections(boxes, np.array([0.2, 0.9, 0.5])), [np.ones((2, 4, 4), np.float32)],
                            strides=(8,), scale=0.5, image_size=(200, 300), input_size=160)
    inputs = proposal_inputs(output, max_proposals=2)
    assert inputs.detections.scores.tolist() == pytest.approx([0.9, 0.5])
    # (100..140, 50..150) px * 0.5 / 160 -> centre (0.375, 0.3125), size (0.125, 0.3125)
    assert inputs.anchors[0, 0].tolist() == pytest.approx([0.375, 0.3125, 0.125, 0.3125])
    assert inputs.scores.shape == (1, 2) and inputs.features[0].shape == (1, 2, 4, 4)
    back = to_pixel_boxes(inputs.anchors[0], 0.5, 160, (200, 300))
    np.testing.assert_allclose(back, boxes[[1, 2]], atol=1e-4)
    assert to_model_boxes(np.zeros((0, 4)), 0.5, 160).shape == (0, 4)


@pytest.mark.shared
def test_training_and_inference_feed_the_model_the_same_tensors(
    pets_dir: Path, weights_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from model.data.clips import load_sequence
    from model.data.video import open_frames
    from model.tracking.detector import YoloxDetector
    from model.training.run_config import TrainConfig
    from model.training.objective import ClipObjective

    monkeypatch.setenv("VSDMOT_CACHE_DIR", str(tmp_path))
    detector = YoloxDetector()
    torch.manual_seed(0)
    model = QueryTrackerModel().eval()
    calls = _capture(model)
    frames = dict(open_frames(pets_dir, 1, 2))

    live = Tracker(model, detector=detector, quality=None)
    live.update(frames[1])  # inference: frame -> detector -> proposals
    seq = load_sequence(pets_dir, 1, 2, None, detector)  # training: the cached detector output
    Tracker(model).update(detections=seq.cache.detections(1), quality=seq.cache.quality_scores(1))
    objective = ClipObjective(model, None, TrainConfig(clip_len=2, track_drop=0.0, fp_insert=0.0))
    objective(seq, [1, 2], np.random.default_rng(0))
    (live_p, _), (cached_p, cached_q), (train_p, train_q) = calls[0], calls[1], calls[2]

    assert len(live_p.detections) > 3  # a real frame with people
    for name in ("anchors", "scores"):  # boxes and scores are cached exactly
        assert torch.equal(getattr(live_p, name), getattr(train_p, name)), name
        assert torch.equal(getattr(cached_p, name), getattr(train_p, name)), name
    np.testing.assert_array_equal(live_p.detections.xyxy, train_p.detections.xyxy)
    for live_f, cached_f, train_f in zip(live_p.features, cached_p.features, train_p.features):
        assert live_f.shape == train_f.shape and live_f.dtype == train_f.dtype == torch.float32
        assert torch.equal(cached_f, train_f)  # same cache, same function: identical
        # the cache stores features in fp16: the live ones agree to half precision
        torch.testing.assert_close(live_f, train_f, rtol=1e-3, atol=2e-3)
    assert torch.equal(cached_q.quality, train_q.quality)
    from model.vsd.quality import assess_frame

    assert float(train_q.quality) == pytest.approx(assess_frame(frames[1]).q, abs=1e-6)

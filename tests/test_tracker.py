"""Run-time identity rules (MOTRv2) and model plumbing of the query tracker."""

from __future__ import annotations

import numpy as np
import torch

from model.data.cache import CachedDetections
from model.tracking.decoder import DecoderOutput
from model.tracking.hooks.base import HookOutput
from model.tracking.model import FrameOutput, QueryTrackerModel, RuntimeConfig, Tracker, load_checkpoint, save_checkpoint
from model.core.types import Detections


def _detections(boxes: list[list[float]], scores: list[float]) -> CachedDetections:
    return CachedDetections(
        detections=Detections(np.array(boxes, dtype=np.float32).reshape(-1, 4), np.array(scores)),
        features=[np.zeros((64, 52, 52), np.float32), np.zeros((128, 26, 26), np.float32), np.zeros((256, 13, 13), np.float32)],
        scale=1.0,
        image_size=(416, 416),
        input_size=416,
    )


class ScriptedModel(QueryTrackerModel):
    """Real query construction and state handling; the decoder's scores are scripted per frame so the
    identity rules can be checked exactly (boxes pass through unchanged)."""

    def __init__(self, script: list[list[float]]) -> None:
        super().__init__()
        self.script = script
        self.frame = 0

    def forward(self, track_content, track_anchors, proposal_anchors, proposal_scores, features, **kwargs):
        queries = torch.cat((track_content, self.proposal_queries(proposal_anchors, proposal_scores, features)), 1)
        anchors = torch.cat((track_anchors, proposal_anchors), 1)
        scores = torch.tensor(self.script[self.frame], dtype=torch.float32)
        assert len(scores) == queries.shape[1], "script must give one score per query"
        self.frame += 1
        logits = torch.logit(scores.clamp(1e-4, 1 - 1e-4))[None, None]
        return FrameOutput(DecoderOutput(logits, anchors[None], queries), HookOutput(queries), track_content.shape[1])


BOX_A, BOX_B = [10, 10, 50, 100], [200, 50, 240, 150]


def test_birth_loss_removal_and_reset() -> None:
    # queries per frame = live tracks (in order) + proposals
    script = [
        [0.9, 0.3],  # f1: two proposals; A is born (>= 0.5), B is not
        [0.8, 0.1, 0.7],  # f2: track A kept; proposal A (duplicate) rejected by score; B born
        [0.2, 0.9, 0.1, 0.1],  # f3: A lost (miss 1), B kept
        [0.2, 0.9, 0.1, 0.1],  # f4: A miss 2 (still within tolerance 2)
        [0.2, 0.9, 0.1, 0.1],  # f5: A miss 3 -> removed
        [0.9, 0.1],  # f6: only B left as a track
    ]
    tracker = Tracker(ScriptedModel(script), runtime=RuntimeConfig(miss_tolerance=2))
    dets = _detections([BOX_A, BOX_B], [0.9, 0.4])
    out = [tracker.update(detections=dets) for _ in range(2)]
    assert out[0].ids.tolist() == [1]
    assert sorted(out[1].ids.tolist()) == [1, 2]
    assert np.allclose(out[0].xyxy[0], BOX_A, atol=0.1)
    f3 = tracker.update(detections=dets)
    assert f3.ids.tolist() == [2]
    tracker.update(detections=dets)
    tracker.update(detections=dets)
    f6 = tracker.update(detections=_detections([BOX_A], [0.9]))
    assert f6.ids.tolist() == [2]
    tracker.model.script, tracker.model.frame = [[0.9, 0.9]], 0
    tracker.reset()
    assert sorted(tracker.update(detections=dets).ids.tolist()) == [1, 2], "ids restart at 1 after reset"


def test_duplicate_newborn_is_suppressed() -> None:
    script = [[0.9], [0.9, 0.9]]  # f2: the track and a proposal on the same box both score high
    tracker = Tracker(ScriptedModel(script))
    tracker.update(detections=_detections([BOX_A], [0.9]))
    out = tracker.update(detections=_detections([BOX_A], [0.9]))
    assert out.ids.tolist() == [1]


def test_no_proposals_no_tracks() -> None:
    tracker = Tracker(QueryTrackerModel())
    out = tracker.update(detections=_detections([], []))
    assert len(out) == 0 and tracker.last.num_proposals == 0


def test_checkpoint_roundtrip(tmp_path) -> None:
    torch.manual_seed(0)
    model = QueryTrackerModel().eval()
    sha = save_checkpoint(tmp_path / "m.pt", model, {"note": "test"})
    loaded, meta = load_checkpoint(tmp_path / "m.pt")
    assert meta["sha256"] == sha and meta["note"] == "test"
    dets = _detections([BOX_A, BOX_B], [0.9, 0.6])
    a, b = Tracker(model).update(detections=dets), Tracker(loaded).update(detections=dets)
    assert len(a) == len(b)
    # fp16 storage: predictions agree to half precision
    for (k, v), (_, w) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert torch.allclose(v, w, atol=1e-2, rtol=1e-2), k


def test_collapsed_track_queries_are_removed() -> None:
    # f1: two proposals on nearly the same box are both born (duplicate guard off);
    # f2: both track queries stay confident on one person: the weaker one is removed, not kept
    script = [[0.9, 0.8], [0.9, 0.7], [0.9]]
    near_a = [12, 10, 52, 100]
    tracker = Tracker(ScriptedModel(script), runtime=RuntimeConfig(duplicate_iou=None, track_nms_iou=0.7))
    assert sorted(tracker.update(detections=_detections([BOX_A, near_a], [0.9, 0.8])).ids.tolist()) == [1, 2]
    second = tracker.update(detections=_detections([], []))
    assert second.ids.tolist() == [1] and len(tracker._tracks) == 1

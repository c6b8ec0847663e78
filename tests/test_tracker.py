"""Run-time identity rules (MOTRv2) and model plumbing of the query tracker."""

from __future__ import annotations

import numpy as np
import torch

import pytest

from model.core.types import Detections, DetectorOutput
from model.tracking.checkpoint import load_checkpoint, save_checkpoint
from model.tracking.decoder import DecoderOutput
from model.tracking.hooks import HookInputs, HookOutput, HookSwitches
from model.tracking.query_model import FrameOutput, QueryTrackerModel, TrackerConfig
from model.tracking.proposals import proposal_inputs
from model.tracking.runtime import RuntimeConfig, Tracker


def _detections(boxes: list[list[float]], scores: list[float]) -> DetectorOutput:
    return DetectorOutput(
        detections=Detections(np.array(boxes, dtype=np.float32).reshape(-1, 4), np.array(scores)),
        features=[np.zeros((64, 52, 52), np.float32), np.zeros((128, 26, 26), np.float32), np.zeros((256, 13, 13), np.float32)],
        strides=(8, 16, 32),
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

    def forward(self, track_content, track_anchors, proposals, hook_inputs, switches, padding_mask=None):
        content = self.proposal_queries(proposals.anchors, proposals.scores, proposals.features)
        queries = torch.cat((track_content, content), 1)
        anchors = torch.cat((track_anchors, proposals.anchors), 1)
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
    with torch.no_grad():  # move every weight off its initial value, so a load that drops any is seen
        for param in model.parameters():
            param.add_(0.05 * torch.randn_like(param))
    sha = save_checkpoint(tmp_path / "m.pt", model, {"note": "test"})
    loaded, meta = load_checkpoint(tmp_path / "m.pt")
    assert meta["sha256"] == sha and meta["note"] == "test"
    assert model.state_dict().keys() == loaded.state_dict().keys()
    for (k, v), (_, w) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert torch.allclose(v, w, atol=1e-3, rtol=1e-3), k  # fp16 storage
    features = [torch.randn(1, 64, 52, 52), torch.randn(1, 128, 26, 26), torch.randn(1, 256, 13, 13)]
    dets = _detections([BOX_A, BOX_B], [0.9, 0.6])
    dets.features = [f[0].numpy() for f in features]
    inputs = proposal_inputs(dets, 100)
    empty = torch.zeros(1, 0, 256), torch.zeros(1, 0, 4)
    with torch.no_grad():
        a = model(*empty, inputs, HookInputs(), HookSwitches()).decoder
        b = loaded(*empty, inputs, HookInputs(), HookSwitches()).decoder
    assert not torch.allclose(a.logits, torch.zeros_like(a.logits))
    assert torch.allclose(a.logits, b.logits, atol=5e-2) and torch.allclose(a.boxes, b.boxes, atol=5e-3)
    # With every proposal born, both trackers answer with the same boxes.
    born = RuntimeConfig(new_track_threshold=0.0, snap_iou=None)
    ta = Tracker(model, runtime=born).update(detections=dets)
    tb = Tracker(loaded, runtime=born).update(detections=dets)
    assert len(ta) == len(tb) == 2
    np.testing.assert_allclose(ta.xyxy, tb.xyxy, atol=1.0)


def test_tracker_config_refuses_keys_it_does_not_know() -> None:
    config = {"decoder": {}, "max_proposals": 50, "keep_threshold": 0.5}  # a legacy run-time key is fine
    assert TrackerConfig.from_dict(config).max_proposals == 50
    with pytest.raises(ValueError, match="max_proposal, decoder.layers"):
        TrackerConfig.from_dict({"decoder": {"layers": 3}, "max_proposal": 50})


def test_collapsed_track_queries_are_removed() -> None:
    # f1: two proposals on nearly the same box are both born (duplicate guard off);
    # f2: both track queries stay confident on one person: the weaker one is removed, not kept
    script = [[0.9, 0.8], [0.9, 0.7], [0.9]]
    near_a = [12, 10, 52, 100]
    tracker = Tracker(ScriptedModel(script), runtime=RuntimeConfig(duplicate_iou=None, track_nms_iou=0.7))
    assert sorted(tracker.update(detections=_detections([BOX_A, near_a], [0.9, 0.8])).ids.tolist()) == [1, 2]
    second = tracker.update(detections=_detections([], []))
    assert second.ids.tolist() == [1] and len(tracker._tracks) == 1


def test_a_track_no_proposal_backs_is_retired() -> None:
    # The track query stays confident (0.9) while the detector sees nothing there: it follows nothing.
    script = [[0.9], [0.9], [0.9], [0.9]]
    tracker = Tracker(ScriptedModel(script), runtime=RuntimeConfig(max_unsupported=2, recover_iou=None))
    assert tracker.update(detections=_detections([BOX_A], [0.9])).ids.tolist() == [1]
    nothing = _detections([], [])
    assert tracker.update(detections=nothing).ids.tolist() == [1]  # 1 frame unbacked
    assert tracker.update(detections=nothing).ids.tolist() == [1]  # 2 frames
    assert len(tracker.update(detections=nothing)) == 0 and not tracker._tracks  # 3 > 2: retired


def test_a_backed_track_is_kept_and_weak_proposals_do_not_back() -> None:
    script = [[0.9]] + [[0.9, 0.1]] * 4
    runtime = RuntimeConfig(max_unsupported=1, support_min_score=0.1, snap_iou=None)
    tracker = Tracker(ScriptedModel(script), runtime=runtime)
    tracker.update(detections=_detections([BOX_A], [0.9]))
    for _ in range(2):  # a proposal on the box, at the score floor: backed
        assert tracker.update(detections=_detections([[11, 10, 51, 101]], [0.1])).ids.tolist() == [1]
    weak = _detections([[11, 10, 51, 101]], [0.05])  # below support_min_score: does not back
    assert tracker.update(detections=weak).ids.tolist() == [1]
    assert len(tracker.update(detections=weak)) == 0


@pytest.mark.parametrize(("runtime", "expected_box"), [
    (RuntimeConfig(), [25, 10, 65, 100]),  # default snap IoU 0.4 (since 2026-12-08): 25/55 = 0.45 snaps
    (RuntimeConfig(snap_iou=0.5), BOX_A),  # the earlier 0.5 keeps the decoder's box
    (RuntimeConfig(snap_iou=None), BOX_A),
])
def test_a_visible_track_takes_a_proposal_box_overlapping_it_above_the_snap_iou(runtime, expected_box) -> None:
    # The scripted decoder returns the track's anchor (BOX_A); the proposal is shifted 15 px: IoU 25/55.
    tracker = Tracker(ScriptedModel([[0.9], [0.9, 0.1]]), runtime=runtime)
    tracker.update(detections=_detections([BOX_A], [0.9]))
    second = tracker.update(detections=_detections([[25, 10, 65, 100]], [0.9]))
    assert second.ids.tolist() == [1]
    np.testing.assert_allclose(second.xyxy[0], expected_box, atol=1e-3)


@pytest.mark.parametrize(("recover_iou", "recover_frames", "expected_id"), [(0.3, 30, 1), (None, 30, 2), (0.3, 0, 2)])
def test_identity_recovery(recover_iou, recover_frames, expected_id) -> None:
    # f1 born on A; f2 unbacked; f3 retired; f4 a proposal near A's last backed box is born.
    script = [[0.9], [0.9], [0.9], [0.9]]
    runtime = RuntimeConfig(max_unsupported=1, recover_iou=recover_iou, recover_frames=recover_frames)
    tracker = Tracker(ScriptedModel(script), runtime=runtime)
    tracker.update(detections=_detections([BOX_A], [0.9]))
    tracker.update(detections=_detections([], []))
    assert len(tracker.update(detections=_detections([], []))) == 0
    reborn = tracker.update(detections=_detections([[14, 12, 54, 104]], [0.9]))
    assert reborn.ids.tolist() == [expected_id]


def test_identity_recovery_is_one_to_one_and_needs_overlap() -> None:
    # Two tracks retire together (lost past miss_tolerance); two new-borns: one over A, one far away.
    script = [[0.9, 0.9], [0.1, 0.1], [0.9, 0.9]]
    runtime = RuntimeConfig(miss_tolerance=0, snap_iou=None)
    tracker = Tracker(ScriptedModel(script), runtime=runtime)
    assert sorted(tracker.update(detections=_detections([BOX_A, BOX_B], [0.9, 0.9])).ids.tolist()) == [1, 2]
    assert len(tracker.update(detections=_detections([], []))) == 0  # both lost: retired
    far = [300, 300, 340, 400]
    out = tracker.update(detections=_detections([BOX_A, far], [0.9, 0.9]))
    assert dict(zip(out.ids.tolist(), out.xyxy[:, 0].round().tolist())) == {1: 10.0, 3: 300.0}


@pytest.mark.parametrize(("recover_lost", "expected_id", "tracks_left"), [(True, 1, 1), (False, 2, 2)])
def test_a_new_born_box_over_a_lost_track_takes_its_identity(recover_lost, expected_id, tracks_left) -> None:
    # f1 A born; f2 its query misses (lost, still alive); f3 a proposal near A is born.
    script = [[0.9], [0.1], [0.1, 0.9]]
    tracker = Tracker(ScriptedModel(script), runtime=RuntimeConfig(recover_lost=recover_lost))
    tracker.update(detections=_detections([BOX_A], [0.9]))
    assert len(tracker.update(detections=_detections([], []))) == 0
    out = tracker.update(detections=_detections([[12, 10, 52, 102]], [0.9]))
    assert out.ids.tolist() == [expected_id]
    assert len(tracker._tracks) == tracks_left, "the lost track's query is replaced, not kept beside"


@pytest.mark.parametrize(("recover_suppressed", "expected_id"), [(True, 2), (False, 3)])
def test_a_track_removed_by_track_nms_stays_recoverable(recover_suppressed, expected_id) -> None:
    # f1 A and B born; f2 B's query collapses onto A (track NMS removes B, the weaker); f3 a proposal
    # where B was last backed is born: it continues B's identity only if suppressed tracks are retired.
    script = [[0.9, 0.8], [0.9, 0.7, 0.1], [0.9, 0.1, 0.9]]
    runtime = RuntimeConfig(recover_suppressed=recover_suppressed, snap_iou=None)
    tracker = Tracker(ScriptedModel(script), runtime=runtime)
    assert sorted(tracker.update(detections=_detections([BOX_A, BOX_B], [0.9, 0.8])).ids.tolist()) == [1, 2]
    tracker._tracks[1].query_anchor = tracker._tracks[0].query_anchor.clone()  # B's query now sits on A
    assert tracker.update(detections=_detections([BOX_A], [0.9])).ids.tolist() == [1]
    out = tracker.update(detections=_detections([BOX_A, BOX_B], [0.9, 0.9]))
    assert sorted(out.ids.tolist()) == [1, expected_id]


def _moving_box(x: float) -> list[float]:
    return [x, 10, x + 40, 100]


@pytest.mark.parametrize(("momentum", "expected_id"), [(0.5, 1), (None, 2)])
def test_recovery_looks_where_the_motion_prior_expects_the_person(momentum, expected_id) -> None:
    # A walks 10 px per frame (snapped to its proposals, so backed), is lost for two frames, and
    # reappears where it would be: 30 px past its last backed box, which overlaps it by only IoU 1/7.
    script = [[0.9], [0.9, 0.1], [0.9, 0.1], [0.1], [0.1], [0.1, 0.9]]
    tracker = Tracker(ScriptedModel(script), runtime=RuntimeConfig(recover_velocity_momentum=momentum))
    for x in (10, 20, 30):
        assert tracker.update(detections=_detections([_moving_box(x)], [0.9])).ids.tolist() == [1]
    for _ in range(2):
        tracker.update(detections=_detections([], []))
    assert tracker.update(detections=_detections([_moving_box(60)], [0.9])).ids.tolist() == [expected_id]


def test_motion_prior_moves_the_last_backed_box_by_velocity_times_frames() -> None:
    from model.tracking.runtime import _Retired

    retired = _Retired(7, np.array([0, 0, 10, 20], np.float32), retired_at=4, backed_at=3,
                       velocity=np.array([2.0, -1.0]))
    np.testing.assert_allclose(retired.box_at(5), [4, -2, 14, 18])  # two frames on: +4 px in x, -2 in y
    standing = _Retired(7, np.array([0, 0, 10, 20], np.float32), retired_at=4, backed_at=3)
    np.testing.assert_allclose(standing.box_at(9), [0, 0, 10, 20])


def test_velocity_is_a_momentum_average_of_the_backed_steps() -> None:
    from model.tracking.runtime import _Track

    track = _Track(1, torch.zeros(4), torch.zeros(4), np.array([0, 0, 10, 10], np.float32), 0.9)
    track.back(1, 0.5)  # first backing: no velocity yet
    assert track.velocity is None
    track.box = np.array([4, 0, 14, 10], np.float32)
    track.back(3, 0.5)  # 4 px over 2 frames: 2 px/frame
    np.testing.assert_allclose(track.velocity, [2, 0])
    track.box = np.array([10, 3, 20, 13], np.float32)
    track.back(4, 0.5)  # step (6, 3); 0.5 * (2, 0) + 0.5 * (6, 3)
    np.testing.assert_allclose(track.velocity, [4, 1.5])


class ScriptedStudentModel(ScriptedModel):
    """The scripted decoder with a VSD hook (so the tracker resolves the student as on) whose student
    output S is scripted too: one 2-d direction per query, padded to the model's width."""

    def __init__(self, script: list[list[float]], semantics: list[list[tuple[float, float]]]) -> None:
        super().__init__(script)
        from model.tracking.hooks import VSDHook

        self.hook = VSDHook()
        self.semantics = semantics

    def forward(self, track_content, track_anchors, proposals, hook_inputs, switches, padding_mask=None):
        frame = self.frame
        out = super().forward(track_content, track_anchors, proposals, hook_inputs, switches, padding_mask)
        student = torch.zeros_like(out.hook.queries)
        student[0, :, :2] = torch.tensor(self.semantics[frame], dtype=torch.float32)
        return FrameOutput(out.decoder, HookOutput(out.hook.queries, student), out.num_track_queries)


@pytest.mark.parametrize(("recover_cosine", "expected_ids"), [(0.9, [2, 1]), (None, [3, 4]), (0.999, [3, 4])])
def test_appearance_recovery_matches_retired_tracks_by_their_student_output(recover_cosine, expected_ids) -> None:
    # f1: A (S along x) and B (S along y) are born; f2: both lost, retired (miss_tolerance 0);
    # f3: two new-borns far from both retired boxes, the first looking like B, the second like A
    # (cosine 0.995 with their S): appearance recovery hands them B's and A's ids; overlap cannot.
    near_b, near_a = (0.1, 0.995), (0.995, 0.1)
    script = [[0.9, 0.9], [0.1, 0.1], [0.9, 0.9]]
    semantics = [[(1, 0), (0, 1)], [(1, 0), (0, 1)], [near_b, near_a]]
    runtime = RuntimeConfig(miss_tolerance=0, snap_iou=None, recover_cosine=recover_cosine)
    tracker = Tracker(ScriptedStudentModel(script, semantics), runtime=runtime)
    assert tracker.update(detections=_detections([BOX_A, BOX_B], [0.9, 0.9])).ids.tolist() == [1, 2]
    assert len(tracker.update(detections=_detections([], []))) == 0
    far = [[300, 300, 340, 400], [100, 250, 140, 350]]
    out = tracker.update(detections=_detections(far, [0.9, 0.9]))
    assert out.ids.tolist() == expected_ids


def test_appearance_recovery_needs_the_student() -> None:
    with pytest.raises(ValueError, match="needs a VSD-MOT checkpoint with the student on"):
        Tracker(ScriptedModel([[0.9]]), runtime=RuntimeConfig(recover_cosine=0.5))
    with pytest.raises(ValueError, match="student on"):
        Tracker(ScriptedStudentModel([[0.9]], [[(1, 0)]]), runtime=RuntimeConfig(recover_cosine=0.5),
                switches=HookSwitches(student=False))
    tracker = Tracker(ScriptedModel([[0.9]]))
    with pytest.raises(ValueError, match="student on"):
        tracker.runtime = RuntimeConfig(recover_cosine=0.5)


class AnchorSpyModel(ScriptedModel):
    """ScriptedModel that records the track anchors it is given each frame."""

    def __init__(self, script: list[list[float]], momentum: float | None) -> None:
        super().__init__(script)
        self.config = TrackerConfig(track_motion_momentum=momentum)
        self.seen: list[torch.Tensor] = []

    def forward(self, track_content, track_anchors, proposals, hook_inputs, switches, padding_mask=None):
        self.seen.append(track_anchors[0].clone())
        return super().forward(track_content, track_anchors, proposals, hook_inputs, switches, padding_mask)


@pytest.mark.parametrize(("momentum", "expected_x"), [(0.5, 30), (None, 20)])
def test_track_anchors_move_by_the_velocity_when_the_model_has_a_motion_prior(momentum, expected_x) -> None:
    # A walks 10 px per frame; the scripted decoder returns its anchors and snapping sets the box to the
    # proposal, so after frames at x = 10 and 20 the anchor of frame 3 is x = 30 with the prior (the step
    # 10 px, whole on the first step), x = 20 without it (MOTRv2: the last box).
    model = AnchorSpyModel([[0.9], [0.9, 0.1], [0.9, 0.1]], momentum)
    tracker = Tracker(model)
    for x in (10, 20, 30):
        tracker.update(detections=_detections([_moving_box(x)], [0.9]))
    x1, y1, x2, y2 = _moving_box(expected_x)
    expected = torch.tensor([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1]) / 416
    torch.testing.assert_close(model.seen[2][0], expected)


def test_the_motion_prior_is_stored_in_the_checkpoint_and_old_checkpoints_have_none(tmp_path) -> None:
    model = QueryTrackerModel(TrackerConfig(track_motion_momentum=0.5))
    save_checkpoint(tmp_path / "m.pt", model, {})
    assert load_checkpoint(tmp_path / "m.pt")[0].config.track_motion_momentum == 0.5
    assert TrackerConfig.from_dict({"decoder": {}, "max_proposals": 100}).track_motion_momentum is None

"""The motion prior of the track-query anchors (model.tracking.motion), against hand-computed steps."""

from __future__ import annotations

import pytest
import torch

from model.tracking.motion import ANCHOR_MARGIN, MotionState, advance_anchors
from model.tracking.query_model import TrackerConfig


def _box(cx: float, cy: float, w: float = 0.1, h: float = 0.2) -> list[float]:
    return [cx, cy, w, h]


def test_a_new_track_is_not_moved_then_takes_its_first_step_then_averages() -> None:
    state = MotionState.start(torch.tensor([_box(0.5, 0.5)]))
    anchors, state = advance_anchors(state, torch.tensor([_box(0.5, 0.5)]), 0.5)
    torch.testing.assert_close(anchors, torch.tensor([_box(0.5, 0.5)]))  # one box seen: no velocity yet
    assert state.steps.tolist() == [1]
    anchors, state = advance_anchors(state, torch.tensor([_box(0.54, 0.49, 0.12)]), 0.5)
    torch.testing.assert_close(state.velocity, torch.tensor([[0.04, -0.01]]))  # the first step, whole
    torch.testing.assert_close(anchors, torch.tensor([_box(0.58, 0.48, 0.12)]))  # w, h are not extrapolated
    anchors, state = advance_anchors(state, torch.tensor([_box(0.60, 0.49, 0.12)]), 0.5)
    # step (0.06, 0.00); v = 0.5 * (0.04, -0.01) + 0.5 * (0.06, 0.00) = (0.05, -0.005)
    torch.testing.assert_close(state.velocity, torch.tensor([[0.05, -0.005]]))
    torch.testing.assert_close(anchors, torch.tensor([_box(0.65, 0.485, 0.12)]))
    torch.testing.assert_close(state.boxes, torch.tensor([_box(0.60, 0.49, 0.12)]))  # measured from the box, not the anchor
    assert state.steps.tolist() == [3]


def test_momentum_zero_follows_the_last_step_and_centres_stay_inside_the_image() -> None:
    state = MotionState(torch.tensor([_box(0.90, 0.5)]), torch.tensor([[0.3, 0.0]]), torch.tensor([5]))
    anchors, state = advance_anchors(state, torch.tensor([_box(0.99, 0.5)]), 0.0)
    torch.testing.assert_close(state.velocity, torch.tensor([[0.09, 0.0]]))
    assert anchors[0, 0].item() == pytest.approx(1 - ANCHOR_MARGIN)  # 1.08 clamped: the decoder takes logits of it


def test_carry_keeps_track_rows_and_starts_the_new_ones() -> None:
    state = MotionState(torch.tensor([_box(0.1, 0.1), _box(0.2, 0.2)]), torch.tensor([[0.01, 0.0], [0.02, 0.0]]),
                        torch.tensor([3, 1]))
    kept = torch.tensor([1, 4, 0])  # track query 1, a proposal query (index >= 2 tracks), track query 0
    carried = state.carry(kept, num_tracks=2, boxes=torch.rand(3, 4))
    assert carried.steps.tolist() == [1, 0, 3]
    torch.testing.assert_close(carried.velocity, torch.tensor([[0.02, 0.0], [0.0, 0.0], [0.01, 0.0]]))
    torch.testing.assert_close(carried.boxes[0], torch.tensor(_box(0.2, 0.2)))


@pytest.mark.parametrize("momentum", [-0.1, 1.0])
def test_a_momentum_outside_zero_one_is_refused(momentum: float) -> None:
    with pytest.raises(ValueError, match="track_motion_momentum"):
        TrackerConfig(track_motion_momentum=momentum)
    with pytest.raises(ValueError, match="momentum"):
        advance_anchors(MotionState.start(torch.zeros(1, 4)), torch.zeros(1, 4), momentum)

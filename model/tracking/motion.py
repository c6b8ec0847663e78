"""Track-query anchors with a motion prior (ours, issue 12; not the paper's, not MOTRv2's).

MOTRv2 carries a track query to the next frame with its last box as the anchor, so the decoder
samples features where the person *was*. At 7 fps (PETS09) a walking person moves a good part of
a box width per frame, and a query that samples half on a neighbour is pulled onto that neighbour.
With ``TrackerConfig.track_motion_momentum`` set, the next anchor is the last box moved by the
track's velocity: a momentum average of its box-centre steps between the frames the decoder saw it
(normalised coordinates per processed frame; width and height are not extrapolated). Training
(:class:`model.training.objective.ClipObjective`) and the run-time tracker
(:class:`model.tracking.runtime.Tracker`) both call :func:`advance_anchors`, so a checkpoint is run
the way it was trained.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

# Anchors go through inverse_sigmoid in the decoder: keep moved centres strictly inside (0, 1).
ANCHOR_MARGIN = 1e-3


@dataclass
class MotionState:
    """The motion prior's state of ``k`` tracks, aligned row by row.

    Attributes:
        boxes: (k, 4) cxcywh, each track's last box (not moved): the next step is measured from it.
        velocity: (k, 2) centre step per processed frame (zero until a track has two boxes).
        steps: (k,) int64, how many boxes of the track the prior has seen (0: none yet, a new track).
    """

    boxes: Tensor
    velocity: Tensor
    steps: Tensor

    @classmethod
    def start(cls, boxes: Tensor) -> MotionState:
        """New tracks at ``boxes`` (k, 4): no box seen before, so no velocity."""
        k = boxes.shape[0]
        return cls(boxes.new_zeros((k, 4)), boxes.new_zeros((k, 2)),
                   torch.zeros(k, dtype=torch.long, device=boxes.device))

    def take(self, index: Tensor) -> MotionState:
        """The rows ``index`` (m,) of this state."""
        return MotionState(self.boxes[index], self.velocity[index], self.steps[index])

    @staticmethod
    def cat(states: list[MotionState]) -> MotionState:
        return MotionState(torch.cat([s.boxes for s in states]), torch.cat([s.velocity for s in states]),
                           torch.cat([s.steps for s in states]))

    def carry(self, index: Tensor, num_tracks: int, boxes: Tensor) -> MotionState:
        """The state of the queries ``index`` (m,) kept for the next frame: rows of this state for track
        queries (index < num_tracks, this state's rows), fresh rows for proposal queries that become
        tracks; ``boxes`` (m, 4) only sizes the fresh rows."""
        out = MotionState.start(boxes)
        from_track = index < num_tracks
        if bool(from_track.any()):
            rows = index[from_track]
            out.boxes[from_track], out.velocity[from_track], out.steps[from_track] = (
                self.boxes[rows], self.velocity[rows], self.steps[rows])
        return out


def advance_anchors(state: MotionState, boxes: Tensor, momentum: float) -> tuple[Tensor, MotionState]:
    """The tracks of ``state`` were decoded at ``boxes`` (k, 4) cxcywh in this frame: returns their next
    anchors (k, 4) and the updated state.

    With p the previous box and b the new one, step = b_c - p_c (centres); the velocity is that step
    for a track's first step, then v <- momentum * v + (1 - momentum) * step. The anchor is b with its
    centre moved by v, clamped to (ANCHOR_MARGIN, 1 - ANCHOR_MARGIN); width and height stay b's.
    """
    if not 0.0 <= momentum < 1.0:
        raise ValueError(f"the motion prior's momentum is in [0, 1), got {momentum}")
    step = boxes[:, :2] - state.boxes[:, :2]
    first, later = (state.steps == 1)[:, None], (state.steps >= 2)[:, None]
    velocity = torch.where(first, step, torch.where(later, momentum * state.velocity + (1 - momentum) * step,
                                                    torch.zeros_like(step)))
    centres = (boxes[:, :2] + velocity).clamp(ANCHOR_MARGIN, 1 - ANCHOR_MARGIN)
    anchors = torch.cat((centres, boxes[:, 2:]), dim=1)
    return anchors, MotionState(boxes.clone(), velocity, state.steps + 1)

"""Output-sanity counters by hand: degenerate boxes, part tracks, identities."""

from __future__ import annotations

import numpy as np

from model.core.types import Tracks
from model.evaluation.sanity import degenerate_mask, inside_share, part_track_ids, sanity_counters

PERSON = [100, 100, 140, 200]  # 40 x 100
LEG = [105, 150, 120, 200]  # inside the person


def _frame(boxes: list[list[float]], ids: list[int]) -> Tracks:
    return Tracks(xyxy=np.array(boxes, np.float32).reshape(-1, 4), scores=np.ones(len(ids)), ids=np.array(ids))


def test_degenerate_boxes_by_hand() -> None:
    boxes = [PERSON, [0, 0, 50, 5], [0, 0, 40, 10], [0, 0, 10, 100], [0, 0, 20, 10], [0, 0, 2, 30]]
    # ok; 5 px tall; h/w = 0.25; h/w = 10; h/w = 0.5 (ok, the limit); h/w = 15
    assert degenerate_mask(np.array(boxes)).tolist() == [False, True, True, True, False, True]
    assert degenerate_mask(np.array([[5, 5, 5, 40]])).tolist() == [True]  # zero width


def test_inside_share_by_hand() -> None:
    share = inside_share(np.array([LEG, PERSON]), np.array([PERSON]))
    assert share[0, 0] == 1.0 and share[1, 0] == 1.0
    half_out = np.array([[130, 100, 150, 200]])  # half of its width lies outside the person
    assert inside_share(half_out, np.array([PERSON]))[0, 0] == 0.5


def test_a_part_track_needs_ten_consecutive_frames() -> None:
    nine = {f: _frame([PERSON, LEG], [1, 2]) for f in range(1, 10)}
    assert part_track_ids(nine) == set()
    ten = {**nine, 10: _frame([PERSON, LEG], [1, 2])}
    assert part_track_ids(ten) == {2}  # the person is not inside the leg
    broken = {**nine, 10: _frame([PERSON], [1]), **{f: _frame([PERSON, LEG], [1, 2]) for f in range(11, 20)}}
    assert part_track_ids(broken) == set()  # 9 + 9 with a break
    gap = {**nine, 11: _frame([PERSON, LEG], [1, 2])}
    assert part_track_ids(gap) == set()  # a missing frame number breaks the run too


def test_counters_add_up() -> None:
    tracks = {1: _frame([PERSON, [0, 0, 50, 2]], [1, 3]), 2: _frame([PERSON], [1]), 3: Tracks.empty()}
    counters = sanity_counters(tracks, gt_identities=1)
    assert (counters.boxes, counters.degenerate, counters.part_tracks, counters.identities) == (3, 1, 0, 2)
    assert counters.degenerate_share == 1 / 3 and counters.gt_identities == 1
    assert sanity_counters({}).degenerate_share == 0.0

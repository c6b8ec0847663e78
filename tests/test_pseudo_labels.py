"""Pseudo-labels: the linker, forward/backward agreement, re-ID stitching, interpolation, filters, the guard."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from model.core.types import Detections
from model.data import pseudo_labels
from model.data.pseudo_labels import PseudoLabelConfig, check_not_validation, pseudo_label

NO_REID = PseudoLabelConfig(reid=False)


def _walkers(num_frames: int, people: list[tuple[float, float]], missing: set[tuple[int, int]] = frozenset(),
             score: float = 0.9) -> list[Detections]:
    """People (start x, speed px/frame) 40x100 boxes at y=50, far apart; ``missing`` (frame, person) skipped."""
    out = []
    for t in range(num_frames):
        boxes = [[x + v * t, 50, x + v * t + 40, 150] for p, (x, v) in enumerate(people) if (t, p) not in missing]
        out.append(Detections(np.array(boxes, dtype=float).reshape(-1, 4), np.full(len(boxes), score)))
    return out


def _ids_per_person(tracks, num_people_x: list[float]) -> list[set[int]]:
    """Which ids were given to the boxes nearest each person's start column."""
    seen: list[set[int]] = [set() for _ in num_people_x]
    for frame in tracks:
        for box, identity in zip(frame.xyxy, frame.ids):
            person = int(np.argmin([abs(box[0] - x) for x in num_people_x]))
            seen[person].add(int(identity))
    return seen


def test_two_walkers_keep_one_id_each_and_a_missed_frame_is_interpolated() -> None:
    dets = _walkers(20, [(0, 2), (400, -2)], missing={(10, 0)})
    tracks = pseudo_label(dets, NO_REID)
    assert [len(t) for t in tracks] == [2] * 20
    frame10 = tracks[10]
    interpolated = frame10.xyxy[frame10.scores == 0]
    np.testing.assert_allclose(interpolated, [[20, 50, 60, 150]], atol=1e-5)  # the line between frames 9 and 11
    assert _ids_per_person(tracks, [0, 400]) == [{1}, {2}]


def test_short_fragments_low_scores_and_wide_boxes_are_dropped() -> None:
    short = _walkers(5, [(0, 2)])  # 5 < min_detections 8
    assert sum(len(t) for t in pseudo_label(short, NO_REID)) == 0
    faint = _walkers(20, [(0, 2)], score=0.55)  # starts and extends tracks at high_score 0.5, never reaches 0.6
    assert sum(len(t) for t in pseudo_label(faint, replace(NO_REID, high_score=0.5))) == 0
    assert sum(len(t) for t in pseudo_label(faint, replace(NO_REID, high_score=0.5, min_peak_score=0.5))) == 20
    wide = [Detections(np.array([[10 + t, 50, 110 + t, 100]], float), np.array([0.9])) for t in range(20)]
    assert sum(len(t) for t in pseudo_label(wide, NO_REID)) == 0  # h/w = 0.5: a car, a bench
    assert sum(len(t) for t in pseudo_label(wide, replace(NO_REID, min_aspect=0.4))) == 20


def test_low_score_boxes_extend_tracks_but_never_start_one() -> None:
    dets = _walkers(20, [(0, 2)])
    for t in range(10, 20):
        dets[t] = Detections(dets[t].xyxy, np.array([0.3]))
    dets[5] = Detections(np.concatenate([dets[5].xyxy, [[500, 50, 540, 150]]]), np.array([0.9, 0.3]))
    tracks = pseudo_label(dets, NO_REID)
    assert [len(t) for t in tracks] == [1] * 20  # the weak walker frames kept, the lone weak box not


def test_a_link_only_one_direction_makes_is_cut() -> None:
    dets = _walkers(3, [(0, 2)])
    forward = [np.array([0]), np.array([0]), np.array([0])]  # a-b-c
    backward = [np.array([4]), np.array([4]), np.array([7])]  # links a-b only
    tracklets = pseudo_labels._agreed_tracklets(dets, forward, backward, None)
    assert sorted(t.frames for t in tracklets) == [[0, 1], [2]]
    agreeing = pseudo_labels._agreed_tracklets(dets, forward, [np.array([1])] * 3, None)
    assert [t.frames for t in agreeing] == [[0, 1, 2]]


def _gap_scene(same_person: bool) -> tuple[list[Detections], list[np.ndarray]]:
    """One walker, unseen for frames 10-19 (a 10-frame gap); embeddings before/after the gap."""
    dets = _walkers(30, [(0, 2)], missing={(t, 0) for t in range(10, 20)})
    before, after = np.array([1.0, 0.0]), np.array([1.0, 0.0]) if same_person else np.array([0.0, 1.0])
    embeddings = [np.array([before if t < 10 else after]) if len(d) else np.zeros((0, 2)) for t, d in enumerate(dets)]
    return dets, embeddings


def test_reid_stitches_a_gap_only_when_the_two_tracklets_look_alike() -> None:
    config = replace(PseudoLabelConfig(), max_age=3)  # the linker alone gives up inside the gap
    dets, same = _gap_scene(same_person=True)
    tracks = pseudo_label(dets, config, same)
    assert {int(i) for t in tracks for i in t.ids} == {1}
    assert all(len(t) == 1 for t in tracks)  # the gap is filled by interpolation
    dets, other = _gap_scene(same_person=False)
    assert {int(i) for t in pseudo_label(dets, config, other) for i in t.ids} == {1, 2}


def test_stitching_needs_the_next_tracklet_where_the_first_was_heading() -> None:
    config = replace(NO_REID, max_age=3)
    dets, _ = _gap_scene(same_person=True)
    assert {int(i) for t in pseudo_label(dets, config) for i in t.ids} == {1}
    far = [Detections(d.xyxy + ([300, 0, 300, 0] if t >= 20 else 0), d.scores) for t, d in enumerate(dets)]
    assert {int(i) for t in pseudo_label(far, config) for i in t.ids} == {1, 2}


def test_reid_on_without_embeddings_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="embeddings"):
        pseudo_label(_walkers(3, [(0, 1)]), PseudoLabelConfig())


def test_validation_sources_are_refused_by_name_and_by_content(tmp_path: Path, monkeypatch) -> None:
    with pytest.raises(ValueError, match="validation"):
        check_not_validation(tmp_path / "intel-one-by-one-person-detection.mp4")
    with pytest.raises(ValueError, match="validation"):
        check_not_validation(tmp_path / "intel-one-by-one")
    copy = tmp_path / "renamed.mp4"
    copy.write_bytes(b"the validation clip's bytes")
    from model.core.weights import sha256_of

    monkeypatch.setitem(pseudo_labels.VALIDATION_SOURCES, "held-out.mp4", sha256_of(copy))
    with pytest.raises(ValueError, match="same bytes"):
        check_not_validation(copy)
    other = tmp_path / "other.mp4"
    other.write_bytes(b"another clip")
    check_not_validation(other)


@pytest.mark.shared
def test_validation_video_hash_is_the_real_files(videos_dir: Path) -> None:
    from model.core.weights import sha256_of

    clip = videos_dir / "intel-one-by-one-person-detection.mp4"
    if not clip.is_file():
        pytest.skip("the validation clip is not in the videos folder")
    assert sha256_of(clip) == pseudo_labels.VALIDATION_SOURCES[clip.name]


@pytest.mark.shared
def test_a_clip_becomes_a_sequence_that_loads_and_scores_itself_perfectly(videos_dir: Path, tmp_path: Path) -> None:
    import json

    from model.data.mot_io import read_gt
    from model.data.pseudo_sequence import pseudo_label_source
    from model.data.video import open_frames
    from model.evaluation.metrics import evaluate_sequence

    clip = videos_dir / "intel-preview-classroom.gif"
    if not clip.is_file():
        pytest.skip("intel-preview-classroom.gif is not in the videos folder")
    out = pseudo_label_source(clip, tmp_path / "classroom", progress=False)
    frames = open_frames(out)
    assert len(frames) == open_frames(clip).info.num_frames
    meta = json.loads((out / "pseudo_labels.json").read_text())
    assert meta["source_sha256"] and meta["reid"] == "person_reid_0287" and meta["tracks"] >= 1
    gt = read_gt(out)
    assert gt.benchmark == "MOT17"  # class and visibility columns: every row an evaluated pedestrian
    m = evaluate_sequence(out, out / "gt" / "gt.txt")
    assert (m.HOTA, m.gt_ids) == (100.0, meta["tracks"])
    with pytest.raises(FileExistsError):
        pseudo_label_source(clip, out, progress=False)


@pytest.mark.shared
def test_the_cli_refuses_the_validation_clip(videos_dir: Path, tmp_path: Path, capsys) -> None:
    from model.cli import main

    clip = videos_dir / "intel-one-by-one-person-detection.mp4"
    if not clip.is_file():
        pytest.skip("the validation clip is not in the videos folder")
    assert main(["pseudo-label", str(clip), "--output", str(tmp_path / "x"), "--quiet"]) == 2
    assert "validation" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()

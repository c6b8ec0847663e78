"""MOTChallenge I/O: parsing rules, exact rewrites, JSON shape, ground-truth flags, subsets."""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from model.data.mot_io import (
    MotTable,
    check_span,
    detect_benchmark,
    find_gt_file,
    read_gt,
    read_json,
    read_mot,
    read_mot_table,
    read_tracks,
    rows_to_tracks,
    sequence_length,
    tracks_to_rows,
    write_json,
    write_mot,
)
from model.core.types import Detections, Tracks
from tests.helpers import write_sequence_subset


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _tracks(xywh: list[list[float]], ids: list[int], scores: list[float]) -> Tracks:
    xywh_array = np.array(xywh, dtype=np.float32)
    xyxy = np.concatenate([xywh_array[:, :2], xywh_array[:, :2] + xywh_array[:, 2:]], axis=1)
    return Tracks(xyxy=xyxy, scores=scores, ids=ids)


# ---------------------------------------------------------------------------------------------
# reading and writing tracker output


def test_read_mot_groups_rows_per_frame_and_converts_to_corners(tmp_path: Path) -> None:
    text = "1,3,10,20,30,40,0.9,-1,-1,-1\n1,5,0,0,4,8,0.5,-1,-1,-1\n3,3,12,22,30,40,0.8,-1,-1,-1\n"
    path = _write(tmp_path / "t.txt", text)
    tracks = read_mot(path)
    assert sorted(tracks) == [1, 3]
    np.testing.assert_array_equal(tracks[1].ids, [3, 5])
    np.testing.assert_allclose(tracks[1].xyxy, [[10, 20, 40, 60], [0, 0, 4, 8]])
    np.testing.assert_allclose(tracks[1].scores, [0.9, 0.5])
    np.testing.assert_allclose(tracks[3].xyxy, [[12, 22, 42, 62]])


def test_write_mot_writes_the_motchallenge_line_format(tmp_path: Path) -> None:
    tracks = {2: _tracks([[10.5, 20.25, 30, 40], [1, 2, 3, 4]], ids=[7, 4], scores=[0.875, 1.0])}
    path = write_mot(tmp_path / "out.txt", tracks)
    # sorted by id within the frame; integers without decimals; -1 in the trailing columns
    assert path.read_text() == "2,4,1,2,3,4,1,-1,-1,-1\n2,7,10.5,20.25,30,40,0.875,-1,-1,-1\n"


def test_mot_roundtrip_preserves_frames_ids_boxes_scores(tmp_path: Path) -> None:
    original = {
        1: _tracks([[100.5, 50.25, 20, 40]], ids=[1], scores=[0.75]),
        4: _tracks([[0, 0, 10, 10], [5.5, 6.5, 7, 8]], ids=[1, 2], scores=[0.5, 0.25]),
    }
    back = read_mot(write_mot(tmp_path / "r.txt", original))
    assert sorted(back) == [1, 4]
    for frame in original:
        np.testing.assert_array_equal(back[frame].ids, original[frame].ids)
        np.testing.assert_allclose(back[frame].xyxy, original[frame].xyxy, atol=1e-3)
        np.testing.assert_allclose(back[frame].scores, original[frame].scores)


def test_write_mot_rejects_detections_without_ids(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="expected Tracks"):
        write_mot(tmp_path / "x.txt", {1: Detections(xyxy=[[0, 0, 1, 1]], scores=[1.0])})


def test_parser_tolerates_blank_lines_comments_trailing_commas_and_6_to_10_columns(tmp_path: Path) -> None:
    text = (
        "# a comment\n"
        "\n"
        "1,1,10,20,30,40\n"  # 6 columns: conf and the rest absent -> -1
        "1,2,10,20,30,40,0.5,\n"  # 7 columns + trailing comma
        "  2, 1, 11, 21, 30, 40, 1, 1, 0.5  \n"  # 9 columns (MOT17 gt) with spaces
        "3 1 12 22 30 40 1 -1 -1 -1\n"  # whitespace-separated
        "\n"
    )
    table = read_mot_table(_write(tmp_path / "m.txt", text))
    assert len(table) == 4
    assert table.num_columns == 10
    np.testing.assert_array_equal(table.frames, [1, 1, 2, 3])
    np.testing.assert_array_equal(table.values[0, 6:], [-1, -1, -1, -1])
    np.testing.assert_array_equal(table.values[1, 6], 0.5)
    np.testing.assert_array_equal(table.values[2, 6:9], [1, 1, 0.5])


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        ("1,1,10,20,30", "expected 6 to 10"),
        ("1,1,10,20,30,40,1,-1,-1,-1,7", "expected 6 to 10"),
        ("1,1,10,abc,30,40,1", "'abc' is not a number"),
        ("1,1,10,,30,40,1", "'' is not a number"),
        ("0,1,10,20,30,40,1", "frame must be a whole number >= 1"),
        ("1.5,1,10,20,30,40,1", "frame must be a whole number >= 1"),
        ("1,2.5,10,20,30,40,1", "id must be a whole number"),
        ("1,1,10,20,-3,40,1", "width and height must be >= 0"),
        ("1,1,10,20,nan,40,1", "not a finite number"),
    ],
)
def test_malformed_line_raises_value_error_with_its_line_number(
    tmp_path: Path, bad_line: str, message: str
) -> None:
    path = _write(tmp_path / "bad.txt", "1,1,10,20,30,40,1,-1,-1,-1\n\n" + bad_line + "\n")
    with pytest.raises(ValueError, match="line 3") as error:
        read_mot_table(path)
    assert message in str(error.value)


def test_missing_file_raises_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="check the path"):
        read_mot(tmp_path / "nope.txt")


def test_table_rewrite_reproduces_the_source_numbers_exactly(tmp_path: Path) -> None:
    text = "1,3,113.84,274.5,57.307,130.05,-1,-1,-1,-1\n2,3,116.37,265.2,62.858,142.64,-1,-1,-1,-1\n"
    table = read_mot_table(_write(tmp_path / "src.txt", text))
    assert table.write(tmp_path / "copy.txt").read_text() == text


def test_span_renumbers_so_first_becomes_frame_one() -> None:
    table = MotTable(np.array([[f, 1, 0, 0, 1, 1, 1, -1, -1, -1] for f in (4, 5, 6, 9)], dtype=float))
    span = table.span(5, 6, renumber=True)
    np.testing.assert_array_equal(span.frames, [1, 2])
    np.testing.assert_array_equal(table.span(5, 9).frames, [5, 6, 9])


# ---------------------------------------------------------------------------------------------
# rows and JSON


def test_tracks_to_rows_gives_frame_id_xywh_score_as_plain_numbers() -> None:
    tracks = {3: _tracks([[10, 20, 30, 40]], ids=[9], scores=[0.5])}
    rows = tracks_to_rows(tracks)
    assert rows == [[3, 9, 10.0, 20.0, 30.0, 40.0, 0.5]]
    assert all(type(v) in (int, float) for v in rows[0])
    json.dumps(rows)  # must be serialisable as-is


def test_json_has_columns_and_rows_and_roundtrips(tmp_path: Path) -> None:
    tracks = {
        1: _tracks([[1, 2, 3, 4], [5, 6, 7, 8]], ids=[2, 1], scores=[0.25, 0.5]),
        2: _tracks([[1.5, 2.5, 3, 4]], ids=[2], scores=[1.0]),
    }
    path = write_json(tmp_path / "t.json", tracks)
    payload = json.loads(path.read_text())
    assert payload["columns"] == ["frame", "id", "x", "y", "w", "h", "score"]
    assert payload["rows"] == [
        [1, 1, 5.0, 6.0, 7.0, 8.0, 0.5],
        [1, 2, 1.0, 2.0, 3.0, 4.0, 0.25],
        [2, 2, 1.5, 2.5, 3.0, 4.0, 1.0],
    ]
    back = read_json(path)
    np.testing.assert_array_equal(back[1].ids, [1, 2])
    np.testing.assert_allclose(back[2].xyxy, [[1.5, 2.5, 4.5, 6.5]])
    assert read_tracks(path).keys() == back.keys()


def test_read_json_accepts_a_bare_list_and_rejects_bad_rows(tmp_path: Path) -> None:
    bare = _write(tmp_path / "bare.json", "[[1, 4, 0, 0, 2, 2, 0.5]]")
    np.testing.assert_array_equal(read_json(bare)[1].ids, [4])
    with pytest.raises(ValueError, match="row 1"):
        rows_to_tracks([[1, 4, 0, 0, 2, 2, 0.5], [1, 4, 0, 0, 2]])
    with pytest.raises(ValueError, match="row 0"):
        rows_to_tracks([[0, 4, 0, 0, 2, 2, 0.5]])
    with pytest.raises(ValueError, match="not valid JSON"):
        read_json(_write(tmp_path / "broken.json", "{rows: "))


# ---------------------------------------------------------------------------------------------
# ground truth


def _table(rows: list[list[float]]) -> MotTable:
    width = len(rows[0])
    padded = [r + [-1] * (10 - len(r)) for r in rows]
    return MotTable(np.array(padded, dtype=float), width)


def test_detect_benchmark_tells_mot15_from_mot17_columns() -> None:
    mot15_minus_one = _table([[1, 1, 0, 0, 5, 5, 1, -1, -1, -1]])
    mot15_world_coordinates = _table([[1, 1, 0, 0, 5, 5, 1, 4.4852, 5.5016, 0]])  # TUD / PETS09 style
    mot17 = _table([[1, 1, 0, 0, 5, 5, 1, 1, 0.86], [1, 2, 0, 0, 5, 5, 0, 7, 1.0]])
    assert detect_benchmark(mot15_minus_one) == "MOT15"
    assert detect_benchmark(mot15_world_coordinates) == "MOT15"
    assert detect_benchmark(_table([[1, 1, 0, 0, 5, 5]])) == "MOT15"
    assert detect_benchmark(mot17) == "MOT17"
    assert detect_benchmark(mot17, "MOT20-01") == "MOT20"


def _make_sequence(root: Path, gt_text: str, length: int, images: bool = False) -> Path:
    _write(root / "gt" / "gt.txt", gt_text)
    info = f"name={root.name}\nimDir=img1\nframeRate=10\nseqLength={length}\n"
    info += "imWidth=8\nimHeight=8\nimExt=.png\n"
    _write(root / "seqinfo.ini", "[Sequence]\n" + info)
    if images:
        (root / "img1").mkdir()
        for number in range(1, length + 1):
            cv2.imwrite(str(root / "img1" / f"{number:06d}.png"), np.full((8, 8, 3), number, dtype=np.uint8))
    return root


MOT17_GT = (
    "1,1,0,0,10,10,1,1,1.0\n"  # pedestrian, counted
    "1,2,20,0,10,10,1,7,1.0\n"  # static person: distractor
    "1,3,40,0,10,10,0,1,0.5\n"  # pedestrian marked ignore (conf 0)
    "1,4,60,0,10,10,0,3,1.0\n"  # car: neither counted nor a distractor
    "3,1,2,0,10,10,1,1,0.25\n"
)


def test_read_gt_mot17_flags_pedestrians_and_distractors(tmp_path: Path) -> None:
    gt = read_gt(_make_sequence(tmp_path / "MOT17-XX", MOT17_GT, length=3))
    assert gt.benchmark == "MOT17"
    assert (gt.first, gt.last, gt.num_frames) == (1, 3, 3)
    assert sorted(gt.boxes) == [1, 2, 3]  # frame 2 has no rows but is present
    assert len(gt.boxes[2]) == 0
    np.testing.assert_array_equal(gt.boxes[1].ids, [1, 2, 3, 4])
    np.testing.assert_array_equal(gt.classes[1], [1, 7, 1, 3])
    np.testing.assert_array_equal(gt.visibility[1], [1.0, 1.0, 0.5, 1.0])
    np.testing.assert_array_equal(gt.evaluated[1], [True, False, False, False])
    np.testing.assert_array_equal(gt.distractor[1], [False, True, False, False])
    np.testing.assert_array_equal(gt.pedestrians(1).ids, [1])
    np.testing.assert_allclose(gt.pedestrians(3).xyxy, [[2, 0, 12, 10]])
    np.testing.assert_array_equal(gt.ids, [1])


def test_read_gt_mot15_counts_every_marked_row_and_ignores_class_columns(tmp_path: Path) -> None:
    text = "1,1,0,0,10,10,1,4.48,5.50,0\n1,2,20,0,10,10,0,3.1,2.2,0\n2,2,20,0,10,10,1,-1,-1,-1\n"
    gt = read_gt(_make_sequence(tmp_path / "PETS-like", text, length=2))
    assert gt.benchmark == "MOT15"
    np.testing.assert_array_equal(gt.evaluated[1], [True, False])  # conf 0 is still 'ignore'
    np.testing.assert_array_equal(gt.classes[1], [-1, -1])
    assert not gt.distractor[1].any()
    np.testing.assert_array_equal(gt.ids, [1, 2])


def test_read_gt_span_and_forced_benchmark(tmp_path: Path) -> None:
    seq = _make_sequence(tmp_path / "MOT17-YY", MOT17_GT, length=3)
    gt = read_gt(seq, first=2, last=3, benchmark="MOT15")
    assert sorted(gt.boxes) == [2, 3]
    np.testing.assert_array_equal(gt.evaluated[3], [True])
    with pytest.raises(ValueError, match="unknown benchmark"):
        read_gt(seq, benchmark="KITTI")


def test_check_span_messages() -> None:
    assert check_span(1, None, 10) == (1, 10)
    with pytest.raises(ValueError, match="first frame must be >= 1"):
        check_span(0, 5, 10)
    with pytest.raises(ValueError, match="before first frame"):
        check_span(6, 5, 10)
    with pytest.raises(ValueError, match="past the end"):
        check_span(1, 11, 10)


def test_flat_layout_without_seqinfo_is_understood(tmp_path: Path) -> None:
    flat = tmp_path / "flat"
    _write(flat / "gt.txt", "1,1,0,0,5,5,1,-1,-1,-1\n7,1,0,0,5,5,1,-1,-1,-1\n")
    assert find_gt_file(flat) == flat / "gt.txt"
    assert sequence_length(flat) == 7
    with pytest.raises(FileNotFoundError, match="gt/gt.txt"):
        find_gt_file(tmp_path)


# ---------------------------------------------------------------------------------------------
# sequence subsets


def test_write_sequence_subset_renumbers_gt_det_and_links_frames(tmp_path: Path) -> None:
    gt_text = "".join(f"{f},1,{f},0,10,10,1,-1,-1,-1\n" for f in range(1, 6))
    seq = _make_sequence(tmp_path / "src", gt_text, length=5, images=True)
    det_text = "2,-1,1,1,4,4,0.9,-1,-1,-1\n4,-1,2,2,4,4,0.8,-1,-1,-1\n5,-1,3,3,4,4,0.7,-1,-1,-1\n"
    _write(seq / "det" / "det.txt", det_text)
    out = write_sequence_subset(seq, tmp_path / "sub", first=2, last=4)

    assert "seqLength=3" in (out / "seqinfo.ini").read_text()
    assert (out / "gt" / "gt.txt").read_text() == (
        "1,1,2,0,10,10,1,-1,-1,-1\n2,1,3,0,10,10,1,-1,-1,-1\n3,1,4,0,10,10,1,-1,-1,-1\n"
    )
    assert (out / "det" / "det.txt").read_text() == "1,-1,1,1,4,4,0.9,-1,-1,-1\n3,-1,2,2,4,4,0.8,-1,-1,-1\n"
    links = sorted((out / "img1").iterdir())
    assert [p.name for p in links] == ["000001.png", "000002.png", "000003.png"]
    assert all(p.is_symlink() for p in links)
    assert os.path.realpath(links[0]) == str((seq / "img1" / "000002.png").resolve())
    assert int(cv2.imread(str(links[2]))[0, 0, 0]) == 4  # the pixel value we wrote into frame 4
    assert sequence_length(out) == 3


def test_write_sequence_subset_refuses_a_non_empty_folder_and_missing_images(tmp_path: Path) -> None:
    seq = _make_sequence(tmp_path / "src", "1,1,0,0,5,5,1,-1,-1,-1\n", length=2)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "keep.txt").write_text("x")
    with pytest.raises(FileExistsError, match="not empty"):
        write_sequence_subset(seq, tmp_path / "busy", 1, 2)
    with pytest.raises(FileNotFoundError, match="link_images=False"):
        write_sequence_subset(seq, tmp_path / "new", 1, 2)
    out = write_sequence_subset(seq, tmp_path / "gt_only", 1, 2, link_images=False)
    assert not (out / "img1").exists()


# ---------------------------------------------------------------------------------------------
# real data


@pytest.mark.shared
def test_real_pets_gt_is_mot15_with_19_identities(pets_dir: Path) -> None:
    gt = read_gt(pets_dir)
    assert gt.benchmark == "MOT15"
    assert gt.num_frames == 795
    assert len(gt.ids) == 19  # the README's count; every id has at least one marked row
    assert sum(len(b) for b in gt.boxes.values()) == 4650  # `wc -l gt.txt`


@pytest.mark.shared
def test_real_mot17_mini_gt_flags_match_a_column_count(mot_dir: Path) -> None:
    seq = mot_dir / "MOT17-04-FRCNN-mini"
    if not seq.is_dir():
        pytest.skip("MOT17-04-FRCNN-mini not in the data folder")
    gt = read_gt(seq)
    assert gt.benchmark == "MOT17"
    assert gt.num_frames == 8
    # awk -F, '$7==1 && $8==1' gt.txt | wc -l  -> 336 rows over 42 ids
    assert sum(int(m.sum()) for m in gt.evaluated.values()) == 336
    assert len(gt.ids) == 42


@pytest.mark.shared
def test_real_pets_subset_501_to_795(pets_dir: Path, tmp_path: Path) -> None:
    out = write_sequence_subset(pets_dir, tmp_path / "PETS09-S2L1-501-795", 501, 795)
    table = read_mot_table(out / "gt" / "gt.txt")
    assert sequence_length(out) == 295
    assert (table.frames.min(), table.frames.max()) == (1, 295)
    assert len(table) == 1938  # awk -F, '$1>=501' gt.txt | wc -l
    assert len(read_mot_table(out / "det" / "det.txt")) == 1799
    links = sorted((out / "img1").iterdir())
    assert len(links) == 295
    assert Path(os.path.realpath(links[0])).name == "000501.jpg"
    assert Path(os.path.realpath(links[-1])).name == "000795.jpg"

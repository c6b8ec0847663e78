"""Evaluation through TrackEval: hand-computed toy cases, error messages, the CLI, real references.

Toy sequences use 10x10 boxes far apart, so every IoU is 1 (identical), 0 (disjoint) or a value
written out in the test; the expected metrics follow from the definitions:
MOTA = 1 - (FN + FP + IDSW) / GT, IDF1 = 2 IDTP / (2 IDTP + IDFP + IDFN),
HOTA_alpha = sqrt(DetA_alpha * AssA_alpha) averaged over alpha = 0.05, 0.10, ..., 0.95.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from model.evaluation.metrics import COMBINED, SequenceJob, TrackMetrics, evaluate_many, evaluate_sequence
from model.cli import main as cli_main
from model.data.mot_io import read_gt, write_json
from tests.helpers import write_sequence_subset
from model.core.types import Detections, Tracks


def _sequence(root: Path, gt_rows: list[str], length: int) -> Path:
    (root / "gt").mkdir(parents=True)
    (root / "gt" / "gt.txt").write_text("".join(row + "\n" for row in gt_rows))
    (root / "seqinfo.ini").write_text(f"[Sequence]\nname={root.name}\nseqLength={length}\n")
    return root


def _pred(path: Path, rows: list[str]) -> Path:
    path.write_text("".join(row + "\n" for row in rows))
    return path


def _box(frame: int, identity: int, x: float, conf: str = "1,-1,-1,-1", w: float = 10, h: float = 10) -> str:
    return f"{frame},{identity},{x},0,{w},{h},{conf}"


# One person walking right over N frames: the ground truth used by most toy cases.
def _walker(n: int) -> list[str]:
    return [_box(f, 1, 10 * f) for f in range(1, n + 1)]


# ---------------------------------------------------------------------------------------------
# hand-computed toy cases


def test_perfect_prediction_scores_100_everywhere(tmp_path: Path) -> None:
    gt_rows = _walker(3) + [_box(f, 2, 200) for f in range(1, 4)]
    seq = _sequence(tmp_path / "perfect", gt_rows, length=3)
    m = evaluate_sequence(seq, _pred(tmp_path / "p.txt", gt_rows))
    assert (m.HOTA, m.DetA, m.AssA, m.MOTA, m.IDF1, m.MOTP) == (100.0, 100.0, 100.0, 100.0, 100.0, 100.0)
    assert (m.IDSW, m.FP, m.FN, m.TP) == (0, 0, 0, 6)
    assert (m.gt_ids, m.pred_ids, m.gt_dets, m.pred_dets, m.frames) == (2, 2, 6, 6, 3)
    assert m.benchmark == "MOT15" and m.sequence == "perfect"


def test_one_missed_box_out_of_five(tmp_path: Path) -> None:
    seq = _sequence(tmp_path / "miss", _walker(5), length=5)
    pred = [row for row in _walker(5) if not row.startswith("3,")]
    m = evaluate_sequence(seq, _pred(tmp_path / "p.txt", pred))
    assert m.FN == 1 and m.FP == 0 and m.IDSW == 0
    assert m.MOTA == pytest.approx(100 * 4 / 5, abs=1e-9)  # (N-1)/N
    assert m.IDF1 == pytest.approx(100 * 8 / 9, abs=1e-9)  # IDTP 4, IDFN 1: 8 / (8 + 1)
    # every alpha: DetA = 4/(4+1), AssA = TPA/(TPA+FNA+FPA) = 4/(4+1+0) -> HOTA = sqrt(0.8 * 0.8)
    assert m.DetA == pytest.approx(80.0, abs=1e-9)
    assert m.AssA == pytest.approx(80.0, abs=1e-9)
    assert m.HOTA == pytest.approx(80.0, abs=1e-9)


def test_one_identity_switch(tmp_path: Path) -> None:
    seq = _sequence(tmp_path / "switch", _walker(4), length=4)
    pred = [_box(1, 1, 10), _box(2, 1, 20), _box(3, 2, 30), _box(4, 2, 40)]
    m = evaluate_sequence(seq, _pred(tmp_path / "p.txt", pred))
    assert m.IDSW == 1 and m.FP == 0 and m.FN == 0
    assert m.MOTA == pytest.approx(100 * (4 - 1) / 4, abs=1e-9)
    assert m.IDF1 == pytest.approx(100 * 4 / (4 + 2 + 2), abs=1e-9)  # IDTP 2, IDFP 2, IDFN 2
    # DetA 1; each matched pair has TPA 2, FNA 2, FPA 0 -> AssA = 0.5, HOTA = sqrt(0.5)
    assert m.DetA == pytest.approx(100.0, abs=1e-9)
    assert m.AssA == pytest.approx(50.0, abs=1e-9)
    assert m.HOTA == pytest.approx(100 * math.sqrt(0.5), abs=1e-9)
    assert (m.gt_ids, m.pred_ids) == (1, 2)


def test_one_false_positive(tmp_path: Path) -> None:
    seq = _sequence(tmp_path / "fp", _walker(4), length=4)
    pred = _walker(4) + [_box(2, 9, 500)]
    m = evaluate_sequence(seq, _pred(tmp_path / "p.txt", pred))
    assert (m.FP, m.FN, m.IDSW) == (1, 0, 0)
    assert m.MOTA == pytest.approx(75.0, abs=1e-9)  # 1 - 1/4
    assert m.IDF1 == pytest.approx(100 * 8 / 9, abs=1e-9)  # IDTP 4, IDFP 1
    # DetA = 4 / (4 + 1); the true track is associated perfectly (AssA 1)
    assert m.HOTA == pytest.approx(100 * math.sqrt(0.8), abs=1e-9)
    assert m.Precision == pytest.approx(80.0, abs=1e-9)


def test_partial_overlap_sets_motp_and_the_alphas_it_passes(tmp_path: Path) -> None:
    seq = _sequence(tmp_path / "iou", [_box(1, 1, 0)], length=1)
    pred = _pred(tmp_path / "p.txt", [_box(1, 1, 0, w=9, h=9)])  # 9x9 inside 10x10: IoU = 81/100
    m = evaluate_sequence(seq, pred)
    assert m.MOTP == pytest.approx(81.0, abs=1e-9)
    assert m.MOTA == 100.0
    # matched for alpha = 0.05..0.80 (16 of 19 thresholds), nothing matched at 0.85, 0.90, 0.95
    assert m.HOTA == pytest.approx(100 * 16 / 19, abs=1e-9)
    assert m.DetA == pytest.approx(100 * 16 / 19, abs=1e-9)


def test_empty_prediction_misses_everything(tmp_path: Path) -> None:
    seq = _sequence(tmp_path / "empty", _walker(3), length=3)
    m = evaluate_sequence(seq, _pred(tmp_path / "p.txt", []))
    assert (m.MOTA, m.HOTA, m.IDF1) == (0.0, 0.0, 0.0)
    assert (m.FN, m.TP, m.pred_ids) == (3, 0, 0)


# Two frames; per frame: a pedestrian (id 1), a static person (class 7, distractor) and a
# pedestrian marked 'ignore' (conf 0). The prediction boxes all three.
MOT17_ROWS = [
    row for f in (1, 2) for row in (
        _box(f, 1, 0, conf="1,1,1.0"),
        _box(f, 2, 100, conf="1,7,1.0"),
        _box(f, 3, 200, conf="0,1,0.5"),
    )
]
PRED_ALL_THREE = [_box(f, i, x) for f in (1, 2) for i, x in ((1, 0), (2, 100), (3, 200))]


def test_mot17_preprocessing_drops_distractor_matches_but_not_ignored_pedestrians(tmp_path: Path) -> None:
    seq = _sequence(tmp_path / "MOT17-toy", MOT17_ROWS, length=2)
    m = evaluate_sequence(seq, _pred(tmp_path / "p.txt", PRED_ALL_THREE))
    assert m.benchmark == "MOT17"  # detected from the class/visibility columns
    # counted gt: id 1 in 2 frames. pred id 2 sits on a distractor -> removed; pred id 3 on a
    # conf-0 pedestrian -> kept and unmatched -> 2 FP. MOTA = 1 - 2/2 = 0.
    assert (m.gt_dets, m.pred_dets, m.TP, m.FP, m.FN) == (2, 4, 2, 2, 0)
    assert m.MOTA == pytest.approx(0.0, abs=1e-9)


def test_mot15_rules_count_every_marked_row_regardless_of_class(tmp_path: Path) -> None:
    seq = _sequence(tmp_path / "MOT17-toy", MOT17_ROWS, length=2)
    m = evaluate_sequence(seq, _pred(tmp_path / "p.txt", PRED_ALL_THREE), benchmark="MOT15")
    # counted gt: ids 1 and 2 (conf 1) in 2 frames = 4; pred id 3 is an FP in both frames.
    assert (m.gt_dets, m.TP, m.FP, m.FN) == (4, 4, 2, 0)
    assert m.MOTA == pytest.approx(50.0, abs=1e-9)  # 1 - 2/4


def test_ground_truth_pedestrians_as_prediction_score_100_under_mot17_rules(tmp_path: Path) -> None:
    seq = _sequence(tmp_path / "MOT17-toy", MOT17_ROWS, length=2)
    gt = read_gt(seq)
    m = evaluate_sequence(seq, {f: gt.pedestrians(f) for f in gt.boxes})
    assert (m.MOTA, m.HOTA, m.IDF1) == (100.0, 100.0, 100.0)


def test_dict_json_and_text_predictions_agree(tmp_path: Path) -> None:
    seq = _sequence(tmp_path / "forms", _walker(4), length=4)
    pred_rows = [_box(1, 1, 10), _box(2, 1, 20), _box(3, 2, 30)]
    from_text = evaluate_sequence(seq, _pred(tmp_path / "p.txt", pred_rows))
    as_dict = {
        f: Tracks(xyxy=[[10 * f, 0, 10 * f + 10, 10]], scores=[1.0], ids=[1 if f < 3 else 2])
        for f in (1, 2, 3)
    }
    from_dict = evaluate_sequence(seq, as_dict)
    from_json = evaluate_sequence(seq, write_json(tmp_path / "p.json", as_dict))
    assert from_text == from_dict == from_json
    assert from_text.MOTA == pytest.approx(50.0, abs=1e-9)  # FN 1, IDSW 1 over 4


def test_frame_span_scores_only_that_span(tmp_path: Path) -> None:
    seq = _sequence(tmp_path / "span", _walker(6), length=6)
    # correct in frames 3..5, wrong place elsewhere
    pred = [_box(f, 1, 10 * f if 3 <= f <= 5 else 999) for f in range(1, 7)]
    m = evaluate_sequence(seq, _pred(tmp_path / "p.txt", pred), first=3, last=5)
    assert (m.MOTA, m.HOTA, m.frames, m.gt_dets) == (100.0, 100.0, 3, 3)
    whole = evaluate_sequence(seq, _pred(tmp_path / "p.txt", pred))
    assert (whole.FP, whole.FN) == (3, 3)


def test_evaluate_many_combines_by_summing_counts(tmp_path: Path) -> None:
    a = _sequence(tmp_path / "a", _walker(4), length=4)
    b = _sequence(tmp_path / "b", _walker(4), length=4)
    perfect, nothing = _pred(tmp_path / "pa.txt", _walker(4)), _pred(tmp_path / "pb.txt", [])
    results = evaluate_many([(a, perfect), SequenceJob(b, nothing)])
    assert list(results) == ["a", "b", COMBINED]
    assert results["a"].MOTA == 100.0 and results["b"].MOTA == 0.0
    combined = results[COMBINED]
    assert (combined.TP, combined.FN, combined.gt_dets, combined.frames) == (4, 4, 8, 8)
    assert combined.MOTA == pytest.approx(50.0, abs=1e-9)  # 1 - 4/8, not a mean of per-sequence MOTA
    assert combined.IDF1 == pytest.approx(100 * 8 / 12, abs=1e-9)  # IDTP 4, IDFN 4


def test_evaluate_many_keeps_repeated_sequences_apart(tmp_path: Path) -> None:
    a = _sequence(tmp_path / "a", _walker(2), length=2)
    pred = _pred(tmp_path / "p.txt", _walker(2))
    assert list(evaluate_many([(a, pred), (a, pred)])) == ["a", "a#2", COMBINED]
    with pytest.raises(ValueError, match="at least one"):
        evaluate_many([])


def test_as_dict_rounds_only_percentages() -> None:
    m = TrackMetrics(*([12.3456] * 15), *([3] * 13), sequence="s", benchmark="MOT15")
    d = m.as_dict(decimals=1)
    assert d["HOTA"] == 12.3 and d["IDSW"] == 3 and d["sequence"] == "s"
    assert m.as_dict()["HOTA"] == 12.3456


# ---------------------------------------------------------------------------------------------
# errors a user can cause


def test_duplicate_id_in_a_frame_is_a_clear_error(tmp_path: Path) -> None:
    seq = _sequence(tmp_path / "dup", _walker(2), length=2)
    with pytest.raises(ValueError, match="id 1 twice in frame 2"):
        evaluate_sequence(seq, _pred(tmp_path / "p.txt", [_box(1, 1, 10), _box(2, 1, 20), _box(2, 1, 90)]))


def test_negative_ids_are_rejected(tmp_path: Path) -> None:
    seq = _sequence(tmp_path / "neg", _walker(2), length=2)
    with pytest.raises(ValueError, match="negative ids"):
        evaluate_sequence(seq, _pred(tmp_path / "p.txt", [_box(1, -1, 10)]))


def test_prediction_past_the_sequence_end_is_a_clear_error(tmp_path: Path) -> None:
    seq = _sequence(tmp_path / "end", _walker(2), length=2)
    with pytest.raises(ValueError, match="frames up to 5 but the sequence has 2"):
        evaluate_sequence(seq, _pred(tmp_path / "p.txt", [_box(5, 1, 10)]))


def test_missing_inputs_and_bad_arguments(tmp_path: Path) -> None:
    seq = _sequence(tmp_path / "ok", _walker(2), length=2)
    with pytest.raises(FileNotFoundError, match="no sequence folder"):
        evaluate_sequence(tmp_path / "nowhere", _pred(tmp_path / "p.txt", []))
    with pytest.raises(FileNotFoundError, match="no MOTChallenge file"):
        evaluate_sequence(seq, tmp_path / "missing.txt")
    with pytest.raises(ValueError, match="unknown benchmark"):
        evaluate_sequence(seq, _pred(tmp_path / "p.txt", []), benchmark="KITTI")
    with pytest.raises(ValueError, match="expected Tracks"):
        evaluate_sequence(seq, {1: Detections(xyxy=[[0, 0, 1, 1]], scores=[1.0])})


# ---------------------------------------------------------------------------------------------
# CLI


def test_cli_prints_json_metrics(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seq = _sequence(tmp_path / "cli", _walker(5), length=5)
    pred = _pred(tmp_path / "p.txt", _walker(5)[:4])
    assert cli_main(["evaluate", "--gt", str(seq), "--pred", str(pred)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["MOTA"] == 80.0 and out["IDSW"] == 0 and out["FN"] == 1
    assert {"HOTA", "DetA", "AssA", "IDF1", "MOTP"} <= out.keys()


def test_cli_several_sequences_include_combined(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = _sequence(tmp_path / "a", _walker(2), length=2)
    b = _sequence(tmp_path / "b", _walker(2), length=2)
    pa, pb = _pred(tmp_path / "pa.txt", _walker(2)), _pred(tmp_path / "pb.txt", [])
    assert cli_main(["evaluate", "--gt", str(a), str(b), "--pred", str(pa), str(pb), "--decimals", "2"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert list(out) == ["a", "b", "COMBINED"]
    assert out["COMBINED"]["MOTA"] == 50.0


def test_cli_missing_file_exits_2_with_a_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seq = _sequence(tmp_path / "cli", _walker(2), length=2)
    assert cli_main(["evaluate", "--gt", str(seq), "--pred", str(tmp_path / "none.txt")]) == 2
    assert "no MOTChallenge file" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        cli_main(["evaluate", "--gt", str(seq), str(seq), "--pred", str(tmp_path / "none.txt")])
    assert exit_info.value.code == 2


# ---------------------------------------------------------------------------------------------
# real data: py-motmetrics' reference values (test_metrics.py.ref, test_motchallenge_files)

# idf1, idp, idr, recall, precision, unique objects, MT, PT, ML, FP, FN, IDSW, Frag, MOTA, MOTP (a distance):
# mm.metrics.motchallenge_metrics[:15], in that order
MOTMETRICS_REFERENCE = {
    "TUD-Campus":
        (0.557659, 0.729730, 0.451253, 0.582173, 0.941441, 8, 1, 6, 1, 13, 150, 7, 7, 0.526462, 0.277201),
    "TUD-Stadtmitte":
        (0.644619, 0.819760, 0.531142, 0.608997, 0.939920, 10, 5, 4, 1, 45, 452, 7, 6, 0.564014, 0.345904),
    COMBINED:
        (0.624296, 0.799176, 0.512211, 0.602640, 0.940268, 18, 6, 10, 2, 58, 602, 14, 13, 0.555116, 0.330177),
}


def _assert_matches_motmetrics(m: TrackMetrics, name: str) -> None:
    idf1, idp, idr, recall, precision, *counts, mota, motp_distance = MOTMETRICS_REFERENCE[name]
    tolerance = 1e-4  # in percent: the reference is printed to 6 decimals of a fraction
    assert m.MOTA == pytest.approx(100 * mota, abs=tolerance)
    assert m.IDF1 == pytest.approx(100 * idf1, abs=tolerance)
    assert m.IDP == pytest.approx(100 * idp, abs=tolerance)
    assert m.IDR == pytest.approx(100 * idr, abs=tolerance)
    assert m.Recall == pytest.approx(100 * recall, abs=tolerance)
    assert m.Precision == pytest.approx(100 * precision, abs=tolerance)
    # py-motmetrics' MOTP is the mean IoU *distance* of matches; TrackEval's is the mean IoU
    assert m.MOTP == pytest.approx(100 * (1 - motp_distance), abs=tolerance)
    assert [m.gt_ids, m.MT, m.PT, m.ML, m.FP, m.FN, m.IDSW, m.Frag] == counts


@pytest.fixture(scope="module")
def tud_reference(mot_dir: Path) -> Path:
    folder = mot_dir / "motmetrics-TUD"
    if not (folder / "TUD-Campus" / "test.txt").is_file():
        pytest.skip("motmetrics-TUD reference not in the data folder")
    return folder


@pytest.mark.shared
@pytest.mark.parametrize("name", ["TUD-Campus", "TUD-Stadtmitte"])
def test_real_tud_matches_py_motmetrics(tud_reference: Path, name: str) -> None:
    m = evaluate_sequence(tud_reference / name, tud_reference / name / "test.txt")
    assert m.benchmark == "MOT15"  # columns 8-10 are -1 (Campus) or world coordinates (Stadtmitte)
    _assert_matches_motmetrics(m, name)


@pytest.mark.shared
def test_real_tud_combined_matches_py_motmetrics_overall(tud_reference: Path) -> None:
    names = ("TUD-Campus", "TUD-Stadtmitte")
    results = evaluate_many([(tud_reference / n, tud_reference / n / "test.txt") for n in names])
    _assert_matches_motmetrics(results[COMBINED], COMBINED)


@pytest.mark.shared
def test_real_pets_split_501_795_against_itself_is_perfect(pets_dir: Path, tmp_path: Path) -> None:
    subset = write_sequence_subset(pets_dir, tmp_path / "PETS09-S2L1-val", 501, 795)
    on_subset = evaluate_sequence(subset, subset / "gt" / "gt.txt")
    in_place = evaluate_sequence(pets_dir, pets_dir / "gt" / "gt.txt", first=501, last=795)
    for m in (on_subset, in_place):
        assert (m.HOTA, m.MOTA, m.IDF1) == (100.0, 100.0, 100.0)
        assert (m.frames, m.gt_dets, m.gt_ids, m.benchmark) == (295, 1938, 11, "MOT15")


@pytest.mark.shared
def test_real_mot17_mini_pedestrians_against_gt_is_perfect(mot_dir: Path) -> None:
    seq = mot_dir / "MOT17-04-FRCNN-mini"
    if not seq.is_dir():
        pytest.skip("MOT17-04-FRCNN-mini not in the data folder")
    gt = read_gt(seq)
    m = evaluate_sequence(seq, {f: gt.pedestrians(f) for f in gt.boxes})
    assert m.benchmark == "MOT17"
    assert (m.HOTA, m.MOTA, m.IDF1) == (100.0, 100.0, 100.0)
    assert m.gt_dets == 336  # conf 1 and class 1 rows
    assert np.isclose(m.MOTP, 100.0)


def test_predictions_of_another_clip_are_refused_whatever_span_is_scored(tmp_path: Path) -> None:
    """Tracks of a longer clip, or boxes outside the image, cannot belong to this sequence: a clear error,
    not a nonsense score (the README once scored an Intel clip's tracks against PETS09)."""
    seq = _sequence(tmp_path / "seq", _walker(5), length=5)
    (seq / "seqinfo.ini").write_text("[Sequence]\nname=seq\nseqLength=5\nimWidth=100\nimHeight=50\n")
    longer = _pred(tmp_path / "longer.txt", [_box(f, 1, 10) for f in range(1, 9)])
    with pytest.raises(ValueError, match="frames up to 8 but the sequence has 5"):
        evaluate_sequence(seq, longer, first=2, last=4)
    outside = _pred(tmp_path / "outside.txt", [_box(1, 1, 10), _box(2, 1, 150)])
    with pytest.raises(ValueError, match=r"1 boxes wholly outside seq's 100x50 image \(the first at frame 2"):
        evaluate_sequence(seq, outside)
    inside = _pred(tmp_path / "inside.txt", [_box(f, 1, 10 * f) for f in range(1, 6)])
    assert evaluate_sequence(seq, inside).MOTA == 100.0


# ------------------------------------------------------------------------------------ agreement (ours)


def test_agreement_scores_one_run_against_another_with_hand_computed_values() -> None:
    from model.evaluation.agreement import agreement

    def frame(*boxes: tuple[int, list[float]]) -> Tracks:
        return Tracks(xyxy=np.array([b for _, b in boxes], np.float32).reshape(-1, 4),
                      scores=np.full(len(boxes), 0.9, np.float32), ids=np.array([i for i, _ in boxes], np.int64))

    clean = {1: frame((1, [10, 10, 50, 90])), 2: frame((1, [12, 10, 52, 90]))}
    assert agreement(clean, clean, 2, 100, 100).HOTA == pytest.approx(100.0)
    # Frame 2 lost: DetA = 1 TP / (1 TP + 1 FN) = 1/2; AssA of the one match = 1 / (1 + 1 FNA) = 1/2 -> HOTA 50.
    lost = {1: clean[1], 2: frame()}
    score = agreement(clean, lost, 2, 100, 100)
    assert (score.HOTA, score.DetA, score.AssA, score.MOTA) == pytest.approx((50.0, 50.0, 50.0, 50.0))
    # The same boxes under a new id from frame 2: every box detected, one identity switch.
    switched = {1: clean[1], 2: frame((7, [12, 10, 52, 90]))}
    score = agreement(clean, switched, 2, 100, 100)
    assert score.DetA == pytest.approx(100.0) and score.IDSW == 1 and score.AssA == pytest.approx(50.0)
    assert agreement({1: frame()}, clean, 2, 100, 100) is None  # nothing to agree with

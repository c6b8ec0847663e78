"""Our in-memory metrics against TrackEval itself (a dev requirement): every raw field, every case.

TrackEval runs the way the MOTChallenge server runs it: the sequence written as a MOTChallenge
layout, ``MotChallenge2DBox`` loading and preprocessing it, HOTA/CLEAR/Identity/Count on the
result and ``combine_sequences`` across sequences. Ours must give the same numbers to the float
(1e-12) on real sequences with perturbed predictions, on randomised sequences built to hit the
corner cases (distractor classes, zero-marked rows, frames without gt or without predictions,
crowded overlapping boxes, empty predictions), and under MOT15, MOT17 and MOT20 rules.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np
import pytest

from model.data.mot_io import MotTable, find_gt_file, read_mot_table
from model.evaluation import clear, hota, identity
from model.evaluation.metrics import _as_tracker_file, _evaluate_data
from model.evaluation.sequence_data import prepare_sequence

trackeval = pytest.importorskip("trackeval", reason="TrackEval is the oracle (requirements-dev.txt)")

FIELDS = {
    "HOTA": ("HOTA_TP", "HOTA_FN", "HOTA_FP", "AssA", "AssRe", "AssPr", "LocA", "DetA", "DetRe", "DetPr", "HOTA"),
    "CLEAR": ("CLR_TP", "CLR_FN", "CLR_FP", "IDSW", "MT", "PT", "ML", "Frag", "MOTP_sum", "MOTA", "MOTP",
              "CLR_Re", "CLR_Pr", "CLR_Frames"),
    "Identity": ("IDTP", "IDFN", "IDFP", "IDF1", "IDP", "IDR"),
    "Count": ("Dets", "GT_Dets", "IDs", "GT_IDs"),
}


def _trackeval_raw(root: Path, gt: MotTable, pred: MotTable, num_frames: int, benchmark: str, seq: str) -> dict:
    gt.write(root / "gt" / seq / "gt" / "gt.txt")
    _as_tracker_file(pred).write(root / "trackers" / "t" / "data" / f"{seq}.txt")
    from trackeval.datasets import MotChallenge2DBox
    from trackeval.metrics import CLEAR, HOTA, Count, Identity

    quiet = {"PRINT_CONFIG": False}
    config = {"GT_FOLDER": str(root / "gt"), "TRACKERS_FOLDER": str(root / "trackers"),
              "OUTPUT_FOLDER": str(root / "out"), "TRACKERS_TO_EVAL": ["t"], "BENCHMARK": benchmark,
              "SKIP_SPLIT_FOL": True, "SEQ_INFO": {seq: num_frames}, "DO_PREPROC": True, **quiet}
    with contextlib.redirect_stdout(io.StringIO()):
        dataset = MotChallenge2DBox(config)
        data = dataset.get_preprocessed_seq_data(dataset.get_raw_seq_data("t", seq), "pedestrian")
        metrics = [HOTA(), CLEAR({"THRESHOLD": 0.5, **quiet}), Identity({"THRESHOLD": 0.5, **quiet}), Count()]
        return {m.get_name(): m.eval_sequence(data) for m in metrics}


def _assert_same(ours: dict, theirs: dict, where: str) -> None:
    for metric, names in FIELDS.items():
        for name in names:
            np.testing.assert_allclose(
                np.asarray(ours[metric][name], dtype=float), np.asarray(theirs[metric][name], dtype=float),
                rtol=0, atol=1e-12, err_msg=f"{where}: {metric}.{name}",
            )


def _ours(gt: MotTable, pred: MotTable, num_frames: int, benchmark: str) -> dict:
    return _evaluate_data(prepare_sequence(gt, _as_tracker_file(pred), num_frames, benchmark), num_frames)


def _perturbed(gt: MotTable, rng: np.random.Generator, keep_classes: bool = False) -> MotTable:
    """Predictions from gt rows: jitter, dropped rows, swapped and split ids, false positives."""
    rows = gt.values[rng.random(len(gt)) > 0.15].copy()
    rows[:, 2:4] += rng.normal(0, 6, (len(rows), 2))
    rows[:, 4:6] *= rng.uniform(0.8, 1.2, (len(rows), 2))
    split = rng.random(len(rows)) < 0.1
    rows[split, 1] += 1000 + rows[split, 0] // 40  # an id that changes now and then
    fp = rows[rng.random(len(rows)) < 0.1].copy()
    fp[:, 2] += rng.uniform(30, 200, len(fp))
    fp[:, 1] = 5000 + np.arange(len(fp))
    rows = np.concatenate([rows, fp])
    rows[:, 6] = 1
    if not keep_classes:
        rows[:, 7:] = -1
    rows = rows[np.lexsort((rows[:, 1], rows[:, 0]))]
    frame_id = rows[:, 0] * 100000 + rows[:, 1]
    _, first = np.unique(frame_id, return_index=True)
    return MotTable(rows[np.sort(first)], 10)


def _random_sequence(rng: np.random.Generator, num_frames: int, with_classes: bool) -> tuple[MotTable, MotTable]:
    """A crowded toy scene: people drifting over a small image so boxes overlap and ties happen."""
    gt_rows, pred_rows = [], []
    num_people = int(rng.integers(1, 9))
    classes = rng.choice([1, 1, 1, 1, 2, 7, 8, 12, 6, 3], num_people) if with_classes else np.full(num_people, 1)
    start = rng.uniform(0, 120, (num_people, 2))
    velocity = rng.normal(0, 2, (num_people, 2))
    size = rng.uniform(8, 30, (num_people, 2))
    alive = [(int(rng.integers(1, num_frames + 1)), int(rng.integers(1, num_frames + 1))) for _ in range(num_people)]
    for f in range(1, num_frames + 1):
        for p in range(num_people):
            lo, hi = sorted(alive[p])
            if not lo <= f <= hi:
                continue
            x, y = start[p] + velocity[p] * f
            conf = 0 if rng.random() < 0.1 else 1
            gt_rows.append([f, p + 1, x, y, *size[p], conf, classes[p], 1.0, -1])
            if rng.random() < 0.8:
                pid = p + 1 + (50 if rng.random() < 0.1 else 0)
                jitter = rng.normal(0, 3, 2)
                pred_rows.append([f, pid, x + jitter[0], y + jitter[1], *size[p] * rng.uniform(0.7, 1.3, 2), 1, -1, -1, -1])
        if rng.random() < 0.3:
            pred_rows.append([f, 900 + int(rng.integers(0, 5)), *rng.uniform(0, 140, 2), 15, 25, 1, -1, -1, -1])
    gt = MotTable(np.array(gt_rows, dtype=float).reshape(-1, 10), 9)
    pred = np.array(pred_rows, dtype=float).reshape(-1, 10)
    keys = pred[:, 0] * 100000 + pred[:, 1]
    _, first = np.unique(keys, return_index=True)
    return gt, MotTable(pred[np.sort(first)], 10)


@pytest.mark.parametrize("seed", range(40))
def test_randomised_sequences_match_trackeval(seed: int, tmp_path: Path) -> None:
    rng = np.random.default_rng(seed)
    num_frames = int(rng.integers(1, 30))
    benchmark = ("MOT15", "MOT17", "MOT20")[seed % 3]
    gt, pred = _random_sequence(rng, num_frames, with_classes=benchmark != "MOT15")
    if seed % 10 == 7:
        pred = MotTable(np.zeros((0, 10)), 10)  # a tracker that outputs nothing
    if seed % 10 == 8:
        pred = MotTable(pred.values[pred.frames % 3 != 0], 10)  # frames with gt but no predictions
    _assert_same(_ours(gt, pred, num_frames, benchmark),
                 _trackeval_raw(tmp_path, gt, pred, num_frames, benchmark, "toy"), f"seed {seed} {benchmark}")


def test_no_ground_truth_rows_at_all_matches_trackeval(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    _, pred = _random_sequence(rng, 10, with_classes=False)
    gt = MotTable(np.zeros((0, 10)), 9)
    _assert_same(_ours(gt, pred, 10, "MOT17"), _trackeval_raw(tmp_path, gt, pred, 10, "MOT17", "empty"), "no gt")


def _real(folder: Path, first: int, last: int) -> MotTable:
    return read_mot_table(find_gt_file(folder)).span(first, last, renumber=True)


@pytest.mark.shared
@pytest.mark.parametrize(
    ("name", "first", "last", "benchmark"),
    [("PETS09-S2L1", 501, 795, "MOT15"), ("PETS09-S2L1", 1, 795, "MOT17"), ("TUD-Stadtmitte", 1, 179, "MOT15"),
     ("intel-one-by-one", 1, 1394, "MOT15"), ("MOT17-04-FRCNN-mini", 1, 8, "MOT17"),
     ("MOT17-02-FRCNN-mini", 1, 4, "MOT17")],
)
def test_real_sequences_with_perturbed_predictions_match_trackeval(
    mot_dir: Path, tmp_path: Path, name: str, first: int, last: int, benchmark: str
) -> None:
    folder = mot_dir / name
    if not folder.is_dir():
        pytest.skip(f"{name} not in the data folder")
    gt = _real(folder, first, last)
    if benchmark == "MOT17" and not name.startswith("MOT17"):
        gt = MotTable(np.where(np.arange(10) == 7, 1.0, gt.values), 9)  # MOT15 world x -> class: pedestrian
    for seed in range(3):
        pred = _perturbed(gt, np.random.default_rng(seed))
        num_frames = last - first + 1
        _assert_same(_ours(gt, pred, num_frames, benchmark),
                     _trackeval_raw(tmp_path / str(seed), gt, pred, num_frames, benchmark, name), f"{name} seed {seed}")


def test_combining_sequences_matches_trackeval(tmp_path: Path) -> None:
    from trackeval.metrics import CLEAR, HOTA, Identity

    ours, theirs = [], []
    for seed in range(4):
        rng = np.random.default_rng(100 + seed)
        gt, pred = _random_sequence(rng, 20, with_classes=True)
        ours.append(_ours(gt, pred, 20, "MOT17"))
        theirs.append(_trackeval_raw(tmp_path / str(seed), gt, pred, 20, "MOT17", "toy"))
    quiet = {"PRINT_CONFIG": False}
    oracle = {
        "HOTA": HOTA().combine_sequences({str(i): t["HOTA"] for i, t in enumerate(theirs)}),
        "CLEAR": CLEAR(quiet).combine_sequences({str(i): t["CLEAR"] for i, t in enumerate(theirs)}),
        "Identity": Identity(quiet).combine_sequences({str(i): t["Identity"] for i, t in enumerate(theirs)}),
    }
    mine = {
        "HOTA": hota.combine([o["HOTA"] for o in ours]),
        "CLEAR": clear.combine([o["CLEAR"] for o in ours]),
        "Identity": identity.combine([o["Identity"] for o in ours]),
    }
    for metric in oracle:
        for name in FIELDS[metric]:
            np.testing.assert_allclose(np.asarray(mine[metric][name], float), np.asarray(oracle[metric][name], float),
                                       rtol=0, atol=1e-12, err_msg=f"combined {metric}.{name}")

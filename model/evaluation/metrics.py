"""Tracking metrics (HOTA, CLEAR/MOTA, IDF1) computed by TrackEval itself, in-process.

We do not reimplement the metrics: numbers reported next to the paper's tables must be the ones
the MOTChallenge server's code produces. This module only lays the data out the way TrackEval's
``MotChallenge2DBox`` expects (a temp folder), runs its HOTA, CLEAR, Identity and Count metrics
without multiprocessing or printing, and returns one dataclass.

Units: every rate in :class:`TrackMetrics` is a percentage in 0..100 stored at full float
precision (the paper reports %); counts are ints. Print with one decimal.

numpy 2: TrackEval 1.3.0 from PyPI no longer uses the removed ``np.float``/``np.int``/``np.bool``
aliases in the dataset and metric code used here, so no compatibility shim is installed; the
real-data tests run it under numpy 2 and would fail if that changed.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from model.data.mot_io import (
    MotTable,
    check_span,
    find_gt_file,
    read_json,
    read_mot_table,
    read_seqinfo,
    resolve_benchmark,
)
from model.core.types import Tracks

Predictions = str | Path | Mapping[int, Tracks]
COMBINED = "COMBINED"
_SEQ = "seq"  # the sequence's name inside the temp layout; the real name is only reported
_TRACKER = "tracker"


@dataclass(frozen=True)
class TrackMetrics:
    """TrackEval's pedestrian metrics for one sequence (or several combined).

    Rates are percentages (0..100, full precision); HOTA-family values are TrackEval's average
    over the 19 localisation thresholds alpha = 0.05..0.95.

    Attributes:
        HOTA, DetA, AssA, LocA, DetRe, DetPr, AssRe, AssPr: HOTA family (Luiten et al. 2021).
        MOTA, MOTP, Recall, Precision: CLEAR MOT at IoU 0.5 (MOTP is mean IoU of matches).
        IDF1, IDP, IDR: identity metrics (Ristani et al. 2016).
        IDSW, FP, FN, TP, MT, PT, ML, Frag: CLEAR counts.
        gt_ids, pred_ids, gt_dets, pred_dets, frames: sizes of what was evaluated.
        sequence, benchmark: what was evaluated and under which preprocessing rule.
    """

    HOTA: float
    DetA: float
    AssA: float
    LocA: float
    DetRe: float
    DetPr: float
    AssRe: float
    AssPr: float
    MOTA: float
    MOTP: float
    Recall: float
    Precision: float
    IDF1: float
    IDP: float
    IDR: float
    IDSW: int
    FP: int
    FN: int
    TP: int
    MT: int
    PT: int
    ML: int
    Frag: int
    gt_ids: int
    pred_ids: int
    gt_dets: int
    pred_dets: int
    frames: int
    sequence: str = ""
    benchmark: str = ""

    def as_dict(self, decimals: int | None = None) -> dict[str, float | int | str]:
        """Plain dict for JSON; ``decimals`` rounds the percentages (1 for printouts)."""
        values = asdict(self)
        if decimals is not None:
            values = {k: round(v, decimals) if isinstance(v, float) else v for k, v in values.items()}
        return values


@dataclass
class SequenceJob:
    """One sequence to evaluate: its ground-truth folder, the predictions, and a frame span."""

    gt_seq_dir: str | Path
    pred: Predictions
    first: int = 1
    last: int | None = None
    name: str | None = None


@dataclass
class _SequenceResult:
    """TrackEval's raw per-metric result dicts, kept so sequences can be combined its way."""

    name: str
    benchmark: str
    frames: int
    raw: dict[str, dict] = field(default_factory=dict)


def evaluate_sequence(
    gt_seq_dir: str | Path,
    pred: Predictions,
    benchmark: str = "auto",
    first: int = 1,
    last: int | None = None,
) -> TrackMetrics:
    """Score predictions against one sequence's ground truth over frames ``first..last``.

    ``pred`` is a MOTChallenge text file, a tracks JSON file, or ``{frame: Tracks}`` with the
    sequence's own frame numbers. ``benchmark="auto"`` picks MOT15 (no distractor handling) when
    the gt has no MOT17 class/visibility columns, else MOT17 (TrackEval's standard preprocessing).
    """
    job = SequenceJob(gt_seq_dir, pred, first, last)
    return _to_metrics(_evaluate_raw(job, benchmark), sequence=None)


def evaluate_many(
    jobs: Iterable[SequenceJob | tuple], benchmark: str = "auto"
) -> dict[str, TrackMetrics]:
    """Evaluate several sequences; returns one entry per sequence plus ``"COMBINED"``.

    Combining is TrackEval's (``combine_sequences``): counts are summed and HOTA's AssA/LocA are
    weighted by true positives, i.e. a detection-weighted result, not a mean of per-sequence scores.
    Jobs may be :class:`SequenceJob` or tuples ``(gt_seq_dir, pred[, first, last])``.
    """
    results: list[_SequenceResult] = []
    for job in jobs:
        job = job if isinstance(job, SequenceJob) else SequenceJob(*job)
        results.append(_evaluate_raw(job, benchmark))
    if not results:
        raise ValueError("evaluate_many needs at least one (gt_seq_dir, pred) pair")
    out: dict[str, TrackMetrics] = {}
    for result in results:
        name, suffix = result.name, 2
        while name in out or name == COMBINED:
            name, suffix = f"{result.name}#{suffix}", suffix + 1
        out[name] = _to_metrics(result, sequence=name)
    out[COMBINED] = _to_metrics(_combine(results), sequence=COMBINED)
    return out


# --------------------------------------------------------------------------------------------


def _evaluate_raw(job: SequenceJob, benchmark: str) -> _SequenceResult:
    seq_dir = Path(job.gt_seq_dir)
    gt_table = read_mot_table(find_gt_file(seq_dir))
    pred_table = _prediction_table(job.pred)
    info = read_seqinfo(seq_dir)
    name = job.name or info.get("name", seq_dir.resolve().name)
    resolved = resolve_benchmark(benchmark, gt_table, name)

    # Without seqinfo.ini the sequence ends at the last frame anyone annotated or predicted
    # (py-motmetrics' convention: frames only the tracker covers still count its false positives).
    if "seqLength" in info:
        length = int(info["seqLength"])
    else:
        length = max(gt_table.last_frame, pred_table.last_frame)
    is_whole_sequence = job.first == 1 and job.last is None
    first, last = check_span(job.first, job.last, length)
    if is_whole_sequence:
        _check_inside(gt_table, length, f"ground truth {find_gt_file(seq_dir)}")
    # Predictions must be able to belong to this sequence at all, whatever span is scored: frames past
    # its end, or boxes wholly outside its image, mean tracks of another clip were passed.
    _check_inside(pred_table, length, f"predictions for {name}")
    _check_boxes_in_image(pred_table, info, name)
    pred_span = pred_table.span(first, last)
    _check_prediction_ids(pred_span)  # message in the sequence's own frame numbers

    with tempfile.TemporaryDirectory(prefix="vsdmot-eval-") as tmp:
        root = Path(tmp)
        gt_table.span(first, last, renumber=True).write(root / "gt" / _SEQ / "gt" / "gt.txt")
        tracker_file = root / "trackers" / _TRACKER / "data" / f"{_SEQ}.txt"
        _as_tracker_file(pred_span.span(first, last, renumber=True)).write(tracker_file)
        raw = _run_trackeval(root, resolved, num_frames=last - first + 1)
    return _SequenceResult(name=name, benchmark=resolved, frames=last - first + 1, raw=raw)


def _prediction_table(pred: Predictions) -> MotTable:
    if isinstance(pred, Mapping):
        return MotTable.from_tracks(dict(pred))
    path = Path(pred)
    if path.suffix.lower() == ".json":
        return MotTable.from_tracks(read_json(path))
    return read_mot_table(path)


def _as_tracker_file(table: MotTable) -> MotTable:
    """Keep frame, id, box, conf; -1 in the class columns, which TrackEval reads as 'pedestrian'.

    Tracker files from MOT15 tools may carry world coordinates there, which TrackEval would take
    for (invalid) class ids.
    """
    values = table.values.copy()
    values[:, 7:] = -1
    return MotTable(values, num_columns=10)


def _check_inside(table: MotTable, length: int, what: str) -> None:
    if len(table) and table.last_frame > length:
        raise ValueError(
            f"{what} has frames up to {table.last_frame} but the sequence has {length} frames: "
            "fix the file, or pass first/last to evaluate a span"
        )


def _check_boxes_in_image(table: MotTable, info: dict[str, str], name: str) -> None:
    """Refuse predictions with a box that lies wholly outside the sequence's image (seqinfo's size)."""
    if not len(table) or "imWidth" not in info or "imHeight" not in info:
        return
    width, height = float(info["imWidth"]), float(info["imHeight"])
    x, y, w, h = (table.values[:, k] for k in (2, 3, 4, 5))
    outside = (x >= width) | (y >= height) | (x + w <= 0) | (y + h <= 0)
    if outside.any():
        row = int(outside.argmax())
        raise ValueError(
            f"predictions hold {int(outside.sum())} boxes wholly outside {name}'s {width:.0f}x{height:.0f} image "
            f"(the first at frame {int(table.frames[row])}: x={x[row]:.0f}, y={y[row]:.0f}): were they made on another clip?"
        )


def _check_prediction_ids(table: MotTable) -> None:
    if len(table) and table.ids.min() < 0:
        raise ValueError("predictions contain negative ids (detections, not tracks?): track ids must be >= 0")
    keys = table.frames * (int(table.ids.max(initial=0)) + 1) + table.ids
    unique, counts = np.unique(keys, return_counts=True)
    if len(unique) and counts.max() > 1:
        row = int(np.flatnonzero(keys == unique[counts.argmax()])[0])
        raise ValueError(
            f"predictions use id {table.ids[row]} twice in frame {table.frames[row]}: "
            "an id may appear at most once per frame"
        )


def _run_trackeval(root: Path, benchmark: str, num_frames: int) -> dict[str, dict]:
    """Run TrackEval on the temp layout; its prints are swallowed and its errors become ValueError."""
    from trackeval.datasets import MotChallenge2DBox
    from trackeval.utils import TrackEvalException

    config = {
        "GT_FOLDER": str(root / "gt"),
        "TRACKERS_FOLDER": str(root / "trackers"),
        "OUTPUT_FOLDER": str(root / "output"),
        "TRACKERS_TO_EVAL": [_TRACKER],
        "BENCHMARK": benchmark,
        "SKIP_SPLIT_FOL": True,
        "SEQ_INFO": {_SEQ: num_frames},
        "DO_PREPROC": True,  # TrackEval itself never preprocesses MOT15
        "PRINT_CONFIG": False,
    }
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            dataset = MotChallenge2DBox(config)
            metrics = _metrics()
            raw_data = dataset.get_raw_seq_data(_TRACKER, _SEQ)
            data = dataset.get_preprocessed_seq_data(raw_data, "pedestrian")
            return {metric.get_name(): metric.eval_sequence(data) for metric in metrics}
    except TrackEvalException as exc:
        detail = printed.getvalue().strip()
        message = f"TrackEval rejected the input: {exc}" + (f" ({detail})" if detail else "")
        raise ValueError(message) from None


def _combine(results: list[_SequenceResult]) -> _SequenceResult:
    metrics = {metric.get_name(): metric for metric in _metrics()}
    combined = {
        name: metric.combine_sequences({str(i): r.raw[name] for i, r in enumerate(results)})
        for name, metric in metrics.items()
    }
    benchmarks = sorted({r.benchmark for r in results})
    return _SequenceResult(COMBINED, "+".join(benchmarks), sum(r.frames for r in results), combined)


def _to_metrics(result: _SequenceResult, sequence: str | None) -> TrackMetrics:
    hota, clear, identity, count = (result.raw[k] for k in ("HOTA", "CLEAR", "Identity", "Count"))

    def percent(value: float | np.ndarray) -> float:
        return 100.0 * float(np.mean(value))

    return TrackMetrics(
        HOTA=percent(hota["HOTA"]),
        DetA=percent(hota["DetA"]),
        AssA=percent(hota["AssA"]),
        LocA=percent(hota["LocA"]),
        DetRe=percent(hota["DetRe"]),
        DetPr=percent(hota["DetPr"]),
        AssRe=percent(hota["AssRe"]),
        AssPr=percent(hota["AssPr"]),
        MOTA=percent(clear["MOTA"]),
        MOTP=percent(clear["MOTP"]),
        Recall=percent(clear["CLR_Re"]),
        Precision=percent(clear["CLR_Pr"]),
        IDF1=percent(identity["IDF1"]),
        IDP=percent(identity["IDP"]),
        IDR=percent(identity["IDR"]),
        IDSW=int(clear["IDSW"]),
        FP=int(clear["CLR_FP"]),
        FN=int(clear["CLR_FN"]),
        TP=int(clear["CLR_TP"]),
        MT=int(clear["MT"]),
        PT=int(clear["PT"]),
        ML=int(clear["ML"]),
        Frag=int(clear["Frag"]),
        gt_ids=int(count["GT_IDs"]),
        pred_ids=int(count["IDs"]),
        gt_dets=int(count["GT_Dets"]),
        pred_dets=int(count["Dets"]),
        frames=result.frames,
        sequence=sequence if sequence is not None else result.name,
        benchmark=result.benchmark,
    )


def _metrics() -> list:
    """TrackEval's HOTA, CLEAR (IoU 0.5), Identity (IoU 0.5) and Count, with config printing off."""
    from trackeval.metrics import CLEAR, HOTA, Count, Identity

    quiet = {"PRINT_CONFIG": False}
    return [HOTA(), CLEAR({"THRESHOLD": 0.5, **quiet}), Identity({"THRESHOLD": 0.5, **quiet}), Count()]

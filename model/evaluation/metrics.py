"""Tracking metrics (HOTA, CLEAR/MOTA, IDF1) exactly as TrackEval computes them, in memory.

Numbers reported next to the paper's tables must be the ones the MOTChallenge server's code
(TrackEval) produces. The rules live in :mod:`model.evaluation.sequence_data` (loading and
MOTChallenge preprocessing) and :mod:`~model.evaluation.hota`, :mod:`~model.evaluation.clear`,
:mod:`~model.evaluation.identity` (the metrics); ``tests/test_metrics_trackeval.py`` runs TrackEval
itself (a dev requirement) on real and randomised sequences and asserts every field is equal.
Ours, not TrackEval's: no temp folder and no TrackEval package at run time, whose wheel pulls a
second, non-headless OpenCV into the demo's install.

Units: every rate in :class:`TrackMetrics` is a percentage in 0..100 stored at full float
precision (the paper reports %); counts are ints. Print with one decimal.
"""

from __future__ import annotations

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
from model.evaluation import clear, hota, identity
from model.evaluation.sequence_data import SequenceData, prepare_sequence

Predictions = str | Path | Mapping[int, Tracks]
COMBINED = "COMBINED"


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
    """Raw per-metric result dicts (TrackEval's fields), kept so sequences can be combined its way."""

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

    num_frames = last - first + 1
    data = prepare_sequence(
        gt_table.span(first, last, renumber=True),
        _as_tracker_file(pred_span.span(first, last, renumber=True)),
        num_frames,
        resolved,
    )
    raw = _evaluate_data(data, num_frames)
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


def _evaluate_data(data: SequenceData, num_frames: int) -> dict[str, dict]:
    counts = {"Dets": data.num_tracker_dets, "GT_Dets": data.num_gt_dets, "IDs": data.num_tracker_ids,
              "GT_IDs": data.num_gt_ids, "Frames": num_frames}
    return {"HOTA": hota.evaluate(data), "CLEAR": clear.evaluate(data), "Identity": identity.evaluate(data),
            "Count": counts}


def _combine(results: list[_SequenceResult]) -> _SequenceResult:
    raws = [r.raw for r in results]
    combined = {
        "HOTA": hota.combine([raw["HOTA"] for raw in raws]),
        "CLEAR": clear.combine([raw["CLEAR"] for raw in raws]),
        "Identity": identity.combine([raw["Identity"] for raw in raws]),
        "Count": {key: sum(raw["Count"][key] for raw in raws) for key in raws[0]["Count"]},
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

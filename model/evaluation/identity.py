"""Identity metrics IDF1/IDP/IDR (Ristani et al. 2016) as TrackEval computes them.

One global one-to-one assignment of gt ids to tracker ids over the whole sequence, minimising
IDFN + IDFP, where a (gt, tracker) pair's true positives are the frames their boxes overlap at
IoU >= 0.5; every id may also stay unassigned (a dummy column/row at its full count).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from model.evaluation.sequence_data import SequenceData

THRESHOLD = 0.5
SUMMED_FIELDS = ("IDTP", "IDFN", "IDFP")
_UNREACHABLE = 1e10  # TrackEval's cost for assigning a dummy to a dummy's forbidden side


def evaluate(data: SequenceData) -> dict[str, float]:
    """IDTP/IDFN/IDFP of one sequence plus IDF1, IDP, IDR."""
    res: dict[str, float] = {name: 0 for name in SUMMED_FIELDS}
    if data.num_tracker_dets == 0 or data.num_gt_dets == 0:
        res["IDFN"] = data.num_gt_dets
        res["IDFP"] = data.num_tracker_dets
        return final_fields(res)

    g, k = data.num_gt_ids, data.num_tracker_ids
    overlap = np.zeros((g, k))
    gt_count = np.zeros(g)
    tracker_count = np.zeros(k)
    for gt_ids, tracker_ids, similarity in zip(data.gt_ids, data.tracker_ids, data.similarity):
        rows, cols = np.nonzero(similarity >= THRESHOLD)
        overlap[gt_ids[rows], tracker_ids[cols]] += 1
        gt_count[gt_ids] += 1
        tracker_count[tracker_ids] += 1

    # Rows: gt ids then one dummy per tracker id; columns: tracker ids then one dummy per gt id.
    fp = np.zeros((g + k, g + k))
    fn = np.zeros((g + k, g + k))
    fp[g:, :k] = _UNREACHABLE
    fn[:g, k:] = _UNREACHABLE
    fn[:g, :k] = gt_count[:, None]
    fn[np.arange(g), k + np.arange(g)] = gt_count
    fp[:g, :k] = tracker_count[None, :]
    fp[g + np.arange(k), np.arange(k)] = tracker_count
    fn[:g, :k] -= overlap
    fp[:g, :k] -= overlap
    rows, cols = linear_sum_assignment(fn + fp)
    res["IDFN"] = int(fn[rows, cols].sum())
    res["IDFP"] = int(fp[rows, cols].sum())
    res["IDTP"] = int(gt_count.sum() - res["IDFN"])
    return final_fields(res)


def combine(results: list[dict[str, float]]) -> dict[str, float]:
    """Several sequences as one: counts summed, rates recomputed."""
    return final_fields({name: sum(r[name] for r in results) for name in SUMMED_FIELDS})


def final_fields(res: dict[str, float]) -> dict[str, float]:
    tp, fn, fp = res["IDTP"], res["IDFN"], res["IDFP"]
    res["IDR"] = tp / np.maximum(1.0, tp + fn)
    res["IDP"] = tp / np.maximum(1.0, tp + fp)
    res["IDF1"] = tp / np.maximum(1.0, tp + 0.5 * fp + 0.5 * fn)
    return res

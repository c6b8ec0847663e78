"""HOTA (Luiten et al., IJCV 2021) as TrackEval computes it, on :class:`SequenceData`.

HOTA_alpha = sqrt(DetA_alpha * AssA_alpha) at the 19 localisation thresholds alpha = 0.05..0.95;
the reported HOTA is their mean. Matching per frame is Hungarian on IoU weighted by the global
alignment score of each (gt id, tracker id) pair, so identities that agree over the whole sequence
are preferred; a matched pair counts at alpha only where its IoU >= alpha.

Raw results are dicts keyed like TrackEval's (``HOTA_TP``, ``AssA``, ``LocA``, ...; arrays of 19)
so sequences combine the same way: counts summed, AssA/AssRe/AssPr/LocA weighted by HOTA_TP.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from model.evaluation.sequence_data import EPS, SequenceData

ALPHAS = np.arange(0.05, 0.99, 0.05)  # TrackEval's array_labels: 19 thresholds
COUNT_FIELDS = ("HOTA_TP", "HOTA_FN", "HOTA_FP")
ASSOCIATION_FIELDS = ("AssA", "AssRe", "AssPr")


def evaluate(data: SequenceData) -> dict[str, np.ndarray]:
    """Raw HOTA fields of one sequence (arrays over :data:`ALPHAS`)."""
    res = {name: np.zeros(len(ALPHAS)) for name in (*COUNT_FIELDS, *ASSOCIATION_FIELDS, "LocA")}
    if data.num_tracker_dets == 0 or data.num_gt_dets == 0:
        res["HOTA_FN"] = data.num_gt_dets * np.ones(len(ALPHAS))
        res["HOTA_FP"] = data.num_tracker_dets * np.ones(len(ALPHAS))
        res["LocA"] = np.ones(len(ALPHAS))
        return final_fields(res)

    # Global alignment: how much of each id pair's life they overlap (soft, by per-frame IoU share).
    potential = np.zeros((data.num_gt_ids, data.num_tracker_ids))
    gt_count = np.zeros((data.num_gt_ids, 1))
    tracker_count = np.zeros((1, data.num_tracker_ids))
    for gt_ids, tracker_ids, similarity in zip(data.gt_ids, data.tracker_ids, data.similarity):
        denominator = similarity.sum(0)[None, :] + similarity.sum(1)[:, None] - similarity
        share = np.zeros_like(similarity)
        positive = denominator > EPS
        share[positive] = similarity[positive] / denominator[positive]
        potential[gt_ids[:, None], tracker_ids[None, :]] += share
        gt_count[gt_ids] += 1
        tracker_count[0, tracker_ids] += 1
    alignment = potential / (gt_count + tracker_count - potential)

    matches = [np.zeros_like(potential) for _ in ALPHAS]
    for gt_ids, tracker_ids, similarity in zip(data.gt_ids, data.tracker_ids, data.similarity):
        if len(gt_ids) == 0 or len(tracker_ids) == 0:
            res["HOTA_FP"] += len(tracker_ids)
            res["HOTA_FN"] += len(gt_ids)
            continue
        score = alignment[gt_ids[:, None], tracker_ids[None, :]] * similarity
        rows, cols = linear_sum_assignment(-score)
        for a, alpha in enumerate(ALPHAS):
            passed = similarity[rows, cols] >= alpha - EPS
            r, c = rows[passed], cols[passed]
            res["HOTA_TP"][a] += len(r)
            res["HOTA_FN"][a] += len(gt_ids) - len(r)
            res["HOTA_FP"][a] += len(tracker_ids) - len(r)
            if len(r):
                res["LocA"][a] += sum(similarity[r, c])
                matches[a][gt_ids[r], tracker_ids[c]] += 1

    for a, count in enumerate(matches):
        true_positives = np.maximum(1, res["HOTA_TP"][a])
        res["AssA"][a] = np.sum(count * (count / np.maximum(1, gt_count + tracker_count - count))) / true_positives
        res["AssRe"][a] = np.sum(count * (count / np.maximum(1, gt_count))) / true_positives
        res["AssPr"][a] = np.sum(count * (count / np.maximum(1, tracker_count))) / true_positives
    res["LocA"] = np.maximum(1e-10, res["LocA"]) / np.maximum(1e-10, res["HOTA_TP"])
    return final_fields(res)


def combine(results: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Several sequences as one: counts summed, association and LocA weighted by HOTA_TP."""
    res = {name: sum(r[name] for r in results) for name in COUNT_FIELDS}
    for name in ASSOCIATION_FIELDS:
        res[name] = sum(r[name] * r["HOTA_TP"] for r in results) / np.maximum(1.0, res["HOTA_TP"])
    located = sum(r["LocA"] * r["HOTA_TP"] for r in results)
    res["LocA"] = np.maximum(1e-10, located) / np.maximum(1e-10, res["HOTA_TP"])
    return final_fields(res)


def final_fields(res: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """DetRe, DetPr, DetA and HOTA from the counts and AssA (per alpha)."""
    tp, fn, fp = res["HOTA_TP"], res["HOTA_FN"], res["HOTA_FP"]
    res["DetRe"] = tp / np.maximum(1, tp + fn)
    res["DetPr"] = tp / np.maximum(1, tp + fp)
    res["DetA"] = tp / np.maximum(1, tp + fn + fp)
    res["HOTA"] = np.sqrt(res["DetA"] * res["AssA"])
    return res

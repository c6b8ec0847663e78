"""CLEAR MOT (Bernardin & Stiefelhagen 2008) as TrackEval computes it, on :class:`SequenceData`.

Per frame, gt and predictions are matched one-to-one at IoU >= 0.5, preferring (by +1000) the
prediction each gt object was matched to in the previous frame it was matched in; an identity
switch is a matched gt object whose prediction id differs from its last one. MOTA = 1 - (FN + FP +
IDSW) / GT, MOTP = mean IoU of matches, MT/PT/ML = tracked > 80 % / >= 20 % / less of its life,
Frag = times a track resumes after an interruption.

TrackEval's quirk, kept: a frame with gt but no predictions does not clear the "previous frame"
memory, so the preference survives a frame where the tracker output nothing.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from model.evaluation.sequence_data import EPS, SequenceData

THRESHOLD = 0.5
SUMMED_FIELDS = ("CLR_TP", "CLR_FN", "CLR_FP", "IDSW", "MT", "PT", "ML", "Frag", "MOTP_sum", "CLR_Frames")


def evaluate(data: SequenceData) -> dict[str, float]:
    """Raw CLEAR counts of one sequence plus the rates derived from them."""
    res: dict[str, float] = {name: 0 for name in SUMMED_FIELDS}
    if data.num_tracker_dets == 0 or data.num_gt_dets == 0:
        # TrackEval returns here with every rate at 0 (so MOTA is 0, not -FP, without gt) and
        # CLR_Frames unset; combining recomputes the rates from the counts.
        res["CLR_FN"] = data.num_gt_dets
        res["CLR_FP"] = data.num_tracker_dets
        res["ML"] = data.num_gt_ids
        return {**res, "CLR_Re": 0.0, "CLR_Pr": 0.0, "MOTA": 0.0, "MOTP": 0.0}

    num_gt_ids = data.num_gt_ids
    life = np.zeros(num_gt_ids)  # frames each gt object is present
    matched_frames = np.zeros(num_gt_ids)
    fragments = np.zeros(num_gt_ids)
    last_match = np.full(num_gt_ids, np.nan)  # tracker id each object last had, ever
    previous_frame_match = np.full(num_gt_ids, np.nan)  # tracker id in the previous matched frame
    for gt_ids, tracker_ids, similarity in zip(data.gt_ids, data.tracker_ids, data.similarity):
        if len(gt_ids) == 0:
            res["CLR_FP"] += len(tracker_ids)
            continue
        if len(tracker_ids) == 0:
            res["CLR_FN"] += len(gt_ids)
            life[gt_ids] += 1
            continue
        continues = tracker_ids[None, :] == previous_frame_match[gt_ids[:, None]]
        score = 1000 * continues + similarity
        score[similarity < THRESHOLD - EPS] = 0
        rows, cols = linear_sum_assignment(-score)
        matched = score[rows, cols] > EPS
        rows, cols = rows[matched], cols[matched]
        matched_gt, matched_tracker = gt_ids[rows], tracker_ids[cols]

        before = last_match[matched_gt]
        res["IDSW"] += np.sum(~np.isnan(before) & (matched_tracker != before))
        life[gt_ids] += 1
        matched_frames[matched_gt] += 1
        was_untracked = np.isnan(previous_frame_match)
        last_match[matched_gt] = matched_tracker
        previous_frame_match[:] = np.nan
        previous_frame_match[matched_gt] = matched_tracker
        fragments += was_untracked & ~np.isnan(previous_frame_match)

        res["CLR_TP"] += len(matched_gt)
        res["CLR_FN"] += len(gt_ids) - len(matched_gt)
        res["CLR_FP"] += len(tracker_ids) - len(matched_gt)
        if len(matched_gt):
            res["MOTP_sum"] += sum(similarity[rows, cols])

    tracked_ratio = matched_frames[life > 0] / life[life > 0]
    res["MT"] = np.sum(tracked_ratio > 0.8)
    res["PT"] = np.sum(tracked_ratio >= 0.2) - res["MT"]
    res["ML"] = num_gt_ids - res["MT"] - res["PT"]
    res["Frag"] = np.sum(fragments[fragments > 0] - 1)
    res["CLR_Frames"] = data.num_timesteps
    return final_fields(res)


def combine(results: list[dict[str, float]]) -> dict[str, float]:
    """Several sequences as one: every count summed, rates recomputed."""
    return final_fields({name: sum(r[name] for r in results) for name in SUMMED_FIELDS})


def final_fields(res: dict[str, float]) -> dict[str, float]:
    """MOTA, MOTP, recall and precision from the counts."""
    tp, fn, fp = res["CLR_TP"], res["CLR_FN"], res["CLR_FP"]
    res["CLR_Re"] = tp / np.maximum(1.0, tp + fn)
    res["CLR_Pr"] = tp / np.maximum(1.0, tp + fp)
    res["MOTA"] = (tp - fp - res["IDSW"]) / np.maximum(1.0, tp + fn)
    res["MOTP"] = res["MOTP_sum"] / np.maximum(1.0, tp)
    return res

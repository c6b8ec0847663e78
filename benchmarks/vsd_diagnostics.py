"""What a trained VSD-MOT hook actually does to the queries, per validation split.

The ablation tables say whether VSD-MOT helps; this says why it can or cannot. For every frame of
PETS09-S2L1 501-795 (clean / `medium` / `severe`) it records, through a forward hook on the query
seam, the frame quality Q, DSWR's semantic weight w (eq. 13) and how far the decoder's input moves:

    student edit  = ||S - F_query|| / ||F_query||          (eq. 3: what the residual adds)
    fused edit    = ||F_fused - F_query|| / ||F_query||    (eq. 14: = w * student edit)

and the mean pairwise cosine similarity of the n vectors of a frame before (F_query) and after the
student (S): DCSD pulls every S towards one frame-level teacher vector, so a rising "cos S" means the
student adds a shared scene component rather than per-object information. Printed with DSWR's
learned W and b, so "the module does nothing", "it does the same on clean and degraded frames" and
"it makes the queries alike" can be told apart.

The identity-separation score (issue 13) asks whether the student's per-query semantics carry who a
query is: every proposal matched to a ground-truth person (IoU >= 0.5) gives its F_query and S, and

    separation = mean cos(same person, different frames) - mean cos(different people)

for F_query and for S (0 = the vectors do not tell people apart; a region teacher should raise it),
printed with the two means for S (the levels a cosine threshold, e.g. appearance recovery's, works at).

    python -m benchmarks.vsd_diagnostics [CHECKPOINT ...]   (default assets/vsd_mot.pt)
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import numpy as np
import torch

from benchmarks.common import validation_caches
from model.tracking.detector import YoloxDetector
from model.tracking.hooks import HookOutput, VSDHook
from model.tracking.pipeline import load_tracker, track_cache


def hook_statistics(tracker, cache) -> dict[str, float]:
    """Mean Q, w and relative query edits over one cached span (frames with at least one query)."""
    records: list[tuple[float, float, float, float, float]] = []

    def mean_pairwise_cosine(x: torch.Tensor) -> float:
        unit = torch.nn.functional.normalize(x[0], dim=-1)
        n = unit.shape[0]
        return float(((unit @ unit.T).sum() - n) / (n * (n - 1))) if n > 1 else float("nan")

    def record(module, inputs, kwargs, output: HookOutput) -> None:
        queries = inputs[0] if inputs else kwargs["queries"]
        if queries.shape[1] == 0 or output.student is None:
            return
        norm = queries.norm(dim=-1).mean().item()
        student_edit = (output.student - queries).norm(dim=-1).mean().item() / norm
        fused_edit = (output.queries - queries).norm(dim=-1).mean().item() / norm
        weight = float(output.semantic_weight.mean()) if output.semantic_weight is not None else float("nan")
        records.append((weight, student_edit, fused_edit, mean_pairwise_cosine(queries), mean_pairwise_cosine(output.student)))

    handle = tracker.model.hook.register_forward_hook(record, with_kwargs=True)
    try:
        track_cache(tracker, cache)
    finally:
        handle.remove()
    q = [cache.quality_scores(number).q for number in cache.frames]
    return {
        "Q": statistics.fmean(q),
        "w": statistics.fmean(r[0] for r in records),
        "student edit": statistics.fmean(r[1] for r in records),
        "fused edit": statistics.fmean(r[2] for r in records),
        "cos F_query": statistics.fmean(r[3] for r in records if r[3] == r[3]),
        "cos S": statistics.fmean(r[4] for r in records if r[4] == r[4]),
    }


def identity_separation(tracker, cache, seq_dir: Path, max_vectors: int = 1500) -> dict[str, float]:
    """The separation score of F_query and S over one cached span (proposals matched to the ground truth)."""
    from model.core.box_ops import box_iou_numpy
    from model.data.mot_io import read_gt
    from model.tracking.proposals import proposal_inputs

    model = tracker.model
    gt = read_gt(seq_dir, cache.frames[0], cache.frames[-1])
    queries, students, ids, frames = [], [], [], []
    with torch.no_grad():
        for frame in cache.frames:
            proposals = proposal_inputs(cache.detections(frame), model.config.max_proposals)
            people = gt.pedestrians(frame)
            if len(proposals.detections) == 0 or len(people) == 0:
                continue
            iou = box_iou_numpy(proposals.detections.xyxy, people.xyxy)
            best, which = iou.max(axis=1), iou.argmax(axis=1)
            keep = best >= 0.5
            if not keep.any():
                continue
            content = model.proposal_queries(proposals.anchors, proposals.scores, proposals.features)
            semantic = model.hook.student(content).features
            queries.append(content[0, keep])
            students.append(semantic[0, keep])
            ids += people.ids[which[keep]].tolist()
            frames += [frame] * int(keep.sum())
    pick = np.random.default_rng(0).permutation(len(ids))[:max_vectors]
    identity, number = np.asarray(ids)[pick], np.asarray(frames)[pick]
    same = (identity[:, None] == identity[None]) & (number[:, None] != number[None])
    different = identity[:, None] != identity[None]
    out = {}
    for name, vectors in (("F_query", queries), ("S", students)):
        unit = torch.nn.functional.normalize(torch.cat(vectors)[pick], dim=-1).numpy()
        cosine = unit @ unit.T
        out[name] = float(cosine[same].mean() - cosine[different].mean())
        out[f"{name} same"], out[f"{name} different"] = float(cosine[same].mean()), float(cosine[different].mean())
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoints", nargs="*", default=[None])
    args = p.parse_args()
    torch.set_num_threads(1)
    seq_dir, caches = validation_caches(YoloxDetector())
    print("| checkpoint | DSWR W | DSWR b | split | mean Q | mean w | student edit | fused edit | cos F_query | cos S "
          "| id-sep F_query | id-sep S | S cos same / different person |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for path in args.checkpoints:
        tracker, meta = load_tracker("vsd-mot", path)
        if not isinstance(tracker.model.hook, VSDHook):
            raise SystemExit(f"{meta['path']} is not a student + DSWR checkpoint")
        dswr = tracker.model.hook.dswr
        file = Path(meta["path"])
        name = file.parent.name if file.name == "checkpoint.pt" else file.name  # runs/<name>/checkpoint.pt
        for split, cache in caches.items():
            s = hook_statistics(tracker, cache)
            sep = identity_separation(tracker, cache, seq_dir)
            print(f"| {name} | {dswr.W.item():+.3f} | {dswr.b.item():+.3f} | {split} | {s['Q']:.3f} | {s['w']:.3f} "
                  f"| {s['student edit']:.3f} | {s['fused edit']:.3f} | {s['cos F_query']:.3f} | {s['cos S']:.3f} "
                  f"| {sep['F_query']:.3f} | {sep['S']:.3f} | {sep['S same']:.3f} / {sep['S different']:.3f} |", flush=True)


if __name__ == "__main__":
    main()

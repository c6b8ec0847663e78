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

    python -m benchmarks.vsd_diagnostics [CHECKPOINT ...]   (default assets/vsd_mot.pt)
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

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


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoints", nargs="*", default=[None])
    args = p.parse_args()
    torch.set_num_threads(1)
    _, caches = validation_caches(YoloxDetector())
    print("| checkpoint | DSWR W | DSWR b | split | mean Q | mean w | student edit | fused edit | cos F_query | cos S |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for path in args.checkpoints:
        tracker, meta = load_tracker("vsd-mot", path)
        if not isinstance(tracker.model.hook, VSDHook):
            raise SystemExit(f"{meta['path']} is not a student + DSWR checkpoint")
        dswr = tracker.model.hook.dswr
        file = Path(meta["path"])
        name = file.parent.name if file.name == "checkpoint.pt" else file.name  # runs/<name>/checkpoint.pt
        for split, cache in caches.items():
            s = hook_statistics(tracker, cache)
            print(f"| {name} | {dswr.W.item():+.3f} | {dswr.b.item():+.3f} | {split} | {s['Q']:.3f} | {s['w']:.3f} "
                  f"| {s['student edit']:.3f} | {s['fused edit']:.3f} | {s['cos F_query']:.3f} | {s['cos S']:.3f} |")


if __name__ == "__main__":
    main()

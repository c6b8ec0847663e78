"""The paper's ablations on our data, from one command: trains what is missing (or reuses finished
runs under ``runs/ablations/``) and prints Tables V-VII in the paper's layout on the validation split
(PETS09-S2L1 501-795, clean / `medium` / `severe`, seed 0). Table VIII is `benchmarks/efficiency.py`.

Every VSD-MOT row and the "baseline, same extra training" control start from the host `benchmarks.runs.HOST` (the first shipped `assets/baseline.pt`) and
train for the same schedule, so differences come from the method, not from extra epochs.

    python -m benchmarks.ablations [--tables V VI VII headline teacher-view student] [--seeds 0 1] [--jobs 2] [--dry-run]
"""

from __future__ import annotations

import argparse
from concurrent.futures import ThreadPoolExecutor

import torch

from benchmarks.common import format_table, validation_caches
from benchmarks.runs import is_finished, run_dir, train
from model.tracking.detector import YoloxDetector
from model.evaluation.metrics import evaluate_sequence
from model.tracking.pipeline import load_tracker, track_cache

TABLES: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "V": ("Table V analogue: components", [
        ("baseline, same extra training", "baseline-cont"), ("+ student, plain distillation", "plain"),
        ("+ student, DCSD", "dcsd"), ("+ student, DCSD + DSWR (VSD-MOT)", "dcsd-dswr")]),
    "VI": ("Table VI analogue: LQ:HQ mix of the training set", [
        ("all HQ", "mix-hq"), ("1:1", "mix-1to1"), ("2:1", "dcsd-dswr"), ("all LQ", "mix-lq")]),
    "VII": ("Table VII analogue: alpha of eq. 15", [
        ("alpha 0.2", "alpha-0.2"), ("alpha 0.4", "dcsd-dswr"), ("alpha 0.6", "alpha-0.6")]),
    "headline": ("Headline: the fair control against the shipped VSD-MOT (student hidden 64), more seeds", [
        ("baseline, same extra training", "baseline-cont"), ("VSD-MOT, student hidden 64 (assets/vsd_mot.pt)", "student-h64")]),
    "teacher-view": ("Beyond the paper: what the teacher sees on degraded training frames", [
        ("baseline, same extra training", "baseline-cont"), ("VSD-MOT, teacher sees the degraded frame (paper)", "dcsd-dswr"),
        ("VSD-MOT, teacher sees the clean original (ours)", "clean-teacher")]),
    "student": ("Student size (ours: the paper leaves hidden_dim open; cost in benchmarks/efficiency.py)", [
        ("hidden 256, ffn 512 (1.7 M)", "dcsd-dswr"), ("hidden 64, ffn 128 (0.13 M)", "student-h64")]),
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tables", nargs="*", default=list(TABLES), choices=list(TABLES))
    p.add_argument("--seeds", nargs="*", type=int, default=[0])
    p.add_argument("--jobs", type=int, default=2, help="training runs in parallel (1 thread each)")
    p.add_argument("--dry-run", action="store_true", help="list the runs and whether they exist")
    args = p.parse_args()
    needed = sorted({(run, s) for t in args.tables for _, run in TABLES[t][1] for s in args.seeds})
    if args.dry_run:
        for run, s in needed:
            print(run_dir(run, s), "done" if is_finished(run_dir(run, s)) else "to train")
        return
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        list(pool.map(lambda rs: train(rs[0], rs[1], 1), needed))

    torch.set_num_threads(1)
    seq_dir, caches = validation_caches(YoloxDetector())
    first, last = caches["hq"].frames[0], caches["hq"].frames[-1]
    metrics: dict[tuple[str, int], dict] = {}  # a run shared by several tables is evaluated once

    def evaluate(run: str, seed: int) -> dict:
        if (run, seed) not in metrics:
            tracker, _ = load_tracker("baseline" if run.startswith("baseline") else "vsd-mot", run_dir(run, seed) / "checkpoint.pt")
            metrics[run, seed] = {split: evaluate_sequence(seq_dir, track_cache(tracker, cache), first=first, last=last)
                                  for split, cache in caches.items()}
        return metrics[run, seed]

    for t in args.tables:
        title, rows = TABLES[t]
        out, hota = [], {}
        for label, run in rows:
            for s in args.seeds:
                for split, m in evaluate(run, s).items():
                    out.append((f"{label} (seed {s})", split, m, {}))
                    hota.setdefault(label, {}).setdefault(split, []).append(m.HOTA)
        print(f"\n## {title}\n")
        print(format_table(out))
        print(f"\nMean HOTA over seeds {', '.join(map(str, args.seeds))} (min-max in brackets):\n")
        print(mean_table(hota, list(caches)))


def mean_table(hota: dict[str, dict[str, list[float]]], splits: list[str]) -> str:
    """Rows x splits of mean HOTA with the seed range, so a reader sees the run-to-run noise next to every mean."""
    lines = ["| row | " + " | ".join(splits) + " |", "|---|" + "---|" * len(splits)]
    for label, by_split in hota.items():
        cells = []
        for split in splits:
            values = by_split[split]
            mean = sum(values) / len(values)
            cells.append(f"{mean:.1f}" + (f" ({min(values):.1f}-{max(values):.1f})" if len(values) > 1 else ""))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()

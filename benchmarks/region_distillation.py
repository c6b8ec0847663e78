"""Issue 13's Table V analogue on host v2: the fair control, the paper's global token, and region tokens
(ours) from an image teacher and a person re-ID teacher, clean or degraded view.

    python -m benchmarks.region_distillation [--seeds 0 1 2 3] [--jobs 2] [--rows NAME ...]

Every row starts from the same host (``benchmarks.runs.HOSTS["v2"]``, the shipped baseline since
f0e9b33) with the same extra schedule and data (labelled spans + the pseudo-labelled clips). The
frozen caches every row reads (detector outputs, global teacher embeddings, region tokens) are built
first, one teacher setting per process, so two training runs never build the same cache at once.
Then the runs train two at a time (resumable), and the protocol (full profile) judges them: the main
table, and each VSD-MOT row paired with the control per (training seed, recipe, sequence).
"""

from __future__ import annotations

import argparse
import sys
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

from benchmarks.protocol import (
    V2_CONTROL, V2_PAPER, V2_PAPER_NODSWR, V2_REGIONS_EFFNET_CLEAN, V2_REGIONS_REID_CLEAN,
    V2_REGIONS_REID_CLEAN_NODSWR, V2_REGIONS_REID_CLEAN_SHARP, V2_REGIONS_REID_DEGRADED, compute, main_table,
    paired_table, pooled_degraded_table, row_order, spread_table,
)
from benchmarks.runs import RUN_HOSTS, RUNS, SCHEDULE, ensure_pseudo_clips, host_checkpoint, train
from model.evaluation.protocol import PROFILES, Profile

ROWS = (V2_CONTROL, V2_PAPER, V2_PAPER_NODSWR, V2_REGIONS_EFFNET_CLEAN, V2_REGIONS_REID_CLEAN,
        V2_REGIONS_REID_DEGRADED, V2_REGIONS_REID_CLEAN_SHARP, V2_REGIONS_REID_CLEAN_NODSWR)
# (with DSWR, without DSWR): Table V's DSWR ablation, paired with each other as well as with the control
DSWR_PAIRS = ((V2_PAPER, V2_PAPER_NODSWR), (V2_REGIONS_REID_CLEAN, V2_REGIONS_REID_CLEAN_NODSWR))


def prepare(name: str) -> str:
    """Build every frozen cache run ``name`` reads (what ``train`` would build on its first epoch)."""
    import torch

    from model.cli import parse_train_config
    from model.core import settings
    from model.tracking.detector import YoloxDetector
    from model.training.loop import load_training_data

    torch.set_num_threads(1)
    cfg = parse_train_config([*RUNS[name], *SCHEDULE, "--init", str(host_checkpoint(RUN_HOSTS.get(name, "v1")))])
    teacher = None
    if cfg.needs_teacher and cfg.teacher_tokens == "regions":
        from model.vsd.regions import build_region_teacher

        teacher = build_region_teacher(cfg.teacher)
    elif cfg.needs_teacher:
        from model.vsd.teacher import build_teacher

        teacher = build_teacher(cfg.teacher)
    sequences = load_training_data(cfg, settings.data_dir(), YoloxDetector(), teacher)
    return f"{name}: {len(sequences)} renditions ready"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", nargs="*", type=int, default=list(PROFILES["full"].training_seeds))
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--rows", nargs="*", default=[row.run for row in ROWS], help="run names of the rows to train")
    p.add_argument("--report-only", action="store_true", help="no training: judge the finished runs")
    args = p.parse_args(argv)
    rows = tuple(row for row in ROWS if row.run in args.rows)
    if V2_CONTROL not in rows:  # the paired tables need the control
        rows = (V2_CONTROL, *rows)
    if not args.report_only:
        ensure_pseudo_clips()
        print(prepare(rows[0].run), file=sys.stderr)  # the frame caches, once
        with ProcessPoolExecutor(max_workers=args.jobs) as pool:  # then each teacher's tokens
            for line in pool.map(prepare, [row.run for row in rows[1:]]):
                print(line, file=sys.stderr)
        # Seed-major, so the first seeds of every row finish first.
        runs = [(row.run, seed) for seed in args.seeds for row in rows]
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            list(pool.map(lambda rs: train(rs[0], rs[1], 1), runs))
    full = PROFILES["full"]
    profile = Profile(full.name, full.recipe_seeds, tuple(args.seeds))
    table = compute(profile, args.jobs, [], rows)
    print(f"Command: `python -m benchmarks.region_distillation {' '.join(argv if argv is not None else sys.argv[1:])}`"
          f" — training seeds {list(args.seeds)}, recipe seeds {list(full.recipe_seeds)}\n")
    print(main_table(table, row_order(table, [], rows)))
    present = tuple(row for row in rows if row.label in table.units)
    print("\n#### Training-seed spread (mean HOTA over recipes per seed, std over seeds)\n")
    print(spread_table(table, present))
    for row in rows[1:]:
        if row.label in table.units and rows[0].label in table.units:
            print(f"\n#### Paired: {row.label} − the fair control\n")
            print(paired_table(table, row, rows[0]))
    for with_dswr, without in DSWR_PAIRS:
        if with_dswr.label in table.units and without.label in table.units:
            print(f"\n#### Paired: DSWR on − off ({with_dswr.label})\n")
            print(paired_table(table, with_dswr, without))
    print("\n#### Pooled over the degraded conditions: each row − the fair control\n")
    print(pooled_degraded_table(table, present[1:], rows[0]))
    for with_dswr, without in DSWR_PAIRS:
        if with_dswr.label in table.units and without.label in table.units:
            print(f"\n#### Pooled over the degraded conditions: DSWR on − off ({with_dswr.label})\n")
            print(pooled_degraded_table(table, (with_dswr,), without))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Train a set of named runs from one host and judge them with the protocol: the shared body of the
Table V script (``benchmarks.region_distillation``, issue 13) and the host-lever script
(``benchmarks.host_levers``, issue 12).

The frozen caches every row reads (detector outputs, global teacher embeddings, region tokens) are
built first, one row per process, so two training runs never build the same cache at once. Then the
runs train ``jobs`` at a time (resumable), and the protocol (full profile) judges them: the main
table, the training-seed spread, each row paired with the first row (the fair control) per (training
seed, recipe, sequence), the named extra pairs, and each comparison pooled over the degraded
conditions with an interval that resamples training seeds.
"""

from __future__ import annotations

import argparse
import sys
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

from benchmarks.protocol import (
    LearnedRow, compute, main_table, paired_table, pooled_degraded_table, row_order, spread_table,
)
from benchmarks.runs import RUN_HOSTS, RUNS, SCHEDULE, ensure_pseudo_clips, host_checkpoint, train
from model.evaluation.protocol import PROFILES, Profile


def prepare(name: str) -> str:
    """Build every frozen cache run ``name`` reads (what ``train`` would build on its first epoch)."""
    import torch

    from model.cli import parse_train_config
    from model.core import settings
    from model.tracking.detector import YoloxDetector
    from model.training.loop import load_training_data

    torch.set_num_threads(1)
    cfg = parse_train_config([*SCHEDULE, *RUNS[name], "--init", str(host_checkpoint(RUN_HOSTS.get(name, "v1")))])
    teacher = None
    if cfg.needs_teacher and cfg.teacher_tokens == "regions":
        from model.vsd.regions import build_region_teacher

        teacher = build_region_teacher(cfg.teacher)
    elif cfg.needs_teacher:
        from model.vsd.teacher import build_teacher

        teacher = build_teacher(cfg.teacher)
    sequences = load_training_data(cfg, settings.data_dir(), YoloxDetector(), teacher)
    return f"{name}: {len(sequences)} renditions ready"


def main(argv: list[str] | None, *, script: str, description: str, rows: tuple[LearnedRow, ...],
         pairs: tuple[tuple[LearnedRow, LearnedRow, str], ...] = ()) -> int:
    """``rows[0]`` is the control every other row is paired with; ``pairs`` are (a, b, title) extra pairings."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--seeds", nargs="*", type=int, default=list(PROFILES["full"].training_seeds))
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--rows", nargs="*", default=[row.run for row in rows],
                   help="run names of the rows to train (a run judged under two rule sets gives two rows)")
    p.add_argument("--report-only", action="store_true", help="no training: judge the finished runs")
    args = p.parse_args(argv)
    unknown = set(args.rows) - {row.run for row in rows}
    if unknown:
        p.error(f"unknown rows {sorted(unknown)}; choose from {[row.run for row in rows]}")
    control = rows[0]
    chosen = (control, *(row for row in rows[1:] if row.run in args.rows))  # the paired tables need the control
    if not args.report_only:
        ensure_pseudo_clips()
        print(prepare(control.run), file=sys.stderr)  # the frame caches, once
        with ProcessPoolExecutor(max_workers=args.jobs) as pool:  # then each row's own caches
            for line in pool.map(prepare, list(dict.fromkeys(row.run for row in chosen[1:] if row.run != control.run))):
                print(line, file=sys.stderr)
        # Seed-major, so the first seeds of every row finish first.
        runs = list(dict.fromkeys((row.run, seed) for seed in args.seeds for row in chosen))  # rows may share a run
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            list(pool.map(lambda rs: train(rs[0], rs[1], 1), runs))
    full = PROFILES["full"]
    profile = Profile(full.name, full.recipe_seeds, tuple(args.seeds))
    table = compute(profile, args.jobs, [], chosen)
    print(f"Command: `python -m {script} {' '.join(argv if argv is not None else sys.argv[1:])}`"
          f" — training seeds {list(args.seeds)}, recipe seeds {list(full.recipe_seeds)}\n")
    print(main_table(table, row_order(table, [], chosen)))
    present = tuple(row for row in chosen if row.label in table.units)
    print("\n#### Training-seed spread (mean HOTA over recipes per seed, std over seeds)\n")
    print(spread_table(table, present))
    if control not in present:
        return 0
    extra = [(a, b, title) for a, b, title in pairs if a in present and b in present]
    for row in present[1:]:
        print(f"\n#### Paired: {row.label} − the fair control\n")
        print(paired_table(table, row, control))
    for a, b, title in extra:
        print(f"\n#### Paired: {title}\n")
        print(paired_table(table, a, b))
    print("\n#### Pooled over the degraded conditions: each row − the fair control\n")
    print(pooled_degraded_table(table, present[1:], control))
    for a, b, title in extra:
        print(f"\n#### Pooled over the degraded conditions: {title}\n")
        print(pooled_degraded_table(table, (a,), b))
    return 0

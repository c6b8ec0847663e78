"""Does training on pseudo-labelled clips of new scenes help? The control against the control + clips.

    python -m benchmarks.pseudo_training [--seeds 0 1 2 3] [--jobs 2]

Both runs start from the host ``benchmarks.runs.HOST`` (the first shipped ``assets/baseline.pt``) with the same extra schedule (``benchmarks.runs``): the fair
control (``baseline-cont-ema``) and the same with the pseudo-labelled clips (``baseline-cont-ema-pseudo``:
``runs/pseudo/<clip>``, made first if missing, from the unlabelled videos, never the validation clip).
Each is judged by the protocol (full profile: both validation sets, every condition and recipe) with
the paired difference per (training seed, recipe, sequence) and its 95 % interval, for the last
weights and for their EMA. Trains what is missing (resumable), evaluates what is not stored.
"""

from __future__ import annotations

import argparse
import sys
from concurrent.futures import ThreadPoolExecutor

from benchmarks.protocol import CONTROL, CONTROL_EMA, PSEUDO, PSEUDO_EMA, compute, main_table, paired_table, row_order
from benchmarks.runs import ensure_pseudo_clips, train
from model.evaluation.protocol import PROFILES, Profile


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", nargs="*", type=int, default=list(PROFILES["full"].training_seeds))
    p.add_argument("--jobs", type=int, default=2)
    args = p.parse_args(argv)
    ensure_pseudo_clips()  # once, before two runs at a time would both make them
    runs = [(run, seed) for seed in args.seeds for run in ("baseline-cont-ema", "baseline-cont-ema-pseudo")]
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        list(pool.map(lambda rs: train(rs[0], rs[1], 1), runs))
    full = PROFILES["full"]
    profile = Profile(full.name, full.recipe_seeds, tuple(args.seeds))
    rows = (CONTROL, CONTROL_EMA, PSEUDO, PSEUDO_EMA)
    table = compute(profile, args.jobs, [], rows)
    print(f"Command: `python -m benchmarks.pseudo_training {' '.join(argv if argv is not None else sys.argv[1:])}`"
          f" — training seeds {list(args.seeds)}, recipe seeds {list(full.recipe_seeds)}\n")
    print(main_table(table, row_order(table, [], rows)))
    print("\n### Paired: control + pseudo-labelled clips − the fair control (last weights)\n")
    print(paired_table(table, PSEUDO, CONTROL))
    print("\n### Paired: the same, EMA weights\n")
    print(paired_table(table, PSEUDO_EMA, CONTROL_EMA))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""How the frame quality Q (model/vsd/quality.py) separates clean from degraded video.

Scores every ``--step``-th frame of a MOTChallenge sequence (PETS09-S2L1 by default), clean and
after each Real-ESRGAN degradation preset of model/vsd/degrade.py, and prints mean +- std of the
normalised clarity, noise, contrast and Q, plus the semantic weight the freshly initialised DSWR
would give at that Q. This is the evidence that Q moves the way DSWR needs (lower on worse video).

    .venv/bin/python -m benchmarks.quality_stats [--sequence PETS09-S2L1] [--step 5] [--seed 0]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from model.core import settings
from model.vsd.degrade import PRESETS, Degrader
from model.vsd.dswr import DSWR
from model.vsd.quality import assess_frame
from model.data.video import open_frames

COLUMNS = ("clarity", "noise", "contrast", "q")


def score_condition(frames: list[tuple[int, np.ndarray]], degrader: Degrader | None) -> np.ndarray:
    """(N, 4) clarity, noise, contrast, Q of each frame, degraded first when a degrader is given."""
    rows = []
    for number, frame in frames:
        image = frame if degrader is None else degrader(frame, number)
        scores = assess_frame(image)
        rows.append([getattr(scores, c) for c in COLUMNS])
    return np.array(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequence", default="PETS09-S2L1", help="folder under the MOTChallenge data dir")
    parser.add_argument("--step", type=int, default=5, help="score every STEP-th frame")
    parser.add_argument("--seed", type=int, default=0, help="degradation seed (one draw per preset)")
    parser.add_argument("--presets", nargs="*", default=list(PRESETS), choices=list(PRESETS))
    args = parser.parse_args(argv)
    if args.step < 1:
        parser.error("--step must be at least 1")
    data = settings.data_dir()
    if data is None or not (data / args.sequence).is_dir():
        raise SystemExit(
            f"sequence {args.sequence!r} not found: set VSDMOT_DATA_DIR (or VSDMOT_SHARED_DIR) "
            "to the MOTChallenge folder"
        )
    torch.set_num_threads(1)
    frames = [(n, f) for n, f in open_frames(data / args.sequence) if (n - 1) % args.step == 0]
    dswr = DSWR()

    print(f"{args.sequence}: {len(frames)} frames (every {args.step}th), degradation seed {args.seed}\n")
    print("| condition | clarity | noise | contrast | Q | DSWR w (init) | s/frame (degrade + Q) |")
    print("|---|---|---|---|---|---|---|")
    for preset in [None, *args.presets]:
        start = time.perf_counter()
        degrader = None if preset is None else Degrader(preset=preset, seed=args.seed)
        table = score_condition(frames, degrader)
        seconds = (time.perf_counter() - start) / len(frames)
        with torch.no_grad():
            weight = dswr.semantic_weight(torch.tensor(table[:, 3].mean())).item()
        cells = [f"{m:.3f} +- {s:.3f}" for m, s in zip(table.mean(0), table.std(0))]
        print(f"| {preset or 'clean'} | " + " | ".join(cells) + f" | {weight:.3f} | {seconds:.3f} |")


if __name__ == "__main__":
    main()

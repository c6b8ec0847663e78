"""Issue 13's Table V analogue on host v2: the fair control, the paper's global token, and region tokens
(ours) from an image teacher and a person re-ID teacher, clean or degraded view, with and without DSWR.

    python -m benchmarks.region_distillation [--seeds 0 1 2 3] [--jobs 2] [--rows NAME ...] [--report-only]

Every row starts from the same host (``benchmarks.runs.HOSTS["v2"]``, the shipped baseline since
f0e9b33) with the same extra schedule and data (labelled spans + the pseudo-labelled clips); how the
rows are trained and judged is :mod:`benchmarks.learned_rows`.
"""

from __future__ import annotations

import sys

from benchmarks import learned_rows
from benchmarks.protocol import (
    V2_CONTROL, V2_PAPER, V2_PAPER_NODSWR, V2_REGIONS_EFFNET_CLEAN, V2_REGIONS_REID_CLEAN,
    V2_REGIONS_REID_CLEAN_NODSWR, V2_REGIONS_REID_CLEAN_SHARP, V2_REGIONS_REID_DEGRADED,
)

ROWS = (V2_CONTROL, V2_PAPER, V2_PAPER_NODSWR, V2_REGIONS_EFFNET_CLEAN, V2_REGIONS_REID_CLEAN,
        V2_REGIONS_REID_DEGRADED, V2_REGIONS_REID_CLEAN_SHARP, V2_REGIONS_REID_CLEAN_NODSWR)
# (with DSWR, without DSWR): Table V's DSWR ablation, paired with each other as well as with the control
DSWR_PAIRS = ((V2_PAPER, V2_PAPER_NODSWR), (V2_REGIONS_REID_CLEAN, V2_REGIONS_REID_CLEAN_NODSWR))


def main(argv: list[str] | None = None) -> int:
    pairs = tuple((a, b, f"DSWR on − off ({a.label})") for a, b in DSWR_PAIRS)
    return learned_rows.main(argv, script="benchmarks.region_distillation", description=__doc__.split("\n\n")[0],
                             rows=ROWS, pairs=pairs)


if __name__ == "__main__":
    sys.exit(main())

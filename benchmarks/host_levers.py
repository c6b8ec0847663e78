"""Issue 12's levers on the host tracker, each the fair control (host v2 + the same extra training) with
one change, judged by the protocol (full profile) and paired with that control.

    python -m benchmarks.host_levers [--seeds 0 1 2 3] [--jobs 2] [--rows NAME ...] [--report-only]

Rows (ours): ``v2-control-realesrgan`` adds a ``realesrgan`` copy (eq. 17's second-order pipeline,
seed 13) of every training sequence beside the ``medium`` and ``severe`` copies the host trains on;
``v2-control-clip8`` trains on clips of 8 frames instead of 5 (250 clips per epoch instead of 400, so the
same frames);
``v2-control-motion`` trains and runs with track-query anchors moved by their velocity
(``--track-motion-momentum 0.5``, ``model.tracking.motion``), judged under the rules of 2026-12-07 and paired
with the control under those rules as well;
``v2-control-recipes2`` trains on two degradation recipes per preset (medium seeds 11 and 21, severe 12 and
22) with the same LQ:HQ mix, judged under the defaults of 2026-12-08 and paired with the control under them;
the control's weights under the rules of 2026-12-07 with the snap IoU lowered to 0.4 (chosen on the
training spans) are a second rules lever, paired with the control under the unchanged rules;
the control's own runs under the run-time rules of 2026-12-07 (lost-track takeover and the motion
prior, ``model.tracking.runtime``) are the rules lever -- same weights, paired unit by unit.
The validation recipes use seeds 0-2, never a training seed. How the rows are trained and judged is
:mod:`benchmarks.learned_rows`.
"""

from __future__ import annotations

import sys

from benchmarks import learned_rows
from benchmarks.protocol import (
    V2_CONTROL, V2_CONTROL_CLIP8, V2_CONTROL_MOTION, V2_CONTROL_REALESRGAN, V2_CONTROL_RECIPES2, V2_CONTROL_SNAP04,
    V2_CONTROL_TAKEOVER,
)

ROWS = (V2_CONTROL, V2_CONTROL_REALESRGAN, V2_CONTROL_CLIP8, V2_CONTROL_TAKEOVER, V2_CONTROL_MOTION, V2_CONTROL_SNAP04,
        V2_CONTROL_RECIPES2)
# The motion-prior anchors run under the rules of 2026-12-07, so their own control is the control's weights
# under those rules (the pairing with V2_CONTROL mixes the anchors with the rules).
PAIRS = ((V2_CONTROL_MOTION, V2_CONTROL_TAKEOVER,
          "track anchors moved by their velocity − the control, both under the rules of 2026-12-07"),
         (V2_CONTROL_SNAP04, V2_CONTROL_TAKEOVER,
          "snap IoU 0.4 − 0.5, the control's weights, otherwise the rules of 2026-12-07"),
         (V2_CONTROL_RECIPES2, V2_CONTROL_SNAP04,
          "two training recipes per preset − the control, both under the defaults of 2026-12-08"))


def main(argv: list[str] | None = None) -> int:
    return learned_rows.main(argv, script="benchmarks.host_levers", description=__doc__.split("\n\n")[0], rows=ROWS, pairs=PAIRS)


if __name__ == "__main__":
    sys.exit(main())

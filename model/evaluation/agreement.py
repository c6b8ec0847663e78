"""Agreement between two runs of a tracker on the same clip: one run's tracks scored as if the other's
were the ground truth (ours, for the demo's robustness sweep).

Why this and not accuracy: an upload without labels has no ground truth, yet "how much of what the
tracker saw on the clean clip does it still see, with the same identities, once the clip is
degraded?" is exactly what a robustness sweep asks. The answer is TrackEval's HOTA with the clean
run's tracks as the reference, so it reads like HOTA but says nothing about whether the clean run
was right; the demo and the API name it *agreement* for that reason.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from model.core.types import Tracks
from model.data.mot_io import MotTable
from model.evaluation.metrics import TrackMetrics, evaluate_sequence


def write_reference_sequence(folder: Path, reference: Mapping[int, Tracks], num_frames: int,
                             width: int, height: int, name: str = "reference") -> Path:
    """A MOTChallenge folder (``gt/gt.txt`` + ``seqinfo.ini``) whose ground truth is ``reference``.

    Every row is marked as counted (conf 1): a reference track is a target whatever its score was.
    """
    table = MotTable.from_tracks(dict(reference))
    if len(table):
        table.values[:, 6] = 1.0
    table.write(folder / "gt" / "gt.txt")
    (folder / "seqinfo.ini").write_text(
        f"[Sequence]\nname={name}\nseqLength={int(num_frames)}\nimWidth={int(width)}\nimHeight={int(height)}\n"
    )
    return folder


def agreement(reference: Mapping[int, Tracks], predicted: Mapping[int, Tracks], num_frames: int,
              width: int, height: int) -> TrackMetrics | None:
    """``predicted`` scored against ``reference`` over frames 1..num_frames; None when the reference
    has no box at all (nothing to agree with: HOTA is undefined)."""
    if not any(len(t) for t in reference.values()):
        return None
    # Boxes are clipped to the image, as a ground truth's would be; an empty frame stays empty.
    clipped = {f: _clip(t, width, height) for f, t in predicted.items()}
    with tempfile.TemporaryDirectory(prefix="vsdmot-agreement-") as tmp:
        folder = write_reference_sequence(Path(tmp), {f: _clip(t, width, height) for f, t in reference.items()},
                                          num_frames, width, height)
        return evaluate_sequence(folder, clipped, benchmark="MOT15")


def _clip(tracks: Tracks, width: int, height: int) -> Tracks:
    xyxy = np.clip(np.asarray(tracks.xyxy, dtype=np.float32), 0, [width, height, width, height])
    return Tracks(xyxy=xyxy, scores=tracks.scores, ids=tracks.ids)

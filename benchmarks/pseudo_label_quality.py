"""How good are the pseudo-labels? Scored against real ground truth on the labelled training spans.

    python -m benchmarks.pseudo_label_quality [--write-clips runs/pseudo]

For each option of :class:`model.data.pseudo_labels.PseudoLabelConfig` worth a question (one pass
or both directions, re-ID stitching, its threshold, the gap, the least track length), the
pseudo-labels of TUD-Stadtmitte 1-179 and PETS09-S2L1 1-500 (the training spans: choosing here is
allowed) are scored with the project's TrackEval metrics against their ground truth. Prints one
Markdown table; detections and embeddings are computed once per span and kept in the cache folder.
``--write-clips`` then pseudo-labels every unlabelled clip of the videos folder (never the
validation source) with the defaults and prints their counts.
"""

from __future__ import annotations

import argparse
import pickle
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

from benchmarks.common import machine_line
from model.core import settings
from model.data.pseudo_labels import VALIDATION_SOURCES, PseudoLabelConfig, pseudo_label
from model.data.pseudo_sequence import SourceDetections, detect_source, pseudo_label_source
from model.evaluation.metrics import evaluate_sequence

SPANS = (("TUD-Stadtmitte", 1, 179), ("PETS09-S2L1", 1, 500))
DEFAULT = PseudoLabelConfig()
VARIANTS: tuple[tuple[str, PseudoLabelConfig], ...] = (
    ("forward only, no re-ID", replace(DEFAULT, bidirectional=False, reid=False)),
    ("forward only + re-ID stitching", replace(DEFAULT, bidirectional=False)),
    ("both directions, no re-ID", replace(DEFAULT, reid=False)),
    ("both directions + re-ID stitching (default)", DEFAULT),
    ("  high score 0.5 (the first defaults: + max gap 30)", replace(DEFAULT, high_score=0.5, max_gap=30)),
    ("  high score 0.5", replace(DEFAULT, high_score=0.5)),
    ("  high score 0.6", replace(DEFAULT, high_score=0.6)),
    ("  high score 0.8", replace(DEFAULT, high_score=0.8)),
    ("  re-ID threshold 0.5", replace(DEFAULT, reid_threshold=0.5)),
    ("  re-ID threshold 0.7", replace(DEFAULT, reid_threshold=0.7)),
    ("  max gap 30", replace(DEFAULT, max_gap=30)),
    ("  max gap 8", replace(DEFAULT, max_gap=8)),
    ("  min detections 4", replace(DEFAULT, min_detections=4)),
    ("  min detections 16", replace(DEFAULT, min_detections=16)),
    ("  max age 5", replace(DEFAULT, max_age=5)),
    ("  low score 0.3", replace(DEFAULT, low_score=0.3)),
)


def _detections(name: str, first: int, last: int, detector, embedder) -> SourceDetections:
    path = (settings.cache_dir() / "pseudo"
            / f"{name}-{first}-{last}-{detector.name}-{embedder.config.model}-e{DEFAULT.embed_score:g}.pkl")
    if path.is_file():
        return pickle.loads(path.read_bytes())
    found = detect_source(settings.data_dir() / name, detector, embedder, first, last, DEFAULT.embed_score,
                          progress=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(found))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write-clips", type=Path, help="pseudo-label every unlabelled clip into this folder")
    args = parser.parse_args(argv)
    if settings.data_dir() is None:
        print("error: no data folder (VSDMOT_DATA_DIR)", file=sys.stderr)
        return 2
    from model.tracking.detector import YoloxDetector
    from model.tracking.reid import ReidEmbedder

    detector, embedder = YoloxDetector(), ReidEmbedder()
    found = {span: _detections(*span, detector, embedder) for span in SPANS}
    header = [f"{name} {first}-{last}" for name, first, last in SPANS]
    print("| pseudo-labels | " + " | ".join(header) + " | mean HOTA | mean IDF1 |")
    print("|---|" + "---|" * (len(SPANS) + 2))
    for label, config in VARIANTS:
        cells, hotas, idf1s = [], [], []
        for (name, first, last), source in found.items():
            tracks = pseudo_label(source.detections, config, source.embeddings if config.reid else None)
            m = evaluate_sequence(settings.data_dir() / name, {first + i: t for i, t in enumerate(tracks)},
                                  first=first, last=last)
            cells.append(f"{m.HOTA:.1f} / {m.DetA:.1f} / {m.AssA:.1f} / {m.IDF1:.1f} ({m.pred_ids} ids, gt {m.gt_ids})")
            hotas.append(m.HOTA)
            idf1s.append(m.IDF1)
        print(f"| {label} | " + " | ".join(cells) + f" | {statistics.mean(hotas):.1f} | {statistics.mean(idf1s):.1f} |")
    print("\ncells: HOTA / DetA / AssA / IDF1 (identities in the pseudo-labels, in the ground truth)")

    if args.write_clips is not None:
        videos = settings.videos_dir()
        clips = sorted(p for p in videos.iterdir() if p.suffix.lower() in {".mp4", ".avi", ".gif"}
                       and p.name not in VALIDATION_SOURCES and "overlays" not in p.name)
        print("\n| clip | frames | tracks | boxes | interpolated | seconds |\n|---|---|---|---|---|---|")
        for clip in clips:
            tick = time.perf_counter()
            out = pseudo_label_source(clip, args.write_clips / clip.stem, overwrite=True, progress=False)
            import json

            meta = json.loads((out / "pseudo_labels.json").read_text())
            frames = meta["frames"][1] - meta["frames"][0] + 1
            print(f"| {clip.name} | {frames} | {meta['tracks']} | {meta['boxes']} | {meta['interpolated_boxes']} "
                  f"| {time.perf_counter() - tick:.0f} |")
    print(f"\n{machine_line()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

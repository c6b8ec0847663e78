"""The demo's example clips, tracked by the shipped checkpoints: broken-box counters per clip (issue 12).

    python -m benchmarks.example_clips [--degrade none medium] [--frames-to test-artifacts]

Every clip the demo offers as an example (``app.ui.example_clips``: the featured ones first, then the
shortest) is tracked by both shipped variants, clean and under each requested preset (seed 0), and the
protocol's counters are printed (``model.evaluation.sanity``: degenerate boxes, part tracks,
identities). With ``--frames-to`` one rendered frame per featured clip and variant is written there
(the middle frame, tracks drawn), to be looked at by eye.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2

from benchmarks.common import machine_line
from model.core import settings
from model.core.choices import NO_DEGRADATION, VARIANTS
from model.data.render import draw_tracks
from model.data.video import open_frames
from model.evaluation.sanity import sanity_counters
from model.tracking.detector import YoloxDetector
from model.tracking.pipeline import load_tracker, prepare_frames, track_prepared


def main(argv: list[str] | None = None) -> int:
    from app.ui import FEATURED_EXAMPLES, example_clips

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--degrade", nargs="*", default=[NO_DEGRADATION, "medium"])
    p.add_argument("--frames-to", type=Path, default=None)
    args = p.parse_args(argv)
    clips = example_clips(settings.videos_dir())
    if not clips:
        raise SystemExit("no example clips: set VSDMOT_VIDEOS_DIR (or VSDMOT_SHARED_DIR)")
    detector = YoloxDetector()
    trackers = {v: load_tracker(v, detector=detector)[0] for v in VARIANTS}
    print(f"Machine: {machine_line()}\n")
    print("| clip | frames | degradation | " + " | ".join(f"{v}: boxes, degenerate, part tracks, identities"
                                                       for v in VARIANTS) + " |")
    print("|---|---|---|" + "---|" * len(VARIANTS))
    for clip in map(Path, clips):
        for level in args.degrade:
            transform = None
            if level != NO_DEGRADATION:
                from model.vsd.degrade import Degrader

                transform = Degrader(preset=level, seed=0)
            cells, frames = [], 0
            for variant, tracker in trackers.items():
                middle: dict[str, object] = {}
                count = len(open_frames(clip))

                def keep_middle(item, tracks, info, count=count, middle=middle, variant=variant) -> None:
                    if item.number == (count + 1) // 2:
                        middle["image"] = draw_tracks(item.frame, tracks, f"{variant} #{item.number}")

                tracks = track_prepared(tracker, prepare_frames(open_frames(clip), detector, transform=transform,
                                                                assess=tracker.needs.quality), on_frame=keep_middle)
                frames = len(tracks)
                c = sanity_counters(tracks)
                cells.append(f"{c.boxes}, {c.degenerate}, {c.part_tracks}, {c.identities}")
                if args.frames_to is not None and clip.name in FEATURED_EXAMPLES and "image" in middle:
                    args.frames_to.mkdir(parents=True, exist_ok=True)
                    cv2.imwrite(str(args.frames_to / f"example-{clip.stem}-{level}-{variant}.jpg"), middle["image"])
            print(f"| {clip.name} | {frames} | {level} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

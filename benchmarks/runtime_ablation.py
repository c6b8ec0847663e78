"""Run-time rule ablation for a trained checkpoint, chosen on training-side data only.

Scores every setting of :class:`~model.tracking.runtime.RuntimeConfig` listed in ``SETTINGS`` on

- the training spans (TUD-Stadtmitte 1-179, PETS09-S2L1 1-500), clean and degraded: HOTA, IDF1 and
  the sanity counters -- where the defaults are chosen;
- the unlabelled clips of new scenes in ``$VSDMOT_VIDEOS_DIR`` (never the validation clip): only the
  counters that need no ground truth (degenerate boxes, part tracks, identities) -- where a rule's
  effect on unseen scenes shows without touching the validation sets;
- ``--validation``: the validation renditions too, for the record once a choice is made (the
  protocol, ``benchmarks.protocol``, is the judge).

    python -m benchmarks.runtime_ablation [--checkpoint assets/baseline.pt] [--validation]
    python -m benchmarks.runtime_ablation --variant vsd-mot --checkpoint CKPT --appearance
"""

from __future__ import annotations

import argparse
import statistics as stats
from dataclasses import dataclass, replace

import torch

from benchmarks.common import validation_caches
from model.core import settings
from model.core.choices import VARIANTS
from model.core.types import DetectorOutput, Tracks
from model.data.cache import CacheKey, build_frame_cache
from model.data.video import open_frames
from model.evaluation.metrics import evaluate_sequence
from model.evaluation.sanity import SanityCounters, sanity_counters
from model.tracking.detector import YoloxDetector
from model.tracking.pipeline import load_tracker, track_cache
from model.tracking.runtime import RuntimeConfig, Tracker, rules_of_2026_12_07, rules_until_2026_12_07
from model.vsd.quality import QualityScores, assess_frame

_OLD = rules_until_2026_12_07  # without lost-track takeover and the motion prior
_1207 = rules_of_2026_12_07  # with them, snap IoU 0.5
_PLAIN = dict(support_iou=None, recover_iou=None)
SETTINGS: dict[str, RuntimeConfig] = {
    "MOTRv2 rules only": _OLD(track_nms_iou=None, snap_iou=None, **_PLAIN),
    "+ track NMS 0.7, keep collapsed as lost": _OLD(track_nms_removes=False, snap_iou=None, **_PLAIN),
    "+ track NMS 0.7, remove collapsed": _OLD(snap_iou=None, **_PLAIN),
    "+ snap to proposals, IoU 0.5 (rules until 2026-12)": _OLD(**_PLAIN),
    "+ proposal support, 2 frames": _OLD(max_unsupported=2, recover_iou=None),
    "+ proposal support, 5 frames": _OLD(max_unsupported=5, recover_iou=None),
    "+ proposal support, 10 frames": _OLD(max_unsupported=10, recover_iou=None),
    "+ support 2 + identity recovery": _OLD(max_unsupported=2),
    "+ support 5 + identity recovery (rules until 2026-12-07)": _OLD(),
    "+ support 10 + identity recovery": _OLD(max_unsupported=10),
    "+ support 5 + recovery of suppressed tracks": _OLD(recover_suppressed=True),
    "+ support 5 + recovery with motion prior": _OLD(recover_velocity_momentum=0.5),
    "+ support 5 + recovery + lost-track takeover": _OLD(recover_lost=True),
    "+ recovery of suppressed tracks + motion prior": _1207(recover_lost=False),
    "+ suppressed + motion prior + takeover (rules of 2026-12-07)": _1207(),
    "+ all three, recovery window 60 frames": _1207(recover_frames=60),
    "+ all three, recovery IoU 0.2": _1207(recover_iou=0.2),
    "+ all three, support 10": _1207(max_unsupported=10),
    # MOTRv2's own thresholds and the duplicate guards around the rules of 2026-12-07 (issue 12, 2026-12-07
    # evening and 2026-12-08)
    "rules of 2026-12-07, keep threshold 0.4": _1207(keep_threshold=0.4),
    "rules of 2026-12-07, keep 0.4, new-track threshold 0.6": _1207(keep_threshold=0.4, new_track_threshold=0.6),
    "rules of 2026-12-07, new-track threshold 0.6": _1207(new_track_threshold=0.6),
    "rules of 2026-12-07, miss tolerance 40": _1207(miss_tolerance=40),
    "rules of 2026-12-07, track NMS 0.6": _1207(track_nms_iou=0.6),
    "rules of 2026-12-07, track NMS 0.8": _1207(track_nms_iou=0.8),
    "rules of 2026-12-07, snap IoU 0.4 (default since 2026-12-08)": RuntimeConfig(),
    "rules of 2026-12-07, snap IoU 0.6": _1207(snap_iou=0.6),
    "rules of 2026-12-07, snap IoU 0.3": _1207(snap_iou=0.3),
    "rules of 2026-12-07, snap IoU 0.4, new-track threshold 0.6": _1207(snap_iou=0.4, new_track_threshold=0.6),
    # around the defaults of 2026-12-08 (snap IoU 0.4)
    "defaults, snap proposals of score >= 0.1": RuntimeConfig(snap_min_score=0.1),
    "defaults, snap proposals of score >= 0.5": RuntimeConfig(snap_min_score=0.5),
}
DEFAULT = "rules of 2026-12-07, snap IoU 0.4 (default since 2026-12-08)"
assert SETTINGS[DEFAULT] == RuntimeConfig()
# Appearance recovery (ours, issue 13) on top of the defaults: VSD-MOT checkpoints only (--appearance).
APPEARANCE_SETTINGS: dict[str, RuntimeConfig] = {
    f"+ appearance recovery, cosine >= {c}": RuntimeConfig(recover_cosine=c) for c in (0.2, 0.3, 0.4, 0.5, 0.7)
}

# Degraded renditions of the training spans: the training copies' own recipes (model.data.clips) and
# one realesrgan recipe the model never trained on.
TRAIN_RENDITIONS: tuple[tuple[str, int, int, str | None, int], ...] = (
    ("TUD-Stadtmitte", 1, 179, None, 0), ("TUD-Stadtmitte", 1, 179, "medium", 11),
    ("TUD-Stadtmitte", 1, 179, "severe", 12), ("TUD-Stadtmitte", 1, 179, "realesrgan", 13),
    ("PETS09-S2L1", 1, 500, None, 0), ("PETS09-S2L1", 1, 500, "medium", 11),
)
VALIDATION_CLIP = "intel-one-by-one-person-detection.mp4"
UNLABELLED_CLIPS: tuple[str, ...] = (
    "intel-preview-classroom.gif", "intel-preview-people-detection.gif", "intel-preview-store-aisle-detection.gif",
    "intel-preview-worker-zone-detection.gif", "intel-preview-face-demographics-walking.gif",
    "intel-preview-face-demographics-walking-and-pause.gif", "mmaction2-two-people-indoor.mp4",
    "openpose-paris-street.avi",
)
assert VALIDATION_CLIP not in UNLABELLED_CLIPS


@dataclass
class _Clip:
    """An unlabelled clip's detector outputs and frame qualities (DSWR's Q), computed once and replayed
    for every setting."""

    name: str
    detections: list[DetectorOutput]
    qualities: list[QualityScores]


def _unlabelled(detector: YoloxDetector) -> list[_Clip]:
    videos = settings.videos_dir()
    if videos is None:
        return []
    clips = []
    for name in UNLABELLED_CLIPS:
        if (videos / name).is_file():
            frames = [frame for _, frame in open_frames(videos / name)]
            clips.append(_Clip(name, [detector(f) for f in frames], [assess_frame(f) for f in frames]))
    return clips


def _replay(tracker: Tracker, clip: _Clip) -> dict[int, Tracks]:
    tracker.reset()
    return {i: tracker.update(detections=d, quality=q)
            for i, (d, q) in enumerate(zip(clip.detections, clip.qualities), start=1)}


def _counters(c: SanityCounters) -> str:
    return f"{100 * c.degenerate_share:.1f} % | {c.part_tracks} | {c.identities}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", default=None)
    p.add_argument("--variant", default="baseline", choices=VARIANTS)
    p.add_argument("--validation", action="store_true", help="also score the validation renditions (report only)")
    p.add_argument("--appearance", action="store_true",
                   help="the defaults and appearance recovery at several thresholds only (needs a VSD-MOT checkpoint)")
    p.add_argument("--rows", nargs="*", choices=list(SETTINGS), help="only these settings (default: all)")
    args = p.parse_args()
    settings_to_run = ({DEFAULT: RuntimeConfig(), **APPEARANCE_SETTINGS} if args.appearance
                       else {k: v for k, v in SETTINGS.items() if not args.rows or k in args.rows})
    torch.set_num_threads(1)
    detector = YoloxDetector()
    data = settings.data_dir()
    if data is None:
        raise SystemExit("no data: set VSDMOT_DATA_DIR (or VSDMOT_SHARED_DIR) to the MOTChallenge folder")
    caches = {f"{seq} {first}-{last} {preset or 'clean'}": build_frame_cache(
        data / seq, CacheKey(seq, first, last, preset, seed), detector, progress=False)
        for seq, first, last, preset, seed in TRAIN_RENDITIONS}
    validation = validation_caches(detector)[1] if args.validation else {}
    clips = _unlabelled(detector)
    tracker, _ = load_tracker(args.variant, args.checkpoint)
    if args.appearance and not tracker.switches.student:
        raise SystemExit("--appearance compares the student's outputs: pass --variant vsd-mot and a VSD-MOT checkpoint")
    print("### Training spans (choose here)\n")
    print("| rules | " + " | ".join(caches) + " | mean HOTA | mean IDF1 | degenerate, part tracks (sum) |")
    print("|---|" + "---|" * (len(caches) + 3))
    unlabelled_rows, validation_rows = [], []
    for name, runtime in settings_to_run.items():
        tracker.runtime = replace(runtime)
        hota, idf1, cells, degenerate, parts = [], [], [], 0, 0
        for cache in caches.values():
            tracks = track_cache(tracker, cache)
            m = evaluate_sequence(cache.meta["source"], tracks, first=cache.frames[0], last=cache.frames[-1])
            c = sanity_counters(tracks)
            hota.append(m.HOTA)
            idf1.append(m.IDF1)
            degenerate, parts = degenerate + c.degenerate, parts + c.part_tracks
            cells.append(f"{m.HOTA:.1f} / {m.IDF1:.1f}")
        print(f"| {name} | " + " | ".join(cells) + f" | {stats.fmean(hota):.1f} | {stats.fmean(idf1):.1f} | {degenerate}, {parts} |")
        if clips:
            counters = [sanity_counters(_replay(tracker, clip)) for clip in clips]
            unlabelled_rows.append(f"| {name} | " + " | ".join(_counters(c) for c in counters) + " |")
        for label, cache in validation.items():
            tracks = track_cache(tracker, cache)
            m = evaluate_sequence(cache.meta["source"], tracks, first=cache.frames[0], last=cache.frames[-1])
            validation_rows.append(f"| {name} | {label} | {m.HOTA:.1f} | {m.IDF1:.1f} | {_counters(sanity_counters(tracks))} |")
    if clips:
        print("\n### Unlabelled clips of new scenes: degenerate boxes | part tracks | identities\n")
        print("| rules | " + " | ".join(c.name for c in clips) + " |")
        print("|---|" + "---|" * len(clips))
        print("\n".join(unlabelled_rows))
    if validation_rows:
        print("\n### PETS09 val (report only; the protocol is the judge)\n")
        print("| rules | rendition | HOTA | IDF1 | degenerate | part tracks | identities |\n|---|---|---|---|---|---|---|")
        print("\n".join(validation_rows))


if __name__ == "__main__":
    main()

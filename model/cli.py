"""One command line: ``vsdmot <verb> ...`` (or ``python -m model <verb> ...``).

Each verb is a thin layer over the library: it parses arguments, calls one library function and
turns user errors into one ``error:`` line and exit status 2. The verbs, with the one-line help that
``vsdmot --help`` shows and that heads each verb's own ``--help``, are declared once in :data:`VERBS`.

    vsdmot track VIDEO_OR_SEQUENCE --output tracks.txt [--json t.json] [--render t.mp4]
    vsdmot evaluate --gt SEQUENCE --pred tracks.txt [--first 501 --last 795]
    vsdmot degrade SOURCE --preset medium --seed 0 --output lq/SEQ
    vsdmot mix SEQUENCE ... --output mixed --ratio 2
    vsdmot train --variant baseline|vsd-mot|direct --output runs/NAME
    vsdmot pseudo-label VIDEO_OR_FOLDER --output runs/pseudo/NAME
    vsdmot convert-crowdhuman --odgt annotation_train.odgt --images Images --output data/crowdhuman-seqs
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from model.core.choices import (
    DATASET_KINDS, DEGRADE_CHOICES, DEGRADE_PRESETS, DEVICE_CHOICES, DISTILL_MODES, NO_DEGRADATION, REGION_TEACHERS,
    TEACHER_TOKENS, TEACHER_VIEWS, TRAIN_VARIANTS, VARIANTS,
)

PROG = "vsdmot"
# What a user can cause and fix: one "error:" line and exit status 2, never a traceback. (RuntimeError
# covers a teacher whose weights this machine cannot obtain, model.vsd.teacher.TeacherUnavailableError.)
USER_ERRORS = (FileNotFoundError, FileExistsError, ValueError, RuntimeError)


@dataclass(frozen=True)
class Verb:
    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace, argparse.ArgumentParser], int]


# ------------------------------------------------------------------------------------------- track


def _track_arguments(p: argparse.ArgumentParser) -> None:
    from model.core.settings import DEFAULT_CHECKPOINTS

    default_variant = "vsd-mot" if DEFAULT_CHECKPOINTS["vsd-mot"].is_file() else "baseline"
    p.add_argument("source", help="video file (mp4/avi/mov/webm/mkv/gif) or MOTChallenge sequence folder")
    p.add_argument("--variant", choices=VARIANTS, default=default_variant)
    p.add_argument("--checkpoint", default=None, help="tracker checkpoint (default: the variant's file in assets/)")
    p.add_argument("--student", action=argparse.BooleanOptionalAction, default=None,
                   help="VSD-MOT: run the student (default: as trained)")
    p.add_argument("--dswr", action=argparse.BooleanOptionalAction, default=None,
                   help="VSD-MOT: DSWR, else fixed-ratio fusion (default: as trained)")
    p.add_argument("--degrade", choices=DEGRADE_CHOICES, default=NO_DEGRADATION,
                   help="degrade every frame before tracking (a preset of eq. 17)")
    p.add_argument("--seed", type=int, default=0, help="degradation seed")
    p.add_argument("--first", type=int, default=1)
    p.add_argument("--last", type=int, default=None)
    p.add_argument("--output", required=True, help="MOTChallenge text output")
    p.add_argument("--json", default=None, help="also write JSON tracks here")
    p.add_argument("--render", default=None, help="also write an H.264 mp4 with the tracks drawn")
    p.add_argument("--device", choices=DEVICE_CHOICES, default=None,
                   help="where the tracker and detector run (default: $VSDMOT_DEVICE, else auto = CUDA when there is one)")


def _track(args: argparse.Namespace, _: argparse.ArgumentParser) -> int:
    from tqdm import tqdm

    from model.core.types import Tracks
    from model.data.mot_io import write_json, write_mot
    from model.data.render import VideoWriter, draw_tracks
    from model.data.video import UnreadableVideoError, open_frames
    from model.core.device import resolve_device
    from model.core.settings import device_setting
    from model.tracking.detector import DetectorConfig, YoloxDetector
    from model.tracking.hooks import HookSwitches
    from model.tracking.pipeline import PreparedFrame, load_tracker, prepare_frames, track_prepared
    from model.tracking.runtime import FrameInfo

    try:
        device = resolve_device(args.device or device_setting())
        source = open_frames(args.source, args.first, args.last)
        detector = YoloxDetector(DetectorConfig(providers=device.detector_providers))
        tracker, _meta = load_tracker(args.variant, args.checkpoint, detector,
                                      HookSwitches(student=args.student, dswr=args.dswr), device=device.tracker)
    except (*USER_ERRORS, UnreadableVideoError) as exc:
        return _fail(exc)
    degrader = None
    if args.degrade != NO_DEGRADATION:
        from model.vsd.degrade import Degrader

        degrader = Degrader(preset=args.degrade, seed=args.seed)
    writer = VideoWriter(args.render, source.info.fps) if args.render else None
    bar = tqdm(total=len(source), desc=args.variant, unit="frame")

    def on_frame(item: PreparedFrame, tracks: Tracks, info: FrameInfo) -> None:
        bar.update()
        if writer is not None:
            writer.write(draw_tracks(item.frame, tracks, f"{args.variant} #{item.number}"))

    try:
        prepared = prepare_frames(source, detector, transform=degrader, assess=tracker.needs.quality)
        results = track_prepared(tracker, prepared, on_frame=on_frame)
    except UnreadableVideoError as exc:
        return _fail(exc)
    finally:
        bar.close()
        if writer is not None:
            writer.close()
    write_mot(args.output, results)
    if args.json:
        write_json(args.json, results)
    ids = {int(i) for t in results.values() for i in t.ids}
    print(f"{len(results)} frames, {len(ids)} identities -> {args.output}", file=sys.stderr)
    return 0


# ---------------------------------------------------------------------------------------- evaluate


def _evaluate_arguments(p: argparse.ArgumentParser) -> None:
    from model.data.mot_io import BENCHMARKS

    p.add_argument("--gt", nargs="+", required=True, help="MOTChallenge sequence folder(s) with gt/gt.txt")
    p.add_argument("--pred", nargs="+", required=True,
                   help="tracker output(s), one per --gt in the same order: MOTChallenge .txt or tracks .json")
    p.add_argument("--first", type=int, default=1, help="first frame to score (1-based, inclusive)")
    p.add_argument("--last", type=int, default=None, help="last frame to score (inclusive; default: the end)")
    p.add_argument("--benchmark", default="auto", choices=["auto", *BENCHMARKS],
                   help="gt rules: MOT15 counts every marked row; MOT16/17/20 drop distractors")
    p.add_argument("--decimals", type=int, default=1, help="decimals for percentages in the output")


def _evaluate(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from model.evaluation.metrics import SequenceJob, evaluate_many, evaluate_sequence

    if len(args.gt) != len(args.pred):
        parser.error(f"--gt has {len(args.gt)} paths but --pred has {len(args.pred)}: give one prediction per sequence")
    try:
        if len(args.gt) == 1:
            output: dict = evaluate_sequence(args.gt[0], args.pred[0], args.benchmark, args.first, args.last
                                             ).as_dict(args.decimals)
        else:
            jobs = [SequenceJob(gt, pred, args.first, args.last) for gt, pred in zip(args.gt, args.pred)]
            output = {name: m.as_dict(args.decimals) for name, m in evaluate_many(jobs, args.benchmark).items()}
    except USER_ERRORS as exc:
        return _fail(exc)
    print(json.dumps(output, indent=2))
    return 0


# ----------------------------------------------------------------------------------- degrade / mix


def _degradation_options(p: argparse.ArgumentParser, seed_help: str) -> None:
    """The options ``degrade`` and ``mix`` share: which preset, which seed, overwrite, progress."""
    p.add_argument("--output", "-o", type=Path, required=True,
                   help="output folder (sequence layout, gt/det copied), or for degrade a video file (.mp4, .avi)")
    p.add_argument("--preset", default="medium", choices=DEGRADE_PRESETS, help="degradation preset (default: medium)")
    p.add_argument("--seed", type=int, default=0, help=seed_help)
    p.add_argument("--overwrite", action="store_true", help="replace what is already in the output")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def _degrade_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", type=Path, help="MOTChallenge sequence folder (with img1/) or a video/GIF file")
    _degradation_options(p, "draws the sequence's parameters (default: 0)")


def _degrade(args: argparse.Namespace, _: argparse.ArgumentParser) -> int:
    from model.vsd.degrade import degrade_sequence

    try:
        print(degrade_sequence(args.source, args.output, args.preset, args.seed, not args.quiet,
                               overwrite=args.overwrite))
    except USER_ERRORS as exc:
        return _fail(exc)
    return 0


def _mix_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("sequences", type=Path, nargs="+", help="MOTChallenge sequence folders")
    p.add_argument("--ratio", type=int, default=2, help="degraded copies per HQ sequence (default: 2)")
    _degradation_options(p, "base seed; copies use seed, seed+1, ... (default: 0)")


def _mix(args: argparse.Namespace, _: argparse.ArgumentParser) -> int:
    from model.vsd.degrade import MANIFEST_NAME, build_mixed_set

    try:
        paths = build_mixed_set(args.sequences, args.output, args.ratio, args.preset, args.seed, not args.quiet,
                                overwrite=args.overwrite)
    except USER_ERRORS as exc:
        return _fail(exc)
    print(args.output / MANIFEST_NAME)
    print(f"{len(paths)} sequences")
    return 0


# ------------------------------------------------------------------------------------------- train

_TRAIN_INTS = ("epochs", "clips_per_epoch", "lr_drop_epoch", "clip_len", "max_interval", "seed", "num_threads")
_TRAIN_FLOATS = ("lr", "weight_decay", "grad_clip", "track_drop", "fp_insert", "pseudo_clip")


def _train_arguments(p: argparse.ArgumentParser) -> None:
    from model.training.run_config import TrainConfig

    defaults = TrainConfig()
    p.add_argument("--variant", choices=TRAIN_VARIANTS, default=defaults.variant,
                   help="direct = the frozen teacher runs at inference (paper Fig. 1a), for the cost comparison")
    p.add_argument("--student", action=argparse.BooleanOptionalAction, default=defaults.student)
    p.add_argument("--dswr", action=argparse.BooleanOptionalAction, default=defaults.dswr)
    p.add_argument("--fixed-semantic-weight", type=float, default=defaults.fixed_semantic_weight)
    p.add_argument("--distill", choices=DISTILL_MODES, default=defaults.distill)
    p.add_argument("--alpha", type=float, default=defaults.alpha, help="eq. 15 weight of L_distill (0..1)")
    p.add_argument("--tau", type=float, default=defaults.tau)
    p.add_argument("--teacher", choices=REGION_TEACHERS, default=defaults.teacher,
                   help="frozen teacher for distillation (clip-rn50 needs the hub or VSDMOT_CLIP_CHECKPOINT; "
                        "the re-ID teachers embed person boxes, so they take --teacher-tokens regions)")
    p.add_argument("--teacher-tokens", choices=TEACHER_TOKENS, default=defaults.teacher_tokens,
                   help="global = one teacher token per frame (paper); regions = the teacher's embedding of "
                        "each query's box (ours)")
    p.add_argument("--teacher-view", choices=TEACHER_VIEWS, default=defaults.teacher_view,
                   help="what the teacher embeds for a degraded frame: that frame (paper) or its clean original (ours)")
    p.add_argument("--lq-per-hq", type=float, default=defaults.lq_per_hq,
                   help="0 = all HQ, k = the clean copy + the first k degraded recipes, inf = all LQ")
    p.add_argument("--lq-recipes", nargs="+", default=None, metavar="PRESET:SEED",
                   help="the degraded training copies of every sequence (default: "
                        + " ".join(f"{preset}:{seed}" for preset, seed in defaults.lq_recipes) + "; seed 0 is validation's)")
    for name in _TRAIN_INTS:
        p.add_argument("--" + name.replace("_", "-"), type=int, default=getattr(defaults, name))
    p.add_argument("--hsv", action=argparse.BooleanOptionalAction, default=defaults.hsv,
                   help="add an HSV-jittered copy of each clean training sequence")
    for name in _TRAIN_FLOATS:
        p.add_argument("--" + name.replace("_", "-"), type=float, default=getattr(defaults, name))
    size = defaults.student_size
    p.add_argument("--student-hidden-dim", type=int, default=size.hidden_dim, help="hidden_dim of eqs. 1-3")
    p.add_argument("--student-heads", type=int, default=size.num_heads)
    p.add_argument("--student-ffn-dim", type=int, default=size.ffn_dim)
    p.add_argument("--student-layers", type=int, default=size.num_layers, help="the paper uses 3")
    p.add_argument("--track-motion-momentum", type=float, default=defaults.tracker.track_motion_momentum,
                   metavar="MU", help="ours: move each track query's anchor by its velocity (a momentum average of "
                                      "its box steps with weight MU on the past; stored in the checkpoint); "
                                      "default: its last box (MOTRv2)")
    p.add_argument("--span", action="append", default=None, metavar="SEQ:FIRST:LAST",
                   help="train on this span instead of the default split (repeatable)")
    p.add_argument("--extra-sequence", action="append", default=None, metavar="FOLDER",
                   help="ours: also train on this whole MOTChallenge sequence, e.g. a clip pseudo-labelled by "
                        "`vsdmot pseudo-label` (repeatable)")
    p.add_argument("--dataset", action="append", default=None, metavar="KIND:FOLDER",
                   help=f"also train on every sequence of a public training set ({', '.join(DATASET_KINDS)}; "
                        "layouts in docs/training-gpu.md) (repeatable)")
    p.add_argument("--no-spans", action="store_true",
                   help="train on --dataset / --extra-sequence only, not on the default TUD/PETS09 spans")
    p.add_argument("--device", choices=DEVICE_CHOICES, default=defaults.device,
                   help="auto = CUDA when there is one (one GPU per torchrun rank), else the CPU")
    p.add_argument("--init", default=None, help="initialise from a checkpoint (e.g. the trained baseline)")
    p.add_argument("--weight-average", type=float, default=defaults.weight_average, metavar="DECAY",
                   help="ours: deploy an exponential moving average of the weights with this decay, e.g. 0.999")
    p.add_argument("--output", default=defaults.output)


def train_config_from_args(args: argparse.Namespace, parser: argparse.ArgumentParser):  # -> TrainConfig
    """The :class:`TrainConfig` the parsed ``train`` arguments describe (``parser.error`` on bad ones)."""
    from model.data.benchmark_sets import dataset_sequences, parse_dataset_spec
    from model.tracking.query_model import TrackerConfig
    from model.training.run_config import TrainConfig
    from model.vsd.student import StudentConfig

    if not 0 < args.alpha < 1:
        parser.error("--alpha must be in (0, 1) (eq. 15)")
    values = {k: v for k, v in vars(args).items() if k not in ("verb", "run", "verb_parser")}
    try:
        values["student_size"] = StudentConfig(
            hidden_dim=values.pop("student_hidden_dim"), num_heads=values.pop("student_heads"),
            ffn_dim=values.pop("student_ffn_dim"), num_layers=values.pop("student_layers"))
    except ValueError as exc:
        parser.error(str(exc))
    try:
        values["tracker"] = TrackerConfig(track_motion_momentum=values.pop("track_motion_momentum"))
    except ValueError as exc:
        parser.error(str(exc))
    spans = values.pop("span")
    if values.pop("no_spans"):
        if spans:
            parser.error("--no-spans and --span contradict each other: give one")
        values["spans"] = ()
    if spans:
        try:
            values["spans"] = tuple((n, int(a), int(b)) for n, a, b in (s.rsplit(":", 2) for s in spans))
        except ValueError:
            parser.error("--span takes SEQUENCE:FIRST:LAST, e.g. TUD-Stadtmitte:1:50")
    values["extra_sequences"] = tuple(values.pop("extra_sequence") or ())
    recipes = values.pop("lq_recipes")
    if recipes:
        try:
            values["lq_recipes"] = tuple((preset, int(seed)) for preset, seed in (r.split(":") for r in recipes))
        except ValueError:
            parser.error("--lq-recipes takes PRESET:SEED items, e.g. medium:11 severe:12 realesrgan:13")
    try:
        for spec in values.pop("dataset") or ():
            values["extra_sequences"] += tuple(str(p) for p in dataset_sequences(*parse_dataset_spec(spec)))
    except (ValueError, FileNotFoundError) as exc:
        parser.error(str(exc))
    try:
        return TrainConfig(**values)
    except ValueError as exc:  # validation data among the spans or extra sequences
        parser.error(str(exc))


def parse_train_config(argv: Sequence[str]):  # -> TrainConfig
    """``vsdmot train`` arguments -> :class:`TrainConfig` (a usage error exits, as on the command line)."""
    args = build_parser("train").parse_args(["train", *argv])
    return train_config_from_args(args, args.verb_parser)


def _train(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from model.training.loop import is_main_process, train

    cfg = train_config_from_args(args, parser)
    try:
        path = train(cfg)
    except USER_ERRORS as exc:
        return _fail(exc)
    if is_main_process():
        print(path)
    return 0


# ------------------------------------------------------------------------------------ pseudo-label


def _pseudo_label_arguments(p: argparse.ArgumentParser) -> None:
    from model.data.pseudo_labels import PseudoLabelConfig

    defaults = PseudoLabelConfig()
    p.add_argument("source", type=Path, help="an unlabelled video, GIF or image folder (never validation data)")
    p.add_argument("--output", "-o", type=Path, required=True, help="the sequence folder to write")
    p.add_argument("--first", type=int, default=1, help="first frame (1-based, default: 1)")
    p.add_argument("--last", type=int, default=None, help="last frame (default: the clip's last)")
    p.add_argument("--no-reid", action="store_true", help="stitch tracklets on place and size only")
    p.add_argument("--one-way", action="store_true", help="link forward only (both directions by default)")
    p.add_argument("--reid-threshold", type=float, default=defaults.reid_threshold,
                   help=f"least re-ID cosine to stitch two tracklets (default: {defaults.reid_threshold})")
    p.add_argument("--max-gap", type=int, default=defaults.max_gap,
                   help=f"most frames stitched and interpolated over (default: {defaults.max_gap})")
    p.add_argument("--min-detections", type=int, default=defaults.min_detections,
                   help=f"least detections of a kept track (default: {defaults.min_detections})")
    p.add_argument("--overwrite", action="store_true", help="replace what is already in the output")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _pseudo_label(args: argparse.Namespace, _: argparse.ArgumentParser) -> int:
    from dataclasses import replace

    from model.data.pseudo_labels import PseudoLabelConfig
    from model.data.pseudo_sequence import pseudo_label_source

    config = replace(PseudoLabelConfig(), reid=not args.no_reid, bidirectional=not args.one_way,
                     reid_threshold=args.reid_threshold, max_gap=args.max_gap, min_detections=args.min_detections)
    try:
        print(pseudo_label_source(args.source, args.output, config, args.first, args.last, args.overwrite,
                                  not args.quiet))
    except USER_ERRORS as exc:
        return _fail(exc)
    return 0


# ------------------------------------------------------------------------------- convert-crowdhuman


def _convert_crowdhuman_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--odgt", required=True, help="CrowdHuman annotation file, e.g. annotation_train.odgt")
    p.add_argument("--images", required=True, help="the folder of <ID>.jpg images")
    p.add_argument("--output", required=True, help="folder to write one one-image sequence per image into")
    p.add_argument("--limit", type=int, default=None, help="stop after this many sequences")
    p.add_argument("--min-people", type=int, default=1, help="skip images with fewer usable person boxes")
    p.add_argument("--copy", action="store_true", help="copy the images instead of linking to them")


def _convert_crowdhuman(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from model.data.crowdhuman import convert_crowdhuman

    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be at least 1")
    try:
        report = convert_crowdhuman(args.odgt, args.images, args.output, limit=args.limit,
                                    min_people=args.min_people, copy=args.copy)
    except USER_ERRORS as exc:
        return _fail(exc)
    print(report)
    return 0


# -------------------------------------------------------------------------------------------- main

VERBS: tuple[Verb, ...] = (
    Verb("track", "Track people in a video or MOTChallenge sequence; write MOT text, JSON and a video.",
         _track_arguments, _track),
    Verb("evaluate", "Score tracker output against MOTChallenge ground truth (TrackEval: HOTA, MOTA, IDF1); print JSON.",
         _evaluate_arguments, _evaluate),
    Verb("degrade", "Degrade a sequence or video with Real-ESRGAN's second-order pipeline (paper eq. 17).",
         _degrade_arguments, _degrade),
    Verb("mix", "Build a mixed HQ + LQ training set with a manifest (paper Table VI: LQ:HQ = 2:1).",
         _mix_arguments, _mix),
    Verb("train", "Train the baseline, VSD-MOT (student + DCSD + DSWR) or direct integration; CPU or torchrun/DDP.",
         _train_arguments, _train),
    Verb("pseudo-label", "Pseudo-label an unlabelled clip offline (detections linked both ways, re-ID stitching) "
         "into a MOTChallenge sequence (ours).", _pseudo_label_arguments, _pseudo_label),
    Verb("convert-crowdhuman", "Write CrowdHuman images (.odgt boxes) as one-image sequences for "
         "`train --dataset crowdhuman:FOLDER` (MOTRv2's pseudo-clips).", _convert_crowdhuman_arguments,
         _convert_crowdhuman),
)


def build_parser(verb: str | None = None) -> argparse.ArgumentParser:
    """The whole command line; only ``verb``'s own options are declared (the others would import
    torch and the model just to print their defaults), so ``vsdmot --help`` answers at once."""
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    for v in VERBS:
        p = sub.add_parser(v.name, help=v.help, description=v.help)
        if v.name == verb:
            v.add_arguments(p)
        p.set_defaults(run=v.run, verb_parser=p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    verb = next((a for a in argv if not a.startswith("-")), None)
    args = build_parser(verb).parse_args(argv)
    return args.run(args, args.verb_parser)


def _fail(exc: BaseException) -> int:
    print(f"error: {exc}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())

"""The tracking service: models loaded once, one request = decode -> degrade -> track -> render.

Why this shape:
- The detector runs ONCE per frame and both trackers consume its output, so comparing baseline and
  VSD-MOT costs one detector pass, and both see exactly the same (possibly degraded) frame.
- Tracker weights are loaded at start-up, one model per checkpoint; a request only builds fresh
  ``Tracker`` objects around them (so IDs restart at 1 and no state leaks between requests), each
  with its own student/DSWR switches -- the model holds no switch state to share.
- Frame quality is assessed here for every frame (the chart needs it for both variants) and handed
  to the trackers, so it is never computed twice.
- The answer is the API's own schema (:class:`app.schemas.TrackResult`), built here once; the API
  returns it, the job stores it and the UI reads its attributes.
"""

from __future__ import annotations

import logging
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from app.config import AppConfig
from app.errors import BadOptionError, ClipTooLongError, ModelUnavailableError
from app.panels import PANEL_TITLES, PanelWriters, message_panel, panel_size, track_panel
from app.schemas import (
    DetectorMeta, DeviceStatus, FrameRecord, ModelsStatus, RequestEcho, SourceMeta, SweepLevel, SweepTracker, TrackerScore, TrackMeta,
    TrackResult, VariantMeta, VariantStatus, VariantSummary,
)
from model.core.choices import (
    BOTH, DEGRADE_CHOICES, NO_DEGRADATION, SEED_MAX, SWEEP_LEVELS, VARIANT_CHOICES, VARIANTS,
)
from model.core.device import resolve_device
from model.core.settings import PROJECT_ROOT
from model.core.types import Tracks
from model.data.mot_io import tracks_to_rows, write_json, write_mot
from model.data.video import FrameSource, UnreadableVideoError, open_frames
from model.evaluation.metrics import TrackMetrics
from model.tracking.checkpoint import checkpoint_path, load_checkpoint
from model.tracking.hooks import DirectTeacherHook, HookSwitches, IdentityHook, VSDHook
from model.tracking.query_model import QueryTrackerModel
from model.tracking.pipeline import prepare_frames
from model.tracking.runtime import Tracker
from model.vsd.teacher import Teacher, build_teacher

log = logging.getLogger("app")

NOT_APPLICABLE = "not applicable"
ProgressCallback = Callable[[int, int], None]


@dataclass
class TrackOptions:
    """What a caller may choose for one request (the same fields as the API form).

    Attributes:
        variant: "baseline", "vsd-mot" or "both".
        student, dswr: VSD-MOT switches; None keeps what the checkpoint was trained with.
        degrade: "none" or a :mod:`model.vsd.degrade` preset applied before tracking.
        seed: degradation seed (same seed -> same degradation).
        max_frames: track only the first ``max_frames`` frames; None = the whole clip.
        render: write the H.264 videos (the API's synchronous ``/track`` skips them).
        sweep: also track the clip at every other level of SWEEP_LEVELS (the robustness sweep).
    """

    variant: str = BOTH
    student: bool | None = None
    dswr: bool | None = None
    degrade: str = NO_DEGRADATION
    seed: int = 0
    max_frames: int | None = None
    render: bool = True
    sweep: bool = False

    def variants(self) -> list[str]:
        return list(VARIANTS) if self.variant == BOTH else [self.variant]


@dataclass
class LoadedVariant:
    """A variant the server can run, or the reason it cannot.

    One model per checkpoint: the student/DSWR switches are passed per tracker (HookSwitches), so
    concurrent requests with different switches share the weights without touching each other.
    ``teacher`` is loaded only for a direct-integration checkpoint, which runs it on every frame.
    """

    name: str
    checkpoint: Path
    reason: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    model: QueryTrackerModel | None = None
    teacher: Teacher | None = None

    @property
    def loaded(self) -> bool:
        return self.reason is None

    @property
    def trained_switches(self) -> dict[str, bool] | None:
        """The on/off switches the checkpoint was trained with (None for a hook without any)."""
        if self.model is None:
            return None
        hook = self.model.hook
        trained = hook.trained_switches()
        shown = {}
        if "student" in hook.switch_names:
            shown["student"] = bool(trained.student)
        if "dswr" in hook.switch_names:
            shown["dswr"] = bool(trained.dswr)
        return shown or None


@dataclass
class Plan:
    """A validated request: what will run on which frames."""

    options: TrackOptions
    source: FrameSource
    filename: str
    frames_total: int
    run: list[str]  # variants that will run
    unavailable: dict[str, str]  # requested variants that cannot, with the reason
    switches: dict[str, HookSwitches]  # per variant that runs: its resolved hook switches
    ground_truth: Path | None = None  # a labelled upload's sequence folder (app.labelled), scored after tracking

    @property
    def passes(self) -> int:
        """Passes over the frames: one, or one per sweep level."""
        return len(SWEEP_LEVELS) if self.options.sweep else 1

    @property
    def work_frames(self) -> int:
        """Frames decoded and tracked over all passes (what progress and deadlines count)."""
        return self.frames_total * self.passes


def _short_path(path: Path) -> str:
    """Paths in messages relative to the project, so answers do not spell out the server's disk."""
    try:
        return str(Path(path).resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return Path(path).name


def _trained_on(meta: dict[str, Any]) -> list[str] | None:
    spans = meta.get("train_spans")
    return [f"{name}:{first}-{last}" for name, first, last in spans] if spans else None


# Which hook kinds each served variant accepts: the baseline slot takes a plain query tracker, the
# VSD-MOT slot a student + DSWR hook or the paper's direct-integration alternative (Fig. 1a).
SLOT_HOOK_KINDS: dict[str, tuple[str, ...]] = {"baseline": (IdentityHook.kind,),
                                               "vsd-mot": (VSDHook.kind, DirectTeacherHook.kind)}


def load_variant(name: str, checkpoint: Path, device: str = "cpu") -> LoadedVariant:
    """Load a variant's checkpoint once onto ``device``; say plainly why when it cannot be used (never raise)."""
    variant = LoadedVariant(name, Path(checkpoint))
    setting = AppConfig.checkpoint_setting(name)
    try:
        model, meta = load_checkpoint(checkpoint_path(name, checkpoint))
    except FileNotFoundError as exc:  # said without the server's own folders
        reason = str(exc).replace(str(Path(checkpoint)), _short_path(checkpoint)).replace(str(PROJECT_ROOT) + "/", "")
        variant.reason = f"{reason} (server setting: {setting})"
        return variant
    except Exception as exc:  # a corrupt or foreign file must not stop the server
        variant.reason = f"cannot load {_short_path(checkpoint)}: {exc}"
        return variant
    variant.meta = meta
    kind = model.hook.kind
    if kind not in SLOT_HOOK_KINDS[name]:
        what = {IdentityHook.kind: "a baseline checkpoint (no student/DSWR)", VSDHook.kind: "a VSD-MOT checkpoint",
                DirectTeacherHook.kind: "a direct-integration checkpoint"}.get(kind, f"a {kind!r} checkpoint")
        variant.reason = (f"{_short_path(checkpoint)} is {what}; point {setting} at a "
                          f"{'baseline' if name == 'baseline' else 'trained VSD-MOT'} checkpoint")
        return variant
    needs = model.hook.needs(model.hook.resolve())
    if needs.teacher is not None:  # direct integration: the teacher runs at inference
        try:
            variant.teacher = build_teacher(needs.teacher)
        except Exception as exc:  # e.g. CLIP weights unreachable offline
            variant.reason = f"{_short_path(checkpoint)} runs the {needs.teacher} teacher at inference, which is unavailable: {exc}"
            return variant
    variant.model = model.to(device).eval()
    return variant


@dataclass
class _Pass:
    """One pass over the frames at one degradation level: per variant, frame -> Tracks, and timings."""

    degrade: str
    tracks: dict[str, dict[int, Tracks]]
    frames: list[FrameRecord]
    tracker_s: dict[str, float]
    detector_s: float


class _PassProgress:
    """Progress over every pass of a request: frames done out of frames x passes."""

    def __init__(self, callback: ProgressCallback | None, frames: int, passes: int) -> None:
        self.callback, self.total, self.done = callback, frames * passes, 0

    def frame_done(self) -> None:
        self.done += 1
        if self.callback is not None:
            self.callback(self.done, self.total)


def tracker_score(metrics: TrackMetrics) -> TrackerScore:
    return TrackerScore(HOTA=round(metrics.HOTA, 2), DetA=round(metrics.DetA, 2), AssA=round(metrics.AssA, 2),
                        MOTA=round(metrics.MOTA, 2), IDF1=round(metrics.IDF1, 2), IDSW=metrics.IDSW,
                        gt_ids=metrics.gt_ids, pred_ids=metrics.pred_ids)


class TrackingService:
    """Holds the detector and the trackers' weights; ``plan`` validates a request, ``run`` does it."""

    def __init__(self, config: AppConfig) -> None:
        self.config = config
        torch.set_num_threads(config.torch_threads)
        # A machine without the requested device is a server setting error: said once, at start-up.
        self.device_plan = resolve_device(config.device)
        self.detector: Any | None = None
        self.detector_error: str | None = None
        self.detector_sha256: str | None = None
        try:
            from model.core.weights import REGISTRY
            from model.tracking.detector import DetectorConfig, YoloxDetector

            self.detector = YoloxDetector(DetectorConfig(model=config.detector,
                                                         providers=self.device_plan.detector_providers))
            spec = REGISTRY.get(config.detector)
            self.detector_sha256 = spec.sha256 if spec else None
        except Exception as exc:  # missing weights offline: the server still starts and says why
            self.detector_error = f"detector {config.detector!r} unavailable: {exc}"
            log.warning(self.detector_error)
        self.variants = {name: load_variant(name, config.checkpoint(name), self.device_plan.tracker)
                         for name in VARIANTS}
        for variant in self.variants.values():
            if not variant.loaded:
                log.warning("%s not available: %s", variant.name, variant.reason)

    # ------------------------------------------------------------------------------ status

    @property
    def ready(self) -> bool:
        return self.detector is not None and any(v.loaded for v in self.variants.values())

    @property
    def device(self) -> str:
        """Where the trackers run: the device of the loaded weights (the resolved setting when none is loaded)."""
        for variant in self.variants.values():
            if variant.model is not None:
                return str(next(variant.model.parameters()).device)
        return self.device_plan.tracker

    @property
    def detector_device(self) -> str | None:
        """The onnxruntime provider the detector really runs on, or None without a detector."""
        return None if self.detector is None else self.detector.provider

    def device_status(self) -> DeviceStatus:
        return DeviceStatus(requested=self.device_plan.requested, tracker=self.device,
                            detector=self.detector_device)

    def unavailable_reason(self, name: str) -> str | None:
        if self.detector is None:
            return self.detector_error
        return self.variants[name].reason

    def detector_meta(self) -> DetectorMeta | None:
        if self.detector is None:
            return None
        return DetectorMeta(name=self.config.detector, sha256=self.detector_sha256, device=self.detector.provider)

    def models_status(self) -> ModelsStatus:
        return ModelsStatus(
            detector=self.detector_meta(),
            detector_error=self.detector_error,
            variants={
                name: VariantStatus(
                    loaded=v.loaded, reason=v.reason, checkpoint=_short_path(v.checkpoint), sha256=v.meta.get("sha256"),
                    teacher=v.meta.get("teacher"), trained_on=_trained_on(v.meta), switches=v.trained_switches,
                )
                for name, v in self.variants.items()
            },
        )

    # ------------------------------------------------------------------------------ planning

    def check_options(self, options: TrackOptions) -> None:
        """Reject options a caller got wrong, with the accepted values in the message."""
        if options.variant not in VARIANT_CHOICES:
            raise BadOptionError(f"variant must be one of {', '.join(VARIANT_CHOICES)}, got {options.variant!r}")
        if options.degrade not in DEGRADE_CHOICES:
            raise BadOptionError(f"degrade must be one of {', '.join(DEGRADE_CHOICES)}, got {options.degrade!r}")
        if isinstance(options.seed, bool) or not isinstance(options.seed, int) or not 0 <= options.seed <= SEED_MAX:
            raise BadOptionError(f"seed must be a whole number from 0 to {SEED_MAX}, got {options.seed!r}")
        if options.max_frames is not None and not 1 <= options.max_frames <= self.config.max_frames:
            raise BadOptionError(
                f"max_frames must be between 1 and this server's limit of {self.config.max_frames}, "
                f"got {options.max_frames}"
            )

    def plan(self, video: Path, options: TrackOptions, filename: str | None = None) -> Plan:
        """Validate a request against the upload and the loaded models, before any heavy work."""
        self.check_options(options)
        run, unavailable = [], {}
        for name in options.variants():
            reason = self.unavailable_reason(name)
            if reason is None:
                run.append(name)
            else:
                unavailable[name] = reason
        if not run:
            raise ModelUnavailableError(" / ".join(f"{name}: {why}" for name, why in unavailable.items()))
        switches = {name: self._resolve_switches(name, options) for name in run}
        # Counting a stream without a stored count means decoding it: never past the limit + 1.
        source = open_frames(video, max_pixels=self.config.max_frame_pixels,
                             count_limit=(options.max_frames or self.config.max_frames) + 1)
        if options.max_frames is None and len(source) > self.config.max_frames:
            frames = f"at least {len(source)}" if source.count_is_lower_bound else str(len(source))
            raise ClipTooLongError(
                f"the clip has {frames} frames, more than this server's limit of {self.config.max_frames}: "
                f"set max_frames (at most {self.config.max_frames}) to track only its start, or cut the clip"
            )
        total = min(len(source), options.max_frames or len(source))
        source.last = total  # narrow the span in place: re-opening would decode a GIF again
        labelled = video.is_dir() and (video / "gt" / "gt.txt").is_file()
        return Plan(options, source, filename or video.name, total, run, unavailable, switches,
                    ground_truth=video if labelled else None)

    def _resolve_switches(self, name: str, options: TrackOptions) -> HookSwitches:
        """The switches ``name`` runs with: the caller's for VSD-MOT, none for the baseline."""
        hook = self.variants[name].model.hook
        requested = HookSwitches(student=options.student, dswr=options.dswr) if name == "vsd-mot" else HookSwitches()
        try:
            return hook.resolve(requested)
        except ValueError as exc:  # e.g. student on for a direct-integration checkpoint
            raise BadOptionError(f"{name}: {exc}") from None

    # ------------------------------------------------------------------------------ running

    def _tracker(self, name: str, switches: HookSwitches) -> Tracker:
        variant = self.variants[name]
        return Tracker(variant.model, detector=self.detector, teacher=variant.teacher, switches=switches)

    def run(self, plan: Plan, out_dir: Path, on_progress: ProgressCallback | None = None) -> TrackResult:
        """Track the planned frames; write MOT/JSON files (and videos) to ``out_dir``; return the answer.

        With ``options.sweep`` the clip is then tracked again at every other level of SWEEP_LEVELS
        (same seed, no video) and the answer's ``sweep`` compares the levels.
        """
        start = time.perf_counter()
        options = plan.options
        out_dir.mkdir(parents=True, exist_ok=True)
        info = plan.source.info
        panels = options.variants() if options.render else []
        size = panel_size(info.width, info.height, self.config.render_width)
        writers = PanelWriters(out_dir, info.fps, panels, plan.run) if panels else None
        progress = _PassProgress(on_progress, plan.frames_total, plan.passes)
        try:
            main = self._track_pass(plan, options.degrade, progress, writers, size)
        finally:
            if writers is not None:
                writers.close()
        for name, tracks in main.tracks.items():
            write_mot(out_dir / f"{name}.txt", tracks)
            write_json(out_dir / f"{name}.json", tracks)
        scores = ({name: self._score_against_truth(plan, tracks) for name, tracks in main.tracks.items()}
                  if plan.ground_truth is not None else None)
        sweep = self._sweep(plan, main, progress, out_dir) if options.sweep else None
        return self._answer(plan, main, scores, sweep, time.perf_counter() - start)

    def _track_pass(self, plan: Plan, degrade: str, progress: _PassProgress, writers: PanelWriters | None = None,
                    size: tuple[int, int] = (0, 0)) -> _Pass:
        """One pass over the planned frames at one degradation level, with fresh trackers (ids from 1)."""
        trackers = {name: self._tracker(name, plan.switches[name]) for name in plan.run}
        degrader = None
        if degrade != NO_DEGRADATION:
            from model.vsd.degrade import Degrader

            degrader = Degrader(preset=degrade, seed=plan.options.seed)
        result = _Pass(degrade, {name: {} for name in plan.run}, [], {name: 0.0 for name in plan.run}, 0.0)
        # The chart's w is VSD-MOT's DSWR weight, shown only where DSWR really ran.
        weighted = "vsd-mot" in trackers and trackers["vsd-mot"].needs.quality
        try:
            # Decode, degrade, Q and the detector run one frame ahead on a second thread (prepare_frames).
            for item in prepare_frames(plan.source, self.detector, transform=degrader):
                number, frame, quality, detections = item.number, item.frame, item.quality, item.detections
                result.detector_s += item.detector_ms / 1000
                for name, tracker in trackers.items():
                    tick = time.perf_counter()
                    result.tracks[name][number] = tracker.update(frame, detections=detections, quality=quality)
                    result.tracker_s[name] += time.perf_counter() - tick
                weight = trackers["vsd-mot"].last.semantic_weight if weighted else None
                result.frames.append(FrameRecord(
                    frame=number,
                    quality=round(float(quality.q), 4),
                    clarity=round(float(quality.clarity), 4),
                    noise=round(float(quality.noise), 4),
                    contrast=round(float(quality.contrast), 4),
                    semantic_weight=None if weight is None else round(float(weight), 4),
                    track_count={name: len(result.tracks[name][number]) for name in plan.run},
                ))
                if writers is not None:
                    writers.write(self._panels(frame, number, plan, result.tracks, size))
                progress.frame_done()
        except UnreadableVideoError as exc:  # e.g. a file that stops decoding mid-clip: name the user's file
            path = plan.source.path
            message = str(exc).replace(str(path), plan.filename).replace(path.name, plan.filename)
            raise type(exc)(message.replace(str(path.parent), "")) from None
        return result

    def _score_against_truth(self, plan: Plan, tracks: dict[int, Tracks]) -> TrackerScore:
        """Accuracy on the processed frames (1..frames_total) against the labelled upload's ground truth."""
        from model.evaluation.metrics import evaluate_sequence

        return tracker_score(evaluate_sequence(plan.ground_truth, tracks, first=1, last=plan.frames_total))

    def _sweep(self, plan: Plan, main: _Pass, progress: _PassProgress, out_dir: Path) -> list[SweepLevel]:
        """Every level of SWEEP_LEVELS (the main pass reused for its own), compared with the clean pass."""
        from model.evaluation.agreement import agreement

        passes = {main.degrade: main}
        for level in SWEEP_LEVELS:
            if level not in passes:
                passes[level] = self._track_pass(plan, level, progress)
        clean, info = passes[NO_DEGRADATION], plan.source.info
        levels = []
        for level in SWEEP_LEVELS:
            current = passes[level]
            trackers = {}
            for name, tracks in current.tracks.items():
                write_mot(out_dir / "sweep" / f"{level}-{name}.txt", tracks)
                agreed = None
                if level != NO_DEGRADATION:
                    metrics = agreement(clean.tracks[name], tracks, plan.frames_total, info.width, info.height)
                    agreed = None if metrics is None else tracker_score(metrics)
                trackers[name] = SweepTracker(
                    visible_mean=round(sum(len(t) for t in tracks.values()) / max(1, len(tracks)), 3),
                    ids=len({int(i) for t in tracks.values() for i in t.ids}),
                    rows=sum(len(t) for t in tracks.values()),
                    agreement=agreed,
                    score=self._score_against_truth(plan, tracks) if plan.ground_truth is not None else None,
                )
            weights = [f.semantic_weight for f in current.frames if f.semantic_weight is not None]
            levels.append(SweepLevel(
                degrade=level, seed=plan.options.seed,
                quality_mean=round(float(np.mean([f.quality for f in current.frames])), 4) if current.frames else 0.0,
                semantic_weight_mean=round(float(np.mean(weights)), 4) if weights else None,
                trackers=trackers,
            ))
        return levels

    def _panels(self, frame: np.ndarray, number: int, plan: Plan, results: dict[str, dict[int, Tracks]],
                size: tuple[int, int]) -> dict[str, np.ndarray]:
        images = {}
        for name in plan.options.variants():
            if name in results:
                images[name] = track_panel(frame, results[name][number], f"{PANEL_TITLES[name]} #{number}", size)
            else:  # the first words of the reason; the JSON answer holds all of it
                reason = plan.unavailable.get(name, "")
                images[name] = message_panel([f"{PANEL_TITLES[name]}: not available", *textwrap.wrap(reason, 48)[:3]],
                                             size)
        return images

    def _answer(self, plan: Plan, main: _Pass, scores: dict[str, TrackerScore] | None,
                sweep: list[SweepLevel] | None, elapsed: float) -> TrackResult:
        n = len(main.frames)
        summary = {}
        for name, tracks in main.tracks.items():
            busy = main.detector_s + main.tracker_s[name]
            summary[name] = VariantSummary(
                rows=sum(len(t) for t in tracks.values()),
                ids=len({int(i) for t in tracks.values() for i in t.ids}),
                fps=round(n / busy, 2) if busy > 0 else 0.0,
                tracker_ms_mean=round(1000 * main.tracker_s[name] / n, 2) if n else 0.0,
            )
        info, options = plan.source.info, plan.options
        return TrackResult(
            tracks={name: tracks_to_rows(tracks) for name, tracks in main.tracks.items()},
            unavailable=plan.unavailable,
            frames=main.frames,
            summary=summary,
            scores=scores,
            sweep=sweep,
            meta=TrackMeta(
                detector=self.detector_meta(),
                models={name: self._variant_meta(name, plan) for name in options.variants()},
                device=self.device,
                torch_threads=torch.get_num_threads(),
                fps=float(info.fps),
                frames_processed=n,
                elapsed_s=round(elapsed, 3),
                degrade=options.degrade,
                seed=options.seed,
                source=SourceMeta(filename=plan.filename, width=info.width, height=info.height,
                                  num_frames=info.num_frames),
                request=RequestEcho(variant=options.variant, student=options.student, dswr=options.dswr,
                                    degrade=options.degrade, seed=options.seed, max_frames=options.max_frames,
                                    sweep=options.sweep),
                labelled=plan.ground_truth is not None,
            ),
        )

    def _variant_meta(self, name: str, plan: Plan) -> VariantMeta:
        if name in plan.unavailable:
            return VariantMeta(available=False, reason=plan.unavailable[name])
        v = self.variants[name]
        switches, names = plan.switches[name], v.model.hook.switch_names
        return VariantMeta(
            available=True,
            checkpoint=v.checkpoint.name,
            sha256=v.meta.get("sha256"),
            teacher=v.meta.get("teacher"),
            trained_on=_trained_on(v.meta),
            student=bool(switches.student) if "student" in names else NOT_APPLICABLE,
            dswr=bool(switches.dswr) if "dswr" in names else NOT_APPLICABLE,
        )

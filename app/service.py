"""The tracking service: models loaded once, one request = decode -> degrade -> track -> render.

Why this shape:
- The detector runs ONCE per frame and both trackers consume its output, so comparing baseline and
  VSD-MOT costs one detector pass, and both see exactly the same (possibly degraded) frame.
- Tracker weights are loaded at start-up; a request only builds a fresh ``Tracker`` around an
  already-loaded model (so IDs restart at 1 and no state leaks between requests). VSD-MOT keeps one
  model copy per student/DSWR setting, so concurrent requests with different switches never touch
  each other's modules.
- Frame quality is assessed here for every frame (the chart needs it for both variants) and handed
  to the trackers, so it is never computed twice.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from app.config import DEGRADE_CHOICES, SEED_MAX, VARIANT_CHOICES, AppConfig
from app.errors import BadOptionError, ClipTooLongError, ModelUnavailableError
from app.panels import PANEL_TITLES, PanelWriters, message_panel, panel_size, track_panel
from app.schemas import TRACK_COLUMNS
from model.mot_io import tracks_to_rows, write_json, write_mot
from model.quality import assess_frame
from model.settings import PROJECT_ROOT
from model.track import VARIANTS, checkpoint_path
from model.tracker import QueryTrackerModel, Tracker, load_checkpoint
from model.types import Tracks
from model.video import FrameSource, UnreadableVideoError, open_frames

log = logging.getLogger("app")

NOT_APPLICABLE = "not applicable"
ProgressCallback = Callable[[int, int], None]


@dataclass
class TrackOptions:
    """What a caller may choose for one request (the same fields as the API form).

    Attributes:
        variant: "baseline", "vsd-mot" or "both".
        student, dswr: VSD-MOT switches; None keeps what the checkpoint was trained with.
        degrade: "none" or a :mod:`model.degrade` preset applied before tracking.
        seed: degradation seed (same seed -> same degradation).
        max_frames: track only the first ``max_frames`` frames; None = the whole clip.
        render: write the H.264 videos (the API's synchronous ``/track`` skips them).
    """

    variant: str = "both"
    student: bool | None = None
    dswr: bool | None = None
    degrade: str = "none"
    seed: int = 0
    max_frames: int | None = None
    render: bool = True

    def variants(self) -> list[str]:
        return list(VARIANTS) if self.variant == "both" else [self.variant]


@dataclass
class LoadedVariant:
    """A variant the server can run, or the reason it cannot.

    ``models`` maps (student, dswr) to a ready model; the baseline has the single key (None, None).
    """

    name: str
    checkpoint: Path
    reason: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    trained_switches: dict[str, bool] | None = None
    models: dict[tuple[bool | None, bool | None], QueryTrackerModel] = field(default_factory=dict)

    @property
    def loaded(self) -> bool:
        return self.reason is None


@dataclass
class Plan:
    """A validated request: what will run on which frames."""

    options: TrackOptions
    source: FrameSource
    filename: str
    frames_total: int
    run: list[str]  # variants that will run
    unavailable: dict[str, str]  # requested variants that cannot, with the reason
    switches: tuple[bool | None, bool | None]  # resolved (student, dswr) for VSD-MOT


def _short_path(path: Path) -> str:
    """Paths in messages relative to the project, so answers do not spell out the server's disk."""
    try:
        return str(Path(path).resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return Path(path).name


def _trained_on(meta: dict[str, Any]) -> list[str] | None:
    spans = meta.get("train_spans")
    return [f"{name}:{first}-{last}" for name, first, last in spans] if spans else None


def load_variant(name: str, checkpoint: Path) -> LoadedVariant:
    """Load a variant's checkpoint once; say plainly why when it cannot be used."""
    variant = LoadedVariant(name, Path(checkpoint))
    try:
        model, meta = load_checkpoint(checkpoint_path(name, checkpoint))
    except FileNotFoundError as exc:
        setting = "VSDMOT_BASELINE_CHECKPOINT" if name == "baseline" else "VSDMOT_VSDMOT_CHECKPOINT"
        variant.reason = f"{str(exc).replace(str(PROJECT_ROOT) + '/', '')} (server setting: {setting})"
        return variant
    except Exception as exc:  # a corrupt or foreign file must not stop the server
        variant.reason = f"cannot load {_short_path(checkpoint)}: {exc}"
        return variant
    variant.meta = meta
    has_switches = hasattr(model.hook, "configure")
    if name == "vsd-mot" and not has_switches:
        variant.reason = (
            f"{_short_path(checkpoint)} is a baseline checkpoint (no student/DSWR); "
            "point VSDMOT_VSDMOT_CHECKPOINT at a trained VSD-MOT checkpoint"
        )
        return variant
    if name == "baseline" and has_switches:
        variant.reason = (
            f"{_short_path(checkpoint)} is a VSD-MOT checkpoint; point VSDMOT_BASELINE_CHECKPOINT at a baseline one"
        )
        return variant
    if not has_switches:
        variant.models[(None, None)] = model
        return variant
    variant.trained_switches = {"student": bool(model.hook.use_student), "dswr": bool(model.hook.use_dswr)}
    for student in (True, False):
        for dswr in (True, False):
            copy_ = copy.deepcopy(model)
            copy_.hook.configure(student=student, dswr=dswr)
            variant.models[(student, dswr)] = copy_.eval()
    return variant


class TrackingService:
    """Holds the detector and the trackers' weights; ``plan`` validates a request, ``run`` does it."""

    def __init__(self, config: AppConfig) -> None:
        self.config = config
        torch.set_num_threads(config.torch_threads)
        self.detector: Any | None = None
        self.detector_error: str | None = None
        self.detector_sha256: str | None = None
        try:
            from model.detector import DetectorConfig, YoloxDetector
            from model.weights import REGISTRY

            self.detector = YoloxDetector(DetectorConfig(model=config.detector))
            spec = REGISTRY.get(config.detector)
            self.detector_sha256 = spec.sha256 if spec else None
        except Exception as exc:  # missing weights offline: the server still starts and says why
            self.detector_error = f"detector {config.detector!r} unavailable: {exc}"
            log.warning(self.detector_error)
        self.variants = {name: load_variant(name, config.checkpoint(name)) for name in VARIANTS}
        for variant in self.variants.values():
            if not variant.loaded:
                log.warning("%s not available: %s", variant.name, variant.reason)

    # ------------------------------------------------------------------------------ status

    @property
    def ready(self) -> bool:
        return self.detector is not None and any(v.loaded for v in self.variants.values())

    def unavailable_reason(self, name: str) -> str | None:
        if self.detector is None:
            return self.detector_error
        return self.variants[name].reason

    def models_status(self) -> dict[str, Any]:
        return {
            "detector": None if self.detector is None else {"name": self.config.detector, "sha256": self.detector_sha256},
            "detector_error": self.detector_error,
            "variants": {
                name: {
                    "loaded": v.loaded,
                    "reason": v.reason,
                    "checkpoint": _short_path(v.checkpoint),
                    "sha256": v.meta.get("sha256"),
                    "teacher": v.meta.get("teacher"),
                    "trained_on": _trained_on(v.meta),
                    "switches": v.trained_switches,
                }
                for name, v in self.variants.items()
            },
        }

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
        switches = self._resolve_switches(options) if "vsd-mot" in run else (None, None)
        # Counting a stream without a stored count means decoding it: never past the limit + 1.
        source = open_frames(video, max_pixels=self.config.max_frame_pixels, count_limit=self.config.max_frames + 1)
        if options.max_frames is None and len(source) > self.config.max_frames:
            frames = f"at least {len(source)}" if source.count_is_lower_bound else str(len(source))
            raise ClipTooLongError(
                f"the clip has {frames} frames, more than this server's limit of {self.config.max_frames}: "
                f"set max_frames (at most {self.config.max_frames}) to track only its start, or cut the clip"
            )
        total = min(len(source), options.max_frames or len(source))
        source.last = total  # narrow the span in place: re-opening would decode a GIF again
        return Plan(options, source, filename or video.name, total, run, unavailable, switches)

    def _resolve_switches(self, options: TrackOptions) -> tuple[bool, bool]:
        trained = self.variants["vsd-mot"].trained_switches or {"student": True, "dswr": True}
        student = trained["student"] if options.student is None else bool(options.student)
        dswr = trained["dswr"] if options.dswr is None else bool(options.dswr)
        return student, dswr

    # ------------------------------------------------------------------------------ running

    def _tracker(self, name: str, switches: tuple[bool | None, bool | None]) -> Tracker:
        models = self.variants[name].models
        return Tracker(models[switches if name == "vsd-mot" else (None, None)], detector=self.detector)

    def run(self, plan: Plan, out_dir: Path, on_progress: ProgressCallback | None = None) -> dict[str, Any]:
        """Track the planned frames; write MOT/JSON files (and videos) to ``out_dir``; return the answer."""
        start = time.perf_counter()
        options = plan.options
        out_dir.mkdir(parents=True, exist_ok=True)
        trackers = {name: self._tracker(name, plan.switches) for name in plan.run}
        degrader = None
        if options.degrade != "none":
            from model.degrade import Degrader

            degrader = Degrader(preset=options.degrade, seed=options.seed)
        info = plan.source.info
        panels = options.variants() if options.render else []
        size = panel_size(info.width, info.height, self.config.render_width)
        writers = PanelWriters(out_dir, info.fps, panels, plan.run) if panels else None
        results: dict[str, dict[int, Tracks]] = {name: {} for name in plan.run}
        tracker_s = {name: 0.0 for name in plan.run}
        detector_s = 0.0
        frames: list[dict[str, Any]] = []
        weight_shown = plan.switches[0] is True and plan.switches[1] is True
        try:
            for done, (number, frame) in enumerate(plan.source, start=1):
                if degrader is not None:
                    frame = degrader(frame, number)
                quality = assess_frame(frame)
                tick = time.perf_counter()
                detections = self.detector(frame)
                detector_s += time.perf_counter() - tick
                weight = None
                for name, tracker in trackers.items():
                    tick = time.perf_counter()
                    results[name][number] = tracker.update(frame, detections=detections, quality=quality)
                    tracker_s[name] += time.perf_counter() - tick
                    if name == "vsd-mot" and weight_shown:
                        weight = tracker.last.semantic_weight
                frames.append({
                    "frame": number,
                    "quality": round(float(quality.q), 4),
                    "clarity": round(float(quality.clarity), 4),
                    "noise": round(float(quality.noise), 4),
                    "contrast": round(float(quality.contrast), 4),
                    "semantic_weight": None if weight is None else round(float(weight), 4),
                    "track_count": {name: len(results[name][number]) for name in plan.run},
                })
                if writers is not None:
                    writers.write(self._panels(frame, number, panels, results, plan.unavailable, size))
                if on_progress is not None:
                    on_progress(done, plan.frames_total)
        except UnreadableVideoError as exc:  # e.g. a file that stops decoding mid-clip: name the user's file
            raise type(exc)(str(exc).replace(plan.source.path.name, plan.filename)) from None
        finally:
            if writers is not None:
                writers.close()
        for name, tracks in results.items():
            write_mot(out_dir / f"{name}.txt", tracks)
            write_json(out_dir / f"{name}.json", tracks)
        return self._answer(plan, results, frames, tracker_s, detector_s, time.perf_counter() - start)

    def _panels(
        self, frame: np.ndarray, number: int, panels: list[str], results: dict[str, dict[int, Tracks]],
        unavailable: dict[str, str], size: tuple[int, int],
    ) -> dict[str, np.ndarray]:
        images = {}
        for name in panels:
            if name in results:
                images[name] = track_panel(frame, results[name][number], f"{PANEL_TITLES[name]} #{number}", size)
            else:
                images[name] = message_panel([f"{PANEL_TITLES[name]}: not available", "no trained checkpoint"], size)
        return images

    def _answer(
        self, plan: Plan, results: dict[str, dict[int, Tracks]], frames: list[dict[str, Any]],
        tracker_s: dict[str, float], detector_s: float, elapsed: float,
    ) -> dict[str, Any]:
        n = len(frames)
        summary = {}
        for name, tracks in results.items():
            ids = {int(i) for t in tracks.values() for i in t.ids}
            busy = detector_s + tracker_s[name]
            summary[name] = {
                "rows": sum(len(t) for t in tracks.values()),
                "ids": len(ids),
                "fps": round(n / busy, 2) if busy > 0 else 0.0,
                "tracker_ms_mean": round(1000 * tracker_s[name] / n, 2) if n else 0.0,
            }
        info = plan.source.info
        return {
            "columns": TRACK_COLUMNS,
            "tracks": {name: tracks_to_rows(tracks) for name, tracks in results.items()},
            "unavailable": plan.unavailable,
            "frames": frames,
            "summary": summary,
            "meta": {
                "detector": {"name": self.config.detector, "sha256": self.detector_sha256},
                "models": {name: self._variant_meta(name, plan) for name in plan.options.variants()},
                "device": "cpu",
                "torch_threads": torch.get_num_threads(),
                "fps": float(info.fps),
                "frames_processed": n,
                "elapsed_s": round(elapsed, 3),
                "degrade": plan.options.degrade,
                "seed": plan.options.seed,
                "source": {"filename": plan.filename, "width": info.width, "height": info.height,
                           "num_frames": info.num_frames},
            },
        }

    def _variant_meta(self, name: str, plan: Plan) -> dict[str, Any]:
        if name in plan.unavailable:
            return {"available": False, "reason": plan.unavailable[name]}
        v = self.variants[name]
        switches = plan.switches if name == "vsd-mot" else (NOT_APPLICABLE, NOT_APPLICABLE)
        return {
            "available": True,
            "checkpoint": v.checkpoint.name,
            "sha256": v.meta.get("sha256"),
            "teacher": v.meta.get("teacher"),
            "trained_on": _trained_on(v.meta),
            "student": switches[0],
            "dswr": switches[1],
        }

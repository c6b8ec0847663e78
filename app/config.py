"""Server settings and user-facing limits, declared once and read once from environment variables.

Why env vars: the same ``python app.py`` must run on a laptop, in CI and on a Hugging Face Space,
where the only knobs are the environment. Every limit a user can hit is a field here, so the UI,
the API docs and the error messages all quote the same numbers. Each field names its variable in
its metadata; :meth:`AppConfig.from_env` reads them all from that one declaration, defaults included.
The choice lists (variants, degradation presets, seed range) come from :mod:`model.core.choices`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from collections.abc import Callable
from typing import Any

from model.core import settings
from model.core.choices import DEVICE_AUTO, DEVICE_CHOICES
from model.core.settings import DEFAULT_CHECKPOINTS

UPLOAD_SUFFIXES = (".mp4", ".avi", ".mov", ".webm", ".mkv", ".gif")  # clips
LABELLED_SUFFIXES = (".zip",)  # a labelled MOTChallenge sequence (app.labelled), tracked and scored
ACCEPTED_SUFFIXES = UPLOAD_SUFFIXES + LABELLED_SUFFIXES
UHD_4K_PIXELS = 3840 * 2160


def _env(name: str, minimum: int | None = None, parse: Callable[[str, str], Any] | None = None) -> dict[str, Any]:
    """Field metadata: the variable that sets it, how its text is read (``parse(name, text)``; default:
    a whole number when ``minimum`` is given, else the text), and a whole number's least allowed value."""
    if parse is None:
        parse = (lambda name, raw: _whole_number(name, raw, minimum)) if minimum is not None else (lambda name, raw: raw)
    return {"env": name, "minimum": minimum, "parse": parse}


def _path(name: str, raw: str) -> Path:
    return Path(raw).expanduser()


def _flag(name: str, raw: str) -> bool:
    value = raw.lower()
    if value not in ("1", "true", "yes", "0", "false", "no"):
        raise ValueError(f"environment variable {name}={raw!r} must be true or false (1/0, yes/no)")
    return value in ("1", "true", "yes")


def _origins(name: str, raw: str) -> tuple[str, ...]:
    origins = tuple(o.strip() for o in raw.split(",") if o.strip())
    bad = [o for o in origins if o != "*" and not o.startswith(("http://", "https://"))]
    if bad:
        raise ValueError(f"environment variable {name}: {bad[0]!r} is not an origin like https://example.org")
    return origins


def _device(name: str, raw: str) -> str:
    value = raw.lower()
    if value not in DEVICE_CHOICES:
        raise ValueError(f"environment variable {name}={raw!r} must be one of {', '.join(DEVICE_CHOICES)}")
    return value


# The field holding each variant's checkpoint (its metadata names the variable that sets it).
CHECKPOINT_FIELDS: dict[str, str] = {"baseline": "baseline_checkpoint", "vsd-mot": "vsdmot_checkpoint"}


@dataclass
class AppConfig:
    """Everything the web service needs to know; ``AppConfig.from_env()`` is what ``app.py`` uses.

    Attributes:
        host, port: where uvicorn listens (``HOST``, ``PORT``; Spaces expects 0.0.0.0:7860).
        baseline_checkpoint, vsdmot_checkpoint: trained tracker weights
            (``VSDMOT_BASELINE_CHECKPOINT``, ``VSDMOT_VSDMOT_CHECKPOINT``; default ``assets/``).
        detector: weight-registry name of the proposal detector (``VSDMOT_DETECTOR``).
        max_upload_mb: largest accepted upload, enforced while the body streams in
            (``VSDMOT_MAX_UPLOAD_MB``).
        max_frames: most frames one request may track (``VSDMOT_MAX_FRAMES``); the 1394-frame
            example clip fits under the default.
        max_frame_pixels: largest frame (width x height) accepted; bigger clips are refused from
            their header before any frame is decoded (``VSDMOT_MAX_FRAME_PIXELS``; default 4K UHD).
        workers: jobs tracked at the same time (``VSDMOT_WORKERS``); each uses ``torch_threads``.
        max_queued: jobs allowed to wait; more are refused with 429 (``VSDMOT_MAX_QUEUED``).
        max_jobs_per_client: queued + running jobs one client may hold; more are refused with 429, so one
            script cannot fill a public Space's queue (``VSDMOT_MAX_JOBS_PER_CLIENT``).
        trust_forwarded_for: tell clients apart by the first ``X-Forwarded-For`` address (behind a proxy
            that sets it, e.g. a Hugging Face Space) instead of the connection's (``VSDMOT_TRUST_FORWARDED_FOR``).
        job_ttl_s: how long finished results stay on disk (``VSDMOT_JOB_TTL_S``).
        job_deadline_base_s, job_deadline_ms_per_frame: a job may run base + frames x per-frame before its
            worker process is stopped and the job failed (``VSDMOT_JOB_DEADLINE_BASE_S``,
            ``VSDMOT_JOB_DEADLINE_MS_PER_FRAME``; default 120 s + 0.5 s a frame, ~12x what a clip takes here).
        jobs_dir: where uploads and results live (``VSDMOT_JOBS_DIR``; default in the cache dir).
        render_width: width of each rendered panel in pixels; frames are scaled down to it so
            encoding stays cheap (``VSDMOT_RENDER_WIDTH``).
        torch_threads: intra-op threads for the tracker (``VSDMOT_TORCH_THREADS``).
        device: where the tracker and the detector run (``VSDMOT_DEVICE``: auto = CUDA when there is
            one, cpu, cuda; :mod:`model.core.device`).
        cors_origins: browser origins allowed to call the API from other sites (``VSDMOT_CORS_ORIGINS``,
            comma-separated); none by default, so CORS stays off unless configured.
        examples_dir: folder of example clips shown in the UI (``VSDMOT_VIDEOS_DIR``), or None.
    """

    host: str = field(default="0.0.0.0", metadata=_env("HOST"))
    port: int = field(default=7860, metadata=_env("PORT", minimum=1))
    baseline_checkpoint: Path = field(default_factory=lambda: DEFAULT_CHECKPOINTS["baseline"],
                                      metadata=_env("VSDMOT_BASELINE_CHECKPOINT", parse=_path))
    vsdmot_checkpoint: Path = field(default_factory=lambda: DEFAULT_CHECKPOINTS["vsd-mot"],
                                    metadata=_env("VSDMOT_VSDMOT_CHECKPOINT", parse=_path))
    detector: str = field(default="yolox_nano", metadata=_env("VSDMOT_DETECTOR"))
    max_upload_mb: int = field(default=50, metadata=_env("VSDMOT_MAX_UPLOAD_MB", minimum=1))
    max_frames: int = field(default=1500, metadata=_env("VSDMOT_MAX_FRAMES", minimum=1))
    max_frame_pixels: int = field(default=UHD_4K_PIXELS, metadata=_env("VSDMOT_MAX_FRAME_PIXELS", minimum=1))
    workers: int = field(default=1, metadata=_env("VSDMOT_WORKERS", minimum=1))
    max_queued: int = field(default=8, metadata=_env("VSDMOT_MAX_QUEUED", minimum=0))
    max_jobs_per_client: int = field(default=2, metadata=_env("VSDMOT_MAX_JOBS_PER_CLIENT", minimum=1))
    trust_forwarded_for: bool = field(default=False, metadata=_env("VSDMOT_TRUST_FORWARDED_FOR", parse=_flag))
    job_ttl_s: int = field(default=3600, metadata=_env("VSDMOT_JOB_TTL_S", minimum=0))
    job_deadline_base_s: int = field(default=120, metadata=_env("VSDMOT_JOB_DEADLINE_BASE_S", minimum=1))
    job_deadline_ms_per_frame: int = field(default=500, metadata=_env("VSDMOT_JOB_DEADLINE_MS_PER_FRAME", minimum=1))
    jobs_dir: Path = field(default_factory=lambda: settings.cache_dir() / "jobs", metadata=_env("VSDMOT_JOBS_DIR", parse=_path))
    render_width: int = field(default=640, metadata=_env("VSDMOT_RENDER_WIDTH", minimum=2))
    torch_threads: int = field(default=1, metadata=_env("VSDMOT_TORCH_THREADS", minimum=1))
    device: str = field(default=DEVICE_AUTO, metadata=_env("VSDMOT_DEVICE", parse=_device))
    cors_origins: tuple[str, ...] = field(default=(), metadata=_env("VSDMOT_CORS_ORIGINS", parse=_origins))
    # Read through model.core.settings (VSDMOT_VIDEOS_DIR, or the offline bundle's videos/).
    examples_dir: Path | None = field(default_factory=settings.videos_dir)

    def __post_init__(self) -> None:
        for f in fields(self):
            minimum = f.metadata.get("minimum")
            if minimum is not None and getattr(self, f.name) < minimum:
                raise ValueError(f"{f.name} must be at least {minimum}, got {getattr(self, f.name)}")
        if self.device not in DEVICE_CHOICES:
            raise ValueError(f"device must be one of {', '.join(DEVICE_CHOICES)}, got {self.device!r}")
        if self.render_width % 2:
            raise ValueError(f"render_width must be even (H.264 needs even sizes), got {self.render_width}")

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024

    @property
    def upload_capacity(self) -> int:
        """Upload requests in flight at once (received, waiting or tracked); more get 429."""
        return self.workers + self.max_queued

    def checkpoint(self, variant: str) -> Path:
        return getattr(self, CHECKPOINT_FIELDS[variant])

    @classmethod
    def checkpoint_setting(cls, variant: str) -> str:
        """The environment variable that points ``variant`` at a checkpoint."""
        return next(f.metadata["env"] for f in fields(cls) if f.name == CHECKPOINT_FIELDS[variant])

    @classmethod
    def from_env(cls) -> AppConfig:
        """The settings from the environment; a variable that is unset or blank keeps the field's default."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            name = f.metadata.get("env")
            raw = os.environ.get(name, "").strip() if name else ""
            if raw:
                values[f.name] = f.metadata["parse"](name, raw)
        return cls(**values)

    def limits_text(self) -> str:
        """The limits as one sentence, shown in the UI and the API description."""
        return (
            f"Uploads up to {self.max_upload_mb} MB ({', '.join(s.lstrip('.') for s in UPLOAD_SUFFIXES)}, or a labelled "
            f"MOTChallenge sequence as {', '.join(s.lstrip('.') for s in LABELLED_SUFFIXES)} to be scored); "
            f"at most {self.max_frames} frames per clip (set max frames to track only the start of a longer clip), "
            f"frames up to {self.max_frame_pixels / 1e6:.1f} megapixels (4K UHD is 8.3); "
            f"finished results are kept for {self.job_ttl_s // 60} min."
        )


def _whole_number(name: str, raw: str, minimum: int) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"environment variable {name}={raw!r} must be a whole number") from None
    if value < minimum:
        raise ValueError(f"environment variable {name}={value} must be at least {minimum}")
    return value

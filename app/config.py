"""Server settings and user-facing limits, read once from environment variables.

Why env vars: the same ``python app.py`` must run on a laptop, in CI and on a Hugging Face Space,
where the only knobs are the environment. Every limit a user can hit is a field here, so the UI,
the API docs and the error messages all quote the same numbers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from model import settings
from model.track import DEFAULT_CHECKPOINTS

UPLOAD_SUFFIXES = (".mp4", ".avi", ".mov", ".webm", ".mkv", ".gif")
VARIANT_CHOICES = ("baseline", "vsd-mot", "both")
DEGRADE_CHOICES = ("none", "mild", "medium", "severe")
SEED_MAX = 2**32 - 1  # numpy seeds beyond this only cost parsing time; the API refuses them
UHD_4K_PIXELS = 3840 * 2160


def _env_int(name: str, default: int, minimum: int = 0) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"environment variable {name}={raw!r} must be a whole number") from None
    if value < minimum:
        raise ValueError(f"environment variable {name}={value} must be at least {minimum}")
    return value


def _env_path(name: str, default: Path) -> Path:
    raw = os.environ.get(name, "").strip()
    return Path(raw).expanduser() if raw else default


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
        job_ttl_s: how long finished results stay on disk (``VSDMOT_JOB_TTL_S``).
        jobs_dir: where uploads and results live (``VSDMOT_JOBS_DIR``; default in the cache dir).
        render_width: width of each rendered panel in pixels; frames are scaled down to it so
            encoding stays cheap (``VSDMOT_RENDER_WIDTH``).
        torch_threads: intra-op threads for the tracker (``VSDMOT_TORCH_THREADS``).
        examples_dir: folder of example clips shown in the UI (``VSDMOT_VIDEOS_DIR``), or None.
    """

    host: str = "0.0.0.0"
    port: int = 7860
    baseline_checkpoint: Path = field(default_factory=lambda: DEFAULT_CHECKPOINTS["baseline"])
    vsdmot_checkpoint: Path = field(default_factory=lambda: DEFAULT_CHECKPOINTS["vsd-mot"])
    detector: str = "yolox_nano"
    max_upload_mb: int = 50
    max_frames: int = 1500
    max_frame_pixels: int = UHD_4K_PIXELS
    workers: int = 1
    max_queued: int = 8
    job_ttl_s: int = 3600
    jobs_dir: Path = field(default_factory=lambda: settings.cache_dir() / "jobs")
    render_width: int = 640
    torch_threads: int = 1
    examples_dir: Path | None = field(default_factory=settings.videos_dir)

    def __post_init__(self) -> None:
        for name in ("max_upload_mb", "max_frames", "max_frame_pixels", "workers", "render_width", "torch_threads"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
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
        return {"baseline": self.baseline_checkpoint, "vsd-mot": self.vsdmot_checkpoint}[variant]

    @classmethod
    def from_env(cls) -> AppConfig:
        return cls(
            host=os.environ.get("HOST", "0.0.0.0"),
            port=_env_int("PORT", 7860, minimum=1),
            baseline_checkpoint=_env_path("VSDMOT_BASELINE_CHECKPOINT", DEFAULT_CHECKPOINTS["baseline"]),
            vsdmot_checkpoint=_env_path("VSDMOT_VSDMOT_CHECKPOINT", DEFAULT_CHECKPOINTS["vsd-mot"]),
            detector=os.environ.get("VSDMOT_DETECTOR", "yolox_nano"),
            max_upload_mb=_env_int("VSDMOT_MAX_UPLOAD_MB", 50, minimum=1),
            max_frames=_env_int("VSDMOT_MAX_FRAMES", 1500, minimum=1),
            max_frame_pixels=_env_int("VSDMOT_MAX_FRAME_PIXELS", UHD_4K_PIXELS, minimum=1),
            workers=_env_int("VSDMOT_WORKERS", 1, minimum=1),
            max_queued=_env_int("VSDMOT_MAX_QUEUED", 8),
            job_ttl_s=_env_int("VSDMOT_JOB_TTL_S", 3600),
            jobs_dir=_env_path("VSDMOT_JOBS_DIR", settings.cache_dir() / "jobs"),
            render_width=_env_int("VSDMOT_RENDER_WIDTH", 640, minimum=2),
            torch_threads=_env_int("VSDMOT_TORCH_THREADS", 1, minimum=1),
            examples_dir=settings.videos_dir(),
        )

    def limits_text(self) -> str:
        """The limits as one sentence, shown in the UI and the API description."""
        return (
            f"Uploads up to {self.max_upload_mb} MB ({', '.join(s.lstrip('.') for s in UPLOAD_SUFFIXES)}); "
            f"at most {self.max_frames} frames per clip (set max frames to track only the start of a longer clip), "
            f"frames up to {self.max_frame_pixels / 1e6:.1f} megapixels (4K UHD is 8.3); "
            f"finished results are kept for {self.job_ttl_s // 60} min."
        )

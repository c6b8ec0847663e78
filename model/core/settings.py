"""Where the project finds data and weights it does not ship.

Everything external is reached through environment variables so nothing from the shared
development folder is ever committed, and so a deployment can point at its own copies:

- ``VSDMOT_SHARED_DIR``  root of the offline bundle (default: ``../shared`` next to the checkout, if present)
- ``VSDMOT_WEIGHTS_DIR`` local weight files (default: ``$VSDMOT_SHARED_DIR/weights``)
- ``VSDMOT_DATA_DIR``    MOTChallenge-layout sequences (default: ``$VSDMOT_SHARED_DIR/data/mot``)
- ``VSDMOT_VIDEOS_DIR``  example clips (default: ``$VSDMOT_SHARED_DIR/videos``)
- ``VSDMOT_CACHE_DIR``   downloads and detector/teacher caches (default: ``~/.cache/vsdmot``)
- ``VSDMOT_DEVICE``      auto | cpu | cuda: where the tracker and detector run (default auto, model.core.device)
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ASSETS_DIR = PROJECT_ROOT / "assets"
# The shipped checkpoint of each variant (model.core.choices.VARIANTS).
DEFAULT_CHECKPOINTS: dict[str, Path] = {"baseline": ASSETS_DIR / "baseline.pt", "vsd-mot": ASSETS_DIR / "vsd_mot.pt"}


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name, "").strip()
    return Path(value).expanduser() if value else None


def shared_dir() -> Path | None:
    """The offline bundle, or None when this machine has none."""
    explicit = _env_path("VSDMOT_SHARED_DIR")
    if explicit is not None:
        return explicit if explicit.is_dir() else None
    default = PROJECT_ROOT.parent / "shared"
    return default if default.is_dir() else None


def _under_shared(env: str, *parts: str) -> Path | None:
    explicit = _env_path(env)
    if explicit is not None:
        return explicit if explicit.exists() else None
    root = shared_dir()
    if root is None:
        return None
    candidate = root.joinpath(*parts)
    return candidate if candidate.exists() else None


def weights_dir() -> Path | None:
    return _under_shared("VSDMOT_WEIGHTS_DIR", "weights")


def data_dir() -> Path | None:
    return _under_shared("VSDMOT_DATA_DIR", "data", "mot")


def videos_dir() -> Path | None:
    return _under_shared("VSDMOT_VIDEOS_DIR", "videos")


def cache_dir() -> Path:
    path = _env_path("VSDMOT_CACHE_DIR") or Path.home() / ".cache" / "vsdmot"
    path.mkdir(parents=True, exist_ok=True)
    return path


def device_setting() -> str:
    """The ``VSDMOT_DEVICE`` setting (``auto`` when unset); checked where it is resolved."""
    from model.core.choices import DEVICE_AUTO

    return os.environ.get("VSDMOT_DEVICE", "").strip().lower() or DEVICE_AUTO

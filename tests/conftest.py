"""Shared fixtures: where the real data lives, and skipping with a reason when it does not."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from model.core import settings


def _require(path: Path | None, what: str) -> Path:
    if path is None:
        pytest.skip(f"{what} not found: set VSDMOT_SHARED_DIR (or the specific VSDMOT_*_DIR) to the offline bundle")
    return path


@pytest.fixture(scope="session")
def weights_dir() -> Path:
    return _require(settings.weights_dir(), "weights folder")


@pytest.fixture(scope="session")
def mot_dir() -> Path:
    return _require(settings.data_dir(), "MOTChallenge data folder")


@pytest.fixture(scope="session")
def videos_dir() -> Path:
    return _require(settings.videos_dir(), "example videos folder")


@pytest.fixture(scope="session")
def pets_dir(mot_dir: Path) -> Path:
    return _require(mot_dir / "PETS09-S2L1" if (mot_dir / "PETS09-S2L1").is_dir() else None, "PETS09-S2L1")


@pytest.fixture(scope="session")
def real_frames(pets_dir: Path) -> list[np.ndarray]:
    """A handful of real 768x576 PETS09 frames, spread over the sequence."""
    import cv2

    images = sorted((pets_dir / "img1").glob("*.jpg"))
    return [cv2.imread(str(images[i])) for i in (0, 150, 300, 450, 600)]

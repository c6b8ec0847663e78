"""The app as ``python app.py`` builds it (default settings, shipped checkpoints), on a private cache."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.config import AppConfig
from app.server import create_app
from model.core import settings
from model.tracking.checkpoint import DEFAULT_CHECKPOINTS


def test_default_app_serves_the_shipped_checkpoints_and_stops_its_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VSDMOT_CACHE_DIR", str(tmp_path))  # never the real ~/.cache
    config = AppConfig.from_env()
    assert config.jobs_dir == tmp_path / "jobs"
    before = set(threading.enumerate())
    with TestClient(create_app(config)) as client:
        health = client.get("/health").json()
        models = client.get("/models").json()
    assert not [t for t in set(threading.enumerate()) - before if t.is_alive() and t.name.startswith("job-")]
    detector_here = settings.weights_dir() is not None and (settings.weights_dir() / "yolox_nano.onnx").is_file()
    if detector_here:
        assert health["ready"] and models["detector_error"] is None
    else:  # offline with no weights the server still starts, and says why it cannot track
        assert not health["ready"] and "unavailable" in models["detector_error"]
    for name, path in DEFAULT_CHECKPOINTS.items():
        variant = models["variants"][name]
        assert variant["loaded"], variant["reason"]
        assert variant["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert models["variants"]["vsd-mot"]["switches"] == {"student": True, "dswr": True}
    assert models["variants"]["baseline"]["switches"] is None

"""The tracking service with every kind of checkpoint: one model per checkpoint, switches per
request, a direct-integration checkpoint served with its teacher, wrong or broken files refused."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from app.config import AppConfig
from app.errors import BadOptionError
from app.service import TrackingService, TrackOptions, load_variant
from model.tracking.checkpoint import DEFAULT_CHECKPOINTS, load_checkpoint, save_checkpoint
from model.tracking.hooks import DirectTeacherHook, VSDHook


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory, pets_dir: Path) -> Path:
    """Six real PETS09 frames as an mp4."""
    from model.data.render import VideoWriter

    path = tmp_path_factory.mktemp("clip") / "pets.mp4"
    writer = VideoWriter(path, 7.0)
    for image in sorted((pets_dir / "img1").glob("*.jpg"))[:6]:
        writer.write(cv2.imread(str(image)))
    writer.close()
    return path


def _direct_checkpoint(path: Path) -> Path:
    model, meta = load_checkpoint(DEFAULT_CHECKPOINTS["baseline"])
    model.hook = DirectTeacherHook("effnet-lite0", 1280)
    save_checkpoint(path, model, {"variant": "direct", "teacher": "effnet-lite0"})
    return path


def test_a_checkpoint_in_the_wrong_slot_or_broken_is_refused_with_the_reason(tmp_path: Path) -> None:
    wrong = load_variant("baseline", DEFAULT_CHECKPOINTS["vsd-mot"])
    assert not wrong.loaded and "is a VSD-MOT checkpoint" in wrong.reason and "VSDMOT_BASELINE_CHECKPOINT" in wrong.reason
    wrong = load_variant("vsd-mot", DEFAULT_CHECKPOINTS["baseline"])
    assert not wrong.loaded and "baseline checkpoint" in wrong.reason
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a checkpoint")
    assert "cannot load" in load_variant("vsd-mot", broken).reason
    missing = load_variant("vsd-mot", tmp_path / "none.pt")
    assert not missing.loaded and "VSDMOT_VSDMOT_CHECKPOINT" in missing.reason


def test_one_model_serves_every_switch_combination(tmp_path: Path, weights_dir: Path, clip: Path) -> None:
    service = TrackingService(AppConfig(jobs_dir=tmp_path / "jobs"))
    model = service.variants["vsd-mot"].model
    assert isinstance(model.hook, VSDHook)
    results = {}
    for student, dswr in ((True, True), (True, False), (False, None)):
        plan = service.plan(clip, TrackOptions(variant="vsd-mot", student=student, dswr=dswr, render=False))
        results[(student, dswr)] = service.run(plan, tmp_path / f"out-{student}-{dswr}")
        assert service.variants["vsd-mot"].model is model  # no copies per setting
    full, fixed, off = results[(True, True)], results[(True, False)], results[(False, None)]
    assert full.meta.models["vsd-mot"].student is True and fixed.meta.models["vsd-mot"].dswr is False
    assert all(f.semantic_weight is not None for f in full.frames)  # DSWR ran: w is reported
    assert all(f.semantic_weight is None for f in fixed.frames + off.frames)
    assert full.meta.device == "cpu"


def test_a_direct_integration_checkpoint_runs_with_its_teacher(tmp_path: Path, weights_dir: Path, clip: Path) -> None:
    config = AppConfig(vsdmot_checkpoint=_direct_checkpoint(tmp_path / "direct.pt"), jobs_dir=tmp_path / "jobs")
    service = TrackingService(config)
    variant = service.variants["vsd-mot"]
    assert variant.loaded and variant.teacher is not None and variant.teacher.name == "effnet-lite0"
    assert service.models_status().variants["vsd-mot"].switches == {"dswr": True}
    result = service.run(service.plan(clip, TrackOptions(variant="both", max_frames=3, render=False)), tmp_path / "o")
    assert set(result.tracks) == {"baseline", "vsd-mot"} and result.meta.frames_processed == 3
    assert result.meta.models["vsd-mot"].student == "not applicable" and result.meta.models["vsd-mot"].dswr is True
    assert all(np.isfinite(f.semantic_weight) for f in result.frames)
    with pytest.raises(BadOptionError, match="no student"):
        service.plan(clip, TrackOptions(variant="vsd-mot", student=True))

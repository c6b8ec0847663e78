"""The frozen teachers: real pretrained weights, frozen-ness, and CLIP failing fast offline."""

from __future__ import annotations

import dataclasses
import socket
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from model.vsd import teacher as teacher_module
from model.core.choices import TEACHERS as TEACHER_NAMES
from model.vsd.teacher import (
    CLIP_RN50,
    TeacherUnavailableError,
    build_teacher,
    hub_reachable,
    load_effnet_lite0_imagenet,
)
from tests.helpers import random_teacher_for_tests

MILITARY_UNIFORM = 652  # ImageNet-1k class index (timm.data.ImageNetInfo)


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def effnet():
    torch.set_num_threads(1)
    return build_teacher("effnet-lite0")


@pytest.fixture
def offline_clip(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No CLIP checkpoint configured and an empty download cache."""
    monkeypatch.delenv("VSDMOT_CLIP_CHECKPOINT", raising=False)
    monkeypatch.setenv("VSDMOT_CACHE_DIR", str(tmp_path))
    return tmp_path


def _frame(seed: int, height: int = 120, width: int = 160) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


# --- registry ---------------------------------------------------------------------------------


def test_registry_names() -> None:
    assert TEACHER_NAMES == ("clip-rn50", "effnet-lite0")


def test_unknown_or_test_only_teacher_is_refused_with_the_valid_names() -> None:
    for name in ("random", "random-for-tests", "clip"):
        with pytest.raises(ValueError, match="clip-rn50, effnet-lite0"):
            build_teacher(name)


# --- effnet-lite0: the real offline teacher ---------------------------------------------------


def test_effnet_features_separate_real_frames_from_noise(effnet, real_frames: list[np.ndarray]) -> None:
    """Pretrained features see five PETS09 frames as one scene and noise as something else.

    Measured: real-real cosine >= 0.77, real-noise <= 0.21. A random-init EfficientNet gives
    0.99 for both (its pooled features barely depend on the image), so this fails without the
    ImageNet weights.
    """
    noise = np.random.default_rng(0).integers(0, 256, real_frames[0].shape, dtype=np.uint8)
    features = torch.nn.functional.normalize(effnet.embed([*real_frames, noise]), dim=1)
    cosine = features @ features.T
    real_real = cosine[:5, :5].min().item()
    real_noise = cosine[:5, 5].max().item()
    assert real_real > 0.6
    assert real_real - real_noise > 0.4


def test_effnet_classifies_a_real_photo() -> None:
    """Grace Hopper in uniform (matplotlib's sample photo) is 'military uniform' in the top 5."""
    cv2 = pytest.importorskip("cv2")
    cbook = pytest.importorskip("matplotlib.cbook")
    try:
        path = cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    except (OSError, ValueError):
        pytest.skip("matplotlib's sample photo grace_hopper.jpg is not installed")
    # The teacher is this network without its classifier; the classifier proves the weights are ImageNet's.
    network = load_effnet_lite0_imagenet()
    preprocess = build_teacher("effnet-lite0").preprocess
    with torch.no_grad():
        logits = network(preprocess(cv2.imread(str(path)))[None])
    assert MILITARY_UNIFORM in logits.topk(5).indices[0].tolist()


def test_effnet_is_frozen_and_shaped(effnet) -> None:
    assert (effnet.name, effnet.dim) == ("effnet-lite0", 1280)
    assert all(not p.requires_grad for p in effnet.parameters())
    assert not effnet.network.training
    with torch.enable_grad():
        out = effnet.embed([_frame(0), _frame(1, 300, 200)])  # sizes may differ
    assert out.shape == (2, 1280) and out.dtype == torch.float32
    assert not out.requires_grad


def test_effnet_accepts_list_single_frame_and_batch_array(effnet) -> None:
    frames = np.stack([_frame(2), _frame(3)])
    from_array = effnet.embed(frames)
    assert torch.allclose(from_array, effnet.embed(list(frames)))
    assert torch.allclose(effnet.embed(frames[0]), from_array[:1])
    assert effnet.embed([]).shape == (0, 1280)


def test_embed_rejects_frames_that_are_not_bgr_uint8(effnet) -> None:
    with pytest.raises(ValueError, match="BGR uint8"):
        effnet.embed([np.zeros((10, 10, 3), np.float32)])
    with pytest.raises(ValueError, match="BGR uint8"):
        effnet.embed([np.zeros((10, 10), np.uint8)])


def test_effnet_refuses_a_checkpoint_of_another_network(tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.pth"
    torch.save(torch.nn.Linear(3, 2).state_dict(), wrong)
    with pytest.raises(ValueError, match="not an EfficientNet-Lite0 checkpoint"):
        build_teacher("effnet-lite0", checkpoint=wrong)
    with pytest.raises(FileNotFoundError, match="not found"):
        build_teacher("effnet-lite0", checkpoint=tmp_path / "missing.pth")


# --- clip-rn50: the paper's teacher -----------------------------------------------------------


def test_clip_fails_fast_and_helpfully_when_offline(
    offline_clip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.monotonic()
    with pytest.raises(TeacherUnavailableError) as info:
        build_teacher("clip-rn50")
    assert time.monotonic() - start < 5.0
    message = str(info.value)
    assert "connect this machine to the hub" in message
    assert "VSDMOT_CLIP_CHECKPOINT" in message
    assert "effnet-lite0" in message
    assert CLIP_RN50.sha256 in message


def test_clip_probe_gives_up_quickly_on_unresolvable_hosts(
    offline_clip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # .invalid never resolves (RFC 2606): exercises the network probe without needing a network.
    for name in ("HF_HUB_OFFLINE", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "https://hub.invalid")
    unreachable_cdn = dataclasses.replace(CLIP_RN50, url="https://cdn.invalid/RN50.pt")
    monkeypatch.setattr(teacher_module, "CLIP_RN50", unreachable_cdn)
    start = time.monotonic()
    with pytest.raises(TeacherUnavailableError, match="hub.invalid and cdn.invalid"):
        build_teacher("clip-rn50")
    assert time.monotonic() - start < 5.0


def test_hub_probe_sees_a_listening_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HF_HUB_OFFLINE", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(4)
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.getsockname()[1]}")
        assert hub_reachable(timeout_s=2.0)
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
        assert not hub_reachable(timeout_s=2.0)


def test_clip_checkpoint_path_that_does_not_exist(
    offline_clip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(FileNotFoundError, match="VSDMOT_CLIP_CHECKPOINT"):
        build_teacher("clip-rn50", checkpoint=offline_clip / "RN50.pt")
    monkeypatch.setenv("VSDMOT_CLIP_CHECKPOINT", str(offline_clip / "elsewhere.pt"))
    with pytest.raises(FileNotFoundError, match="elsewhere.pt"):
        build_teacher("clip-rn50")


def test_clip_refuses_checkpoints_that_are_not_rn50(offline_clip: Path) -> None:
    not_clip = offline_clip / "linear.pt"
    torch.save(torch.nn.Linear(3, 2).state_dict(), not_clip)
    with pytest.raises(ValueError, match="not a CLIP checkpoint"):
        build_teacher("clip-rn50", checkpoint=not_clip)
    wrong_shapes = offline_clip / "wrong.pt"
    torch.save({"visual.conv1.weight": torch.zeros(1, 1, 1, 1)}, wrong_shapes)
    with pytest.raises(ValueError, match="not a CLIP RN50 checkpoint"):
        build_teacher("clip-rn50", checkpoint=wrong_shapes)


def test_clip_torchscript_must_be_the_pinned_openai_file(
    offline_clip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Tiny(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.visual = torch.nn.Linear(2, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.visual(x)

    archive = offline_clip / "RN50.pt"
    with pytest.warns(Warning):  # torch.jit.script is deprecated, still what OpenAI shipped
        torch.jit.script(Tiny()).save(str(archive))
    with pytest.raises(ValueError, match="not OpenAI's RN50.pt"):
        build_teacher("clip-rn50", checkpoint=archive)
    monkeypatch.setenv("VSDMOT_ALLOW_UNVERIFIED", "1")  # read past the hash: then the shapes fail
    with pytest.raises(ValueError, match="not a CLIP RN50 checkpoint"):
        build_teacher("clip-rn50", checkpoint=archive)


@pytest.mark.slow
def test_clip_loads_a_local_rn50_checkpoint(
    offline_clip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The offline path end to end, with random RN50 weights standing in for OpenAI's file."""
    import open_clip

    torch.manual_seed(0)
    source = open_clip.create_model(CLIP_RN50.arch, pretrained=None).eval()
    path = offline_clip / "rn50_open_clip.pt"
    torch.save({f"visual.{k}": v for k, v in source.visual.state_dict().items()}, path)
    monkeypatch.setenv("VSDMOT_CLIP_CHECKPOINT", str(path))
    teacher = build_teacher("clip-rn50")
    assert (teacher.name, teacher.dim) == ("clip-rn50", 1024)
    assert all(not p.requires_grad for p in teacher.parameters())
    frame = _frame(4, 240, 320)
    clip_eval_transform = open_clip.image_transform(
        224,
        is_train=False,
        mean=open_clip.OPENAI_DATASET_MEAN,
        std=open_clip.OPENAI_DATASET_STD,
        resize_mode="shortest",
        interpolation="bicubic",
    )
    expected_input = clip_eval_transform(Image.fromarray(frame[:, :, ::-1].copy()))  # BGR -> RGB
    with torch.no_grad():
        expected = source.visual(expected_input.unsqueeze(0))
    assert torch.allclose(teacher.embed(frame), expected, atol=1e-4)


# --- the test-only teacher --------------------------------------------------------------------


def test_random_teacher_is_deterministic_and_outside_the_registry() -> None:
    a, b = random_teacher_for_tests(dim=16, seed=3), random_teacher_for_tests(dim=16, seed=3)
    frames = [_frame(5), _frame(6)]
    assert a.name not in TEACHER_NAMES
    assert a.embed(frames).shape == (2, 16)
    assert torch.equal(a.embed(frames), b.embed(frames))
    assert not torch.equal(a.embed(frames), random_teacher_for_tests(dim=16, seed=4).embed(frames))

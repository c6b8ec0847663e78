"""Where the tracker and the detector run: one ``device`` setting, resolved once, reported truthfully.

``auto`` (the default) means CUDA when PyTorch sees a CUDA device, else the CPU; ``cuda`` asks for
it and fails with a clear message where there is none; ``cpu`` forces the CPU. The detector follows
the same choice through onnxruntime's execution providers: the CUDA provider where the installed
onnxruntime has one (the ``onnxruntime-gpu`` package), otherwise the CPU provider -- so a CUDA
machine with the CPU-only onnxruntime still runs the tracker on the GPU and says that the detector
did not. Light on purpose: torch and onnxruntime are imported only when a choice is resolved.
"""

from __future__ import annotations

from dataclasses import dataclass

from model.core.choices import DEVICE_AUTO, DEVICE_CHOICES

CPU_PROVIDER = "CPUExecutionProvider"
CUDA_PROVIDER = "CUDAExecutionProvider"


class DeviceUnavailableError(RuntimeError):
    """The user asked for a device this machine does not have."""


@dataclass(frozen=True)
class DevicePlan:
    """The resolved choice.

    Attributes:
        requested: what the setting said (one of ``DEVICE_CHOICES``).
        tracker: the torch device string the tracker model runs on (``cpu``, ``cuda:0``).
        detector_providers: onnxruntime providers for the detector, preferred first.
    """

    requested: str
    tracker: str
    detector_providers: tuple[str, ...]

    @property
    def detector(self) -> str:
        """The provider the detector runs on first (``CUDAExecutionProvider`` or ``CPUExecutionProvider``)."""
        return self.detector_providers[0]

    @property
    def on_cuda(self) -> bool:
        """Whether the tracker model runs on a CUDA device."""
        return self.tracker.startswith("cuda")


def _cuda_available() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def _cuda_count() -> int:
    import torch

    return int(torch.cuda.device_count())


def _onnx_providers() -> list[str]:
    import onnxruntime as ort

    return list(ort.get_available_providers())


def resolve_device(requested: str = DEVICE_AUTO, index: int = 0) -> DevicePlan:
    """Turn the ``device`` setting into where each part runs; ``cuda`` without CUDA is an error.

    ``index`` picks the CUDA device (a torchrun rank's ``LOCAL_RANK``); it must exist."""
    choice = (requested or DEVICE_AUTO).strip().lower()
    if choice not in DEVICE_CHOICES:
        raise ValueError(f"device must be one of {', '.join(DEVICE_CHOICES)}, got {requested!r}")
    cuda = choice != "cpu" and _cuda_available()
    if choice == "cuda" and not cuda:
        raise DeviceUnavailableError(
            "device 'cuda' was requested but PyTorch sees no CUDA device (a CPU-only torch build, no NVIDIA "
            "driver, or CUDA_VISIBLE_DEVICES empty); use device 'auto' or 'cpu'")
    if not cuda:
        return DevicePlan(choice, "cpu", (CPU_PROVIDER,))
    count = _cuda_count()
    if not 0 <= index < count:
        raise DeviceUnavailableError(f"CUDA device {index} was asked for but PyTorch sees {count} "
                                     "(torchrun --nproc_per_node must not exceed the GPUs of the machine)")
    providers = (CUDA_PROVIDER, CPU_PROVIDER) if CUDA_PROVIDER in _onnx_providers() else (CPU_PROVIDER,)
    return DevicePlan(choice, f"cuda:{index}", providers)


def distributed_backend(plan: DevicePlan) -> str:
    """torch.distributed's backend for a plan: NCCL between GPUs, gloo between CPU processes."""
    return "nccl" if plan.on_cuda else "gloo"

"""The device setting (model.core.device): auto / cpu / cuda resolved for the tracker and the detector,
the CPU fallback, and what the CLI and the server report. CUDA itself cannot run here: the selection
logic is checked with the two questions it asks of the machine answered by the test."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from model.core import device as device_module
from model.core.device import CPU_PROVIDER, CUDA_PROVIDER, DeviceUnavailableError, distributed_backend, resolve_device


def _machine(monkeypatch: pytest.MonkeyPatch, cuda: bool, onnx: list[str], gpus: int = 1) -> None:
    monkeypatch.setattr(device_module, "_cuda_available", lambda: cuda)
    monkeypatch.setattr(device_module, "_cuda_count", lambda: gpus if cuda else 0)
    monkeypatch.setattr(device_module, "_onnx_providers", lambda: onnx)


def test_auto_is_the_cpu_on_a_machine_without_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    _machine(monkeypatch, cuda=False, onnx=[CPU_PROVIDER])
    plan = resolve_device("auto")
    assert (plan.requested, plan.tracker, plan.detector_providers, plan.detector) == (
        "auto", "cpu", (CPU_PROVIDER,), CPU_PROVIDER)


def test_auto_takes_cuda_for_both_where_torch_and_onnxruntime_have_it(monkeypatch: pytest.MonkeyPatch) -> None:
    _machine(monkeypatch, cuda=True, onnx=[CUDA_PROVIDER, CPU_PROVIDER])
    plan = resolve_device("auto")
    assert plan.tracker == "cuda:0" and plan.detector_providers == (CUDA_PROVIDER, CPU_PROVIDER)


def test_cuda_torch_with_the_cpu_onnxruntime_runs_the_detector_on_the_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    _machine(monkeypatch, cuda=True, onnx=[CPU_PROVIDER])
    plan = resolve_device("cuda")
    assert plan.tracker == "cuda:0" and plan.detector == CPU_PROVIDER


def test_cpu_stays_the_cpu_on_a_cuda_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    _machine(monkeypatch, cuda=True, onnx=[CUDA_PROVIDER, CPU_PROVIDER])
    assert resolve_device("cpu").tracker == "cpu" and resolve_device(" CPU ").detector == CPU_PROVIDER


def test_cuda_without_cuda_is_refused_with_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    _machine(monkeypatch, cuda=False, onnx=[CPU_PROVIDER])
    with pytest.raises(DeviceUnavailableError, match="no CUDA device.*use device 'auto' or 'cpu'"):
        resolve_device("cuda")


def test_a_torchrun_rank_gets_its_own_gpu_and_nccl(monkeypatch: pytest.MonkeyPatch) -> None:
    _machine(monkeypatch, cuda=True, onnx=[CPU_PROVIDER], gpus=4)
    plan = resolve_device("auto", index=3)
    assert plan.tracker == "cuda:3" and plan.on_cuda and distributed_backend(plan) == "nccl"
    with pytest.raises(DeviceUnavailableError, match="CUDA device 4 .* sees 4 .*nproc_per_node"):
        resolve_device("cuda", index=4)


def test_cpu_processes_talk_over_gloo_whatever_the_rank(monkeypatch: pytest.MonkeyPatch) -> None:
    _machine(monkeypatch, cuda=False, onnx=[CPU_PROVIDER])
    plan = resolve_device("auto", index=5)  # CPU ranks share the CPU: the index names no device
    assert plan.tracker == "cpu" and not plan.on_cuda and distributed_backend(plan) == "gloo"


def test_an_unknown_device_names_the_choices() -> None:
    with pytest.raises(ValueError, match="auto, cpu, cuda.*'gpu'"):
        resolve_device("gpu")


def test_the_settings_default_is_auto(monkeypatch: pytest.MonkeyPatch) -> None:
    from model.core.settings import device_setting

    monkeypatch.delenv("VSDMOT_DEVICE", raising=False)
    assert device_setting() == "auto"
    monkeypatch.setenv("VSDMOT_DEVICE", "CPU")
    assert device_setting() == "cpu"


def test_the_server_setting_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    from app.config import AppConfig

    monkeypatch.setenv("VSDMOT_DEVICE", "tpu")
    with pytest.raises(ValueError, match="VSDMOT_DEVICE='tpu' must be one of auto, cpu, cuda"):
        AppConfig.from_env()
    monkeypatch.setenv("VSDMOT_DEVICE", "cpu")
    assert AppConfig.from_env().device == "cpu"
    with pytest.raises(ValueError, match="device must be one of"):
        AppConfig(device="gpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_track_on_cuda_without_cuda_is_one_clear_error_line(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "model", "track", str(tmp_path), "--device", "cuda",
                             "--output", str(tmp_path / "out.txt")], capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert "no CUDA device" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.shared
@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_the_detector_says_where_it_runs(weights_dir: Path) -> None:
    from model.tracking.detector import DetectorConfig, YoloxDetector

    assert YoloxDetector().provider == CPU_PROVIDER
    plan = resolve_device("auto")
    assert YoloxDetector(DetectorConfig(providers=plan.detector_providers)).provider == CPU_PROVIDER

"""The lean install: what requirements.txt, the Space's CPU-only version of it, and the runtime import."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCHMARK_ONLY = {"trackers", "trackeval", "matplotlib", "pytest", "playwright", "schemathesis", "hypothesis"}


def _names(text: str) -> list[str]:
    """Distribution names of a requirements file's requirement lines (options and comments skipped)."""
    names = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            names.append(re.split(r"[<>=!~;\[ ]", line, maxsplit=1)[0].lower())
    return names


def _space_module():
    spec = importlib.util.spec_from_file_location("space_requirements", ROOT / "deploy" / "space_requirements.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_runtime_requirements_hold_one_headless_opencv_and_nothing_benchmark_only() -> None:
    names = _names((ROOT / "requirements.txt").read_text())
    assert [n for n in names if n.startswith("opencv")] == ["opencv-python-headless"]
    assert not BENCHMARK_ONLY & set(names)
    assert {"trackers", "trackeval"} <= set(_names((ROOT / "requirements-dev.txt").read_text()))


def test_space_requirements_take_cpu_torch_and_drop_the_editable_install() -> None:
    text = _space_module().space_requirements((ROOT / "requirements.txt").read_text())
    lines = [line.strip() for line in text.splitlines()]
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in lines
    assert "torch==2.14.1+cpu" in lines and "torchvision==0.29.1+cpu" in lines
    assert not any(line.startswith(("-e", "--editable")) for line in lines)
    assert _names(text) == [n for n in _names((ROOT / "requirements.txt").read_text())]  # nothing else lost


def test_cpu_pin_leaves_other_lines_and_explicit_local_versions_alone() -> None:
    pin = _space_module()._cpu_pin
    assert pin("torch==2.14.1") == "torch==2.14.1+cpu"
    assert pin("torch==2.14.1+cu121") == "torch==2.14.1+cu121"
    assert pin("numpy>=1.26,<3") == "numpy>=1.26,<3"
    assert pin("open_clip_torch>=2.24") == "open_clip_torch>=2.24"


def test_the_demo_and_the_cli_import_no_benchmark_only_package() -> None:
    code = (
        "import sys, app.api, app.ui, model.cli, model.evaluation.metrics, model.evaluation.agreement; "
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({sorted(BENCHMARK_ONLY)!r})))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]"

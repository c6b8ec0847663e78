"""Tracker checkpoints: one file holds the weights, the model's shape, its hook and model-card metadata.

Loading rebuilds exactly the model a checkpoint was trained as (config and hook kind included), so a
caller never has to know which variant a file is before opening it. The shipped checkpoints of the
variants live in ``assets/``; :func:`checkpoint_path` says what to do when one is missing.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from model.core.choices import VARIANTS
from model.core.settings import DEFAULT_CHECKPOINTS
from model.tracking.hooks import build_hook
from model.tracking.query_model import QueryTrackerModel, TrackerConfig

__all__ = ["DEFAULT_CHECKPOINTS", "CheckpointMissingError", "checkpoint_path", "load_checkpoint", "save_checkpoint"]


class CheckpointMissingError(FileNotFoundError):
    """The variant's trained weights are not there; the message says what to do."""


def checkpoint_path(variant: str, checkpoint: str | Path | None = None) -> Path:
    """The file to load for ``variant`` (``checkpoint`` overrides the shipped one)."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}: choose one of {', '.join(VARIANTS)}")
    path = Path(checkpoint) if checkpoint else DEFAULT_CHECKPOINTS[variant]
    if not path.is_file():
        raise CheckpointMissingError(
            f"no trained {variant} checkpoint at {path}. Train one with "
            f"`vsdmot train --variant {variant} --output runs/{variant}` and copy "
            f"runs/{variant}/checkpoint.pt to {DEFAULT_CHECKPOINTS[variant]}, or pass --checkpoint."
        )
    return path


def save_checkpoint(path: str | Path, model: QueryTrackerModel, meta: dict[str, Any], half: bool = True) -> str:
    """Write weights (fp16 by default, to keep committed checkpoints small), config and metadata; return sha256."""
    state = {k: (v.half() if half and v.is_floating_point() else v).cpu() for k, v in model.state_dict().items()}
    payload = {"state_dict": state, "config": asdict(model.config), "hook": model.hook.spec(), "meta": meta}
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_bytes(buffer.getvalue())
    return hashlib.sha256(buffer.getvalue()).hexdigest()


def load_checkpoint(path: str | Path, map_location: str = "cpu") -> tuple[QueryTrackerModel, dict[str, Any]]:
    """Rebuild the model a checkpoint was trained as (config and hook included) in fp32, eval mode."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"tracker checkpoint not found: {path}")
    payload = torch.load(path, map_location=map_location, weights_only=False)
    model = QueryTrackerModel(TrackerConfig.from_dict(payload["config"]), hook=build_hook(payload.get("hook", {})))
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in payload["state_dict"].items()})
    model.eval()
    meta = dict(payload.get("meta", {}))
    meta["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    meta["path"] = str(path)
    return model, meta

"""Person re-identification embeddings of box crops (frozen ONNX models from the weights registry).

Used offline, never inside the tracker's forward pass: to merge pseudo-label fragments of one person
(:mod:`model.data.pseudo_labels`). The Intel Open Model Zoo models take a plain resize of the BGR crop
to 256x128 (H x W), NHWC, 0..255, and give a 256-d vector; we L2-normalise it, so the dot product
of two embeddings is their cosine similarity.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

from model.core.weights import resolve_weights

REID_MODELS: tuple[str, ...] = ("person_reid_0287",)  # registry names with the OMZ input convention


@dataclass(frozen=True)
class ReidConfig:
    """Attributes:
        model: registry name (one of REID_MODELS).
        num_threads: onnxruntime intra-op threads.
    """

    model: str = "person_reid_0287"
    num_threads: int = 1


class ReidEmbedder:
    """``embedder(frame_bgr, xyxy) -> (N, D)`` L2-normalised embeddings, one per box."""

    def __init__(self, config: ReidConfig | None = None, weights: str | Path | None = None) -> None:
        self.config = config or ReidConfig()
        if self.config.model not in REID_MODELS:
            raise ValueError(f"unknown re-ID model {self.config.model!r}: use one of {', '.join(REID_MODELS)}")
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.config.num_threads
        path = resolve_weights(self.config.model, weights)
        self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        single = self._session.get_inputs()[0]
        self._input_name = single.name
        _, self.height, self.width, _ = single.shape
        self.dim = int(self._session.get_outputs()[0].shape[-1])

    def __call__(self, frame_bgr: np.ndarray, xyxy: np.ndarray) -> np.ndarray:
        boxes = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
        out = np.zeros((len(boxes), self.dim), dtype=np.float32)
        height, width = frame_bgr.shape[:2]
        for row, (x1, y1, x2, y2) in enumerate(boxes):
            left, top = int(max(0, np.floor(x1))), int(max(0, np.floor(y1)))
            right, bottom = int(min(width, np.ceil(x2))), int(min(height, np.ceil(y2)))
            if right - left < 2 or bottom - top < 2:
                continue  # nothing to look at: the zero vector is similar to nothing
            crop = cv2.resize(frame_bgr[top:bottom, left:right], (self.width, self.height))
            vector = self._session.run(None, {self._input_name: crop[None].astype(np.float32)})[0][0]
            out[row] = vector / max(float(np.linalg.norm(vector)), 1e-12)
        return out

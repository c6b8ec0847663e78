"""Person re-identification embeddings of box crops (frozen ONNX models from the weights registry).

Used offline, never inside the tracker's forward pass: to merge pseudo-label fragments of one person
(:mod:`model.data.pseudo_labels`), and as region teachers for distillation (:mod:`model.vsd.regions`,
ours). Each model has its own input convention (:class:`ReidInput`): the Intel Open Model Zoo models
take a plain resize of the BGR crop to 256x128 (H x W), NHWC, 0..255; OSNet takes RGB in NCHW with
ImageNet mean/std. Outputs are L2-normalised, so the dot product of two embeddings is their cosine.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

from model.core.weights import resolve_weights

_IMAGENET_MEAN = np.asarray((0.485, 0.456, 0.406), np.float32)
_IMAGENET_STD = np.asarray((0.229, 0.224, 0.225), np.float32)


@dataclass(frozen=True)
class ReidInput:
    """How one re-ID network wants its crop.

    Attributes:
        layout: "nhwc" or "nchw".
        rgb: convert BGR -> RGB first.
        imagenet: scale to 0..1 and normalise with ImageNet mean/std (else raw 0..255 floats).
    """

    layout: str
    rgb: bool
    imagenet: bool


OMZ_INPUT = ReidInput(layout="nhwc", rgb=False, imagenet=False)  # Intel Open Model Zoo retail models
# torchreid's export convention; checked on TUD-Stadtmitte's labelled crops: same-minus-different identity
# cosine 0.215 with RGB + ImageNet, 0.204 with BGR + ImageNet, 0.009 with raw 0..255.
OSNET_INPUT = ReidInput(layout="nchw", rgb=True, imagenet=True)
# Registry names of the re-ID weights (model.core.weights) and their input conventions.
REID_INPUTS: dict[str, ReidInput] = {
    "person_reid_0287": OMZ_INPUT,
    "person_reid_0288": OMZ_INPUT,
    "person_reid_0248": OMZ_INPUT,
    "osnet_x0_25_msmt17": OSNET_INPUT,
}
REID_MODELS: tuple[str, ...] = tuple(REID_INPUTS)


@dataclass(frozen=True)
class ReidConfig:
    """Attributes:
        model: registry name (one of REID_MODELS).
        num_threads: onnxruntime intra-op threads.
    """

    model: str = "person_reid_0287"
    num_threads: int = 1


def reid_input_tensor(crop_bgr: np.ndarray, height: int, width: int, convention: ReidInput) -> np.ndarray:
    """(1, ...) float32 network input for one BGR uint8 crop under ``convention``."""
    image = cv2.resize(crop_bgr, (width, height)).astype(np.float32)
    if convention.rgb:
        image = image[:, :, ::-1]
    if convention.imagenet:
        image = (image / 255.0 - _IMAGENET_MEAN) / _IMAGENET_STD
    if convention.layout == "nchw":
        image = image.transpose(2, 0, 1)
    return np.ascontiguousarray(image[None], dtype=np.float32)


class ReidEmbedder:
    """``embedder(frame_bgr, xyxy) -> (N, D)`` L2-normalised embeddings, one per box (zero for a box
    under 2 px: nothing to look at, similar to nothing)."""

    def __init__(self, config: ReidConfig | None = None, weights: str | Path | None = None) -> None:
        self.config = config or ReidConfig()
        if self.config.model not in REID_INPUTS:
            raise ValueError(f"unknown re-ID model {self.config.model!r}: use one of {', '.join(REID_MODELS)}")
        self.convention = REID_INPUTS[self.config.model]
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.config.num_threads
        path = resolve_weights(self.config.model, weights)
        self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        single = self._session.get_inputs()[0]
        self._input_name = single.name
        if self.convention.layout == "nhwc":
            _, self.height, self.width, _ = single.shape
        else:
            _, _, self.height, self.width = single.shape
        self.dim = int(self._session.get_outputs()[0].shape[-1])

    def __call__(self, frame_bgr: np.ndarray, xyxy: np.ndarray) -> np.ndarray:
        boxes = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
        out = np.zeros((len(boxes), self.dim), dtype=np.float32)
        height, width = frame_bgr.shape[:2]
        for row, (x1, y1, x2, y2) in enumerate(boxes):
            left, top = int(max(0, np.floor(x1))), int(max(0, np.floor(y1)))
            right, bottom = int(min(width, np.ceil(x2))), int(min(height, np.ceil(y2)))
            if right - left < 2 or bottom - top < 2:
                continue
            tensor = reid_input_tensor(frame_bgr[top:bottom, left:right], self.height, self.width, self.convention)
            vector = self._session.run(None, {self._input_name: tensor})[0][0]
            out[row] = vector / max(float(np.linalg.norm(vector)), 1e-12)
        return out

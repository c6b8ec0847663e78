"""YOLOX person proposals and multi-scale PAFPN features from one onnxruntime pass.

VSD-MOT (Sec. IV-A) feeds every YOLOX box scoring over 0.05 to the tracker as a proposal, and
the tracker also needs image features. Running a second backbone for the features would double
the cost, so we expose the PAFPN maps that feed YOLOX's head as extra graph outputs: the same
forward pass then returns both. The maps are found from the graph structure (the input of the
head's shared stem conv at each level), so any YOLOX-format ONNX export works, not one file.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import onnx
import onnxruntime as ort

from model.core.box_ops import box_iou_numpy
from model.core.device import CPU_PROVIDER
from model.core.types import Detections, DetectorOutput
from model.core.weights import resolve_weights

PERSON_CLASS = 0  # COCO class 0; also the only class of the person-only detectors
PAD_VALUE = 114  # YOLOX's letterbox grey


@dataclass
class DetectorConfig:
    """How proposals are produced.

    Attributes:
        model: registry name in :mod:`model.core.weights` (``yolox_nano``, ``light_person_detector_192``...).
        score_threshold: keep boxes with obj * cls_person above this (the paper keeps all over 0.05).
        nms_iou: IoU above which the lower-scoring box of a pair is suppressed.
        num_threads: onnxruntime intra-op threads. 2 by default: with ``spin_wait`` off they cost the
            tracker's thread nothing while idle, and the pipelined loop ran fastest with 2
            (``benchmarks/speed.py``, BENCHMARKS.md "Speed").
        spin_wait: let onnxruntime's idle intra-op threads busy-wait for work (its default). Off here:
            spinning threads take the core the tracker (and the frame reader) need -- measured with
            spinning, 2 threads were slower end to end than 1; without it, faster.
        input_size: square network input side; None reads it from the model.
        providers: onnxruntime execution providers, preferred first (``model.core.device.resolve_device``
            picks them from the ``device`` setting); the CPU by default.
    """

    model: str = "yolox_nano"
    score_threshold: float = 0.05
    nms_iou: float = 0.7
    num_threads: int = 2
    spin_wait: bool = False
    input_size: int | None = None
    providers: tuple[str, ...] = (CPU_PROVIDER,)


def letterbox(frame_bgr: np.ndarray, input_size: int) -> tuple[np.ndarray, float]:
    """Resize keeping aspect ratio into the top-left of a 114-grey square, as YOLOX was trained.

    Returns the (1, 3, S, S) float32 BGR 0..255 network input and the ratio S / max side.
    """
    height, width = frame_bgr.shape[:2]
    ratio = min(input_size / height, input_size / width)
    new_w, new_h = int(width * ratio), int(height * ratio)
    resized = cv2.resize(frame_bgr, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    canvas = np.full((input_size, input_size, 3), PAD_VALUE, dtype=np.float32)
    canvas[:new_h, :new_w] = resized
    return np.ascontiguousarray(canvas.transpose(2, 0, 1)[None]), ratio


@functools.lru_cache(maxsize=8)
def _cell_grid(input_size: int, strides: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Every cell's corner (x, y) in stride units and its stride, in YOLOX's row order (built once per size)."""
    grids, cell_strides = [], []
    for stride in strides:
        side = input_size // stride
        xs, ys = np.meshgrid(np.arange(side), np.arange(side))
        grids.append(np.stack((xs, ys), axis=-1).reshape(-1, 2))
        cell_strides.append(np.full((side * side, 1), stride))
    grid, stride_col = np.concatenate(grids).astype(np.float32), np.concatenate(cell_strides).astype(np.float32)
    grid.flags.writeable = stride_col.flags.writeable = False  # shared between calls
    return grid, stride_col


def decode_yolox(raw: np.ndarray, input_size: int, strides: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Turn YOLOX's raw (A, 5 + K) rows into boxes and per-class scores in network-input pixels.

    Rows are the grid cells of each stride in order, row-major; per row ``cx, cy`` are offsets
    from the cell corner and ``w, h`` log-sizes, both in stride units; columns 4 and 5.. are the
    already-sigmoided objectness and class probabilities.

    Returns:
        xyxy: (A, 4) float32 corners in input pixels.
        scores: (A, K) float32 obj * cls.
    """
    raw = np.asarray(raw, dtype=np.float32).reshape(-1, raw.shape[-1])
    grid, stride_col = _cell_grid(int(input_size), tuple(int(s) for s in strides))
    if len(grid) != len(raw):
        raise ValueError(
            f"the model outputs {len(raw)} rows but strides {tuple(strides)} at input {input_size} give "
            f"{len(grid)}; set DetectorConfig.input_size to the size the model was exported at"
        )
    centre = (raw[:, :2] + grid) * stride_col
    size = np.exp(raw[:, 2:4]) * stride_col
    xyxy = np.concatenate((centre - size / 2, centre + size / 2), axis=1)
    scores = raw[:, 4:5] * raw[:, 5:]
    return xyxy, scores


def non_max_suppression(
    xyxy: np.ndarray, scores: np.ndarray, iou_threshold: float, class_ids: np.ndarray | None = None
) -> np.ndarray:
    """Greedy NMS; boxes of different ``class_ids`` never suppress each other.

    Returns indices of the kept boxes, highest score first. A pair is suppressed when its IoU
    is strictly greater than ``iou_threshold``.
    """
    xyxy = np.asarray(xyxy, dtype=np.float32).reshape(-1, 4)
    scores = np.asarray(scores, dtype=np.float32).reshape(-1)
    classes = np.zeros(len(xyxy), dtype=np.int64) if class_ids is None else np.asarray(class_ids).reshape(-1)
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while len(order):
        best, rest = order[0], order[1:]
        keep.append(int(best))
        overlap = box_iou_numpy(xyxy[best], xyxy[rest])[0]
        order = rest[(overlap <= iou_threshold) | (classes[rest] != classes[best])]
    return np.asarray(keep, dtype=np.int64)


def find_head_inputs(graph: onnx.GraphProto) -> list[str]:
    """Names of the tensors entering YOLOX's head stem at each level, in output-row order.

    At each level the head's reg and cls branches both start from one stem conv; walking up from
    the level's reg and cls predictions, their first shared tensor is that stem's output, and the
    stem conv's input is the PAFPN map we want.
    """
    producers = {name: node for node in graph.node for name in node.output}
    initialisers = {init.name for init in graph.initializer}

    def walk_up(tensor: str) -> list[str]:
        chain = [tensor]
        while tensor in producers:
            inputs = [name for name in producers[tensor].input if name in producers]
            if not inputs:
                break
            tensor = inputs[0]
            chain.append(tensor)
        return chain

    def first_node_up(tensor: str, op_type: str) -> onnx.NodeProto:
        node = producers[tensor]
        while node.op_type != op_type:
            node = producers[next(name for name in node.input if name not in initialisers)]
        return node

    try:
        merge = first_node_up(graph.output[0].name, "Concat")  # Transpose <- Concat(levels)
        names = []
        for level in merge.input:
            predictions = first_node_up(level, "Concat")  # Reshape <- Concat(reg, obj, cls)
            reg_chain = walk_up(predictions.input[0])
            cls_ancestors = set(walk_up(predictions.input[-1]))
            stem_output = next(t for t in reg_chain if t in cls_ancestors)
            names.append(first_node_up(stem_output, "Conv").input[0])
    except (KeyError, StopIteration, IndexError) as exc:
        raise ValueError(
            "this ONNX graph does not have YOLOX's head layout (levels concatenated from reg/obj/cls "
            "predictions that share a stem conv); use a YOLOX export from model.core.weights"
        ) from exc
    return names


def with_extra_outputs(model: onnx.ModelProto, names: Sequence[str]) -> onnx.ModelProto:
    """A copy of ``model`` that also returns the tensors ``names`` (shapes left to the runtime)."""
    extended = onnx.ModelProto()
    extended.CopyFrom(model)
    existing = {output.name for output in extended.graph.output}
    for name in names:
        if name not in existing:
            extended.graph.output.append(onnx.helper.make_empty_tensor_value_info(name))
    return extended


@functools.lru_cache(maxsize=8)
def _load_session(path: str, num_threads: int, spin_wait: bool,
                  providers: tuple[str, ...]) -> tuple[ort.InferenceSession, tuple[str, ...]]:
    """One modified in-memory model per weights file, shared by every detector instance."""
    model = onnx.load(path)
    feature_names = find_head_inputs(model.graph)
    options = ort.SessionOptions()
    options.intra_op_num_threads = num_threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin_wait else "0")
    extended = with_extra_outputs(model, feature_names).SerializeToString()
    session = ort.InferenceSession(extended, options, providers=list(providers))
    return session, tuple(feature_names)


class YoloxDetector:
    """Person proposals plus PAFPN features for a BGR frame: ``detector(frame) -> DetectorOutput``."""

    def __init__(self, config: DetectorConfig | None = None, weights: str | Path | None = None) -> None:
        self.config = config or DetectorConfig()
        self.name = self.config.model  # the weights' registry name; caches are keyed by it
        if self.config.num_threads < 1:
            raise ValueError(f"num_threads must be at least 1, got {self.config.num_threads}")
        path = resolve_weights(self.config.model, weights)
        self._session, self._feature_names = _load_session(str(path.resolve()), self.config.num_threads,
                                                           self.config.spin_wait, tuple(self.config.providers))
        # What onnxruntime really runs on (it falls back to the CPU when a provider cannot start).
        self.provider: str = self._session.get_providers()[0]
        self._input_name = self._session.get_inputs()[0].name
        self.input_size = self._read_input_size()
        probe = self._session.run(self._feature_names, {self._input_name: self._blank_input()})
        self.feature_channels: tuple[int, ...] = tuple(int(f.shape[1]) for f in probe)
        self.strides: tuple[int, ...] = tuple(self.input_size // int(f.shape[2]) for f in probe)

    def _read_input_size(self) -> int:
        height, width = self._session.get_inputs()[0].shape[2:4]
        if isinstance(height, int) and isinstance(width, int):
            if height != width:
                raise ValueError(
                    f"{self.config.model} expects a {width}x{height} input; only square inputs are supported"
                )
            if self.config.input_size not in (None, height):
                raise ValueError(
                    f"{self.config.model} was exported for {height}x{height} input, "
                    f"not {self.config.input_size}; leave DetectorConfig.input_size as None"
                )
            return height
        if self.config.input_size is None:
            raise ValueError(f"{self.config.model} has a dynamic input size: set DetectorConfig.input_size")
        return int(self.config.input_size)

    def _blank_input(self) -> np.ndarray:
        return np.full((1, 3, self.input_size, self.input_size), PAD_VALUE, dtype=np.float32)

    def __call__(self, frame_bgr: np.ndarray) -> DetectorOutput:
        frame = _check_frame(frame_bgr)
        height, width = frame.shape[:2]
        blob, scale = letterbox(frame, self.input_size)
        raw, *features = self._session.run(None, {self._input_name: blob})[: 1 + len(self._feature_names)]
        xyxy, class_scores = decode_yolox(raw[0], self.input_size, self.strides)
        scores = class_scores[:, PERSON_CLASS]
        above = scores > self.config.score_threshold
        xyxy, scores = xyxy[above] / scale, scores[above]
        xyxy[:, 0::2] = xyxy[:, 0::2].clip(0, width)
        xyxy[:, 1::2] = xyxy[:, 1::2].clip(0, height)
        visible = (xyxy[:, 2] > xyxy[:, 0]) & (xyxy[:, 3] > xyxy[:, 1])  # boxes lying wholly in the padding
        xyxy, scores = xyxy[visible], scores[visible]
        keep = non_max_suppression(xyxy, scores, self.config.nms_iou)
        return DetectorOutput(
            detections=Detections(xyxy[keep], scores[keep]),
            features=[np.ascontiguousarray(f[0], dtype=np.float32) for f in features],
            strides=self.strides,
            scale=float(scale),
            image_size=(height, width),
            input_size=self.input_size,
        )


def _check_frame(frame: object) -> np.ndarray:
    if not isinstance(frame, np.ndarray) or frame.ndim != 3 or frame.shape[2] != 3 or 0 in frame.shape:
        shape = getattr(frame, "shape", None)
        raise ValueError(
            f"expected a BGR image as a (height, width, 3) numpy array, got {type(frame).__name__}"
            + (f" of shape {shape}" if shape is not None else "")
            + "; read frames with model.data.video.open_frames or cv2.imread"
        )
    if frame.dtype != np.uint8 and not np.issubdtype(frame.dtype, np.floating):
        raise ValueError(f"expected uint8 (or float 0..255) pixels, got {frame.dtype}")
    return frame

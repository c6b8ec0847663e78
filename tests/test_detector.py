"""YOLOX proposals + PAFPN features: the maths by hand, then the real model on real PETS09 frames."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from model.core import weights
from model.core.box_ops import box_iou_numpy
from model.tracking.detector import (
    DetectorConfig,
    YoloxDetector,
    decode_yolox,
    find_head_inputs,
    letterbox,
    non_max_suppression,
    with_extra_outputs,
)
from model.core.weights import WeightsUnavailableError

# --- letterbox -----------------------------------------------------------------------------------


def test_letterbox_pets_frame_ratio_and_padding() -> None:
    frame = np.full((576, 768, 3), 50, dtype=np.uint8)
    blob, ratio = letterbox(frame, 416)
    assert blob.shape == (1, 3, 416, 416) and blob.dtype == np.float32
    assert ratio == pytest.approx(416 / 768)  # 0.5417: 768 -> 416 wide, 576 -> 312 high
    assert np.all(blob[0, :, :312, :] == 50)
    assert np.all(blob[0, :, 312:, :] == 114)  # 104 rows of padding at the bottom


def test_letterbox_tall_frame_pads_on_the_right_and_keeps_bgr_order() -> None:
    frame = np.empty((832, 416, 3), dtype=np.uint8)
    frame[:] = (10, 20, 30)  # B, G, R
    blob, ratio = letterbox(frame, 416)
    assert ratio == 0.5  # 832 -> 416 high, 416 -> 208 wide
    assert [blob[0, c, 0, 0] for c in range(3)] == [10, 20, 30]  # not normalised, not swapped to RGB
    assert np.all(blob[0, :, :, 208:] == 114)
    assert np.all(blob[0, :, :, :208] == blob[0, :, :1, :1])


# --- decoding ------------------------------------------------------------------------------------


def test_decode_one_anchor_at_a_known_cell() -> None:
    raw = np.zeros((52 * 52 + 26 * 26 + 13 * 13, 85), dtype=np.float32)  # 3549 rows, nano at 416
    row = 52 * 52 + 2 * 26 + 3  # stride-16 level, cell x=3, y=2 -> row 2759
    raw[row, :6] = (0.5, 0.25, math.log(2), math.log(4), 0.8, 0.5)
    xyxy, scores = decode_yolox(raw, 416, (8, 16, 32))
    # centre ((0.5 + 3) * 16, (0.25 + 2) * 16) = (56, 36); size (2 * 16, 4 * 16) = (32, 64)
    np.testing.assert_allclose(xyxy[row], (40, 4, 72, 68), atol=1e-4)
    assert scores.shape == (3549, 80)
    assert scores[row, 0] == pytest.approx(0.4)  # obj 0.8 * person 0.5
    assert np.count_nonzero(scores) == 1
    # an all-zero row at stride 8, cell (0, 0): centre (0, 0), size exp(0) * 8 = 8
    np.testing.assert_allclose(xyxy[0], (-4, -4, 4, 4))


def test_decode_rejects_a_row_count_from_another_input_size() -> None:
    with pytest.raises(ValueError, match="3549 rows but strides .* at input 640 give 8400"):
        decode_yolox(np.zeros((3549, 85), np.float32), 640, (8, 16, 32))


# --- NMS -----------------------------------------------------------------------------------------

A = (0, 0, 10, 10)
B = (1, 0, 11, 10)  # IoU with A = 90 / 110 = 0.818
C = (20, 20, 30, 30)  # no overlap
HALF = (0, 0, 10, 5)  # IoU with A = 50 / 100 = 0.5


def test_nms_suppresses_the_weaker_overlapping_box() -> None:
    keep = non_max_suppression(np.array([B, A, C]), np.array([0.8, 0.9, 0.7]), 0.7)
    assert keep.tolist() == [1, 2]  # A (best) then C; B overlaps A by 0.818 > 0.7


def test_nms_keeps_boxes_below_the_threshold_and_at_it() -> None:
    assert non_max_suppression(np.array([A, B, C]), np.array([0.9, 0.8, 0.7]), 0.85).tolist() == [0, 1, 2]
    assert non_max_suppression(np.array([A, HALF]), np.array([0.9, 0.8]), 0.5).tolist() == [0, 1]
    assert non_max_suppression(np.array([A, HALF]), np.array([0.9, 0.8]), 0.49).tolist() == [0]


def test_nms_is_class_wise() -> None:
    keep = non_max_suppression(np.array([A, B]), np.array([0.9, 0.8]), 0.7, class_ids=np.array([0, 1]))
    assert keep.tolist() == [0, 1]


def test_nms_of_nothing_is_nothing() -> None:
    assert non_max_suppression(np.zeros((0, 4)), np.zeros(0), 0.7).tolist() == []


# --- finding the PAFPN maps in a graph -----------------------------------------------------------


def _toy_yolox_graph() -> onnx.GraphProto:
    """Two levels of a YOLOX head (stem -> cls / reg+obj branches) on two given feature maps."""
    nodes, inits = [], []

    def conv(name: str, src: str, out_ch: int, in_ch: int) -> str:
        values = [0.1] * out_ch * in_ch
        weight = helper.make_tensor(f"{name}.w", TensorProto.FLOAT, [out_ch, in_ch, 1, 1], values)
        inits.append(weight)
        nodes.append(helper.make_node("Conv", [src, f"{name}.w"], [name]))
        return name

    def silu(src: str) -> str:
        nodes.append(helper.make_node("Sigmoid", [src], [f"{src}.sig"]))
        nodes.append(helper.make_node("Mul", [src, f"{src}.sig"], [f"{src}.act"]))
        return f"{src}.act"

    levels = []
    for k, (feature, ch) in enumerate((("p3", 4), ("p4", 8))):
        pre = silu(conv(f"pre{k}", feature, ch, ch))  # the map itself also comes out of a conv
        stem = silu(conv(f"stem{k}", pre, 2, ch))
        cls = conv(f"cls{k}", silu(conv(f"clsconv{k}", stem, 2, 2)), 1, 2)
        reg_feat = silu(conv(f"regconv{k}", stem, 2, 2))
        reg, obj = conv(f"reg{k}", reg_feat, 4, 2), conv(f"obj{k}", reg_feat, 1, 2)
        nodes.append(helper.make_node("Sigmoid", [obj], [f"{obj}.p"]))
        nodes.append(helper.make_node("Sigmoid", [cls], [f"{cls}.p"]))
        nodes.append(helper.make_node("Concat", [reg, f"{obj}.p", f"{cls}.p"], [f"level{k}"], axis=1))
        inits.append(helper.make_tensor(f"shape{k}", TensorProto.INT64, [3], [1, 6, -1]))
        nodes.append(helper.make_node("Reshape", [f"level{k}", f"shape{k}"], [f"flat{k}"]))
        levels.append(f"flat{k}")
    nodes.append(helper.make_node("Concat", levels, ["merged"], axis=2))
    nodes.append(helper.make_node("Transpose", ["merged"], ["output"], perm=[0, 2, 1]))
    inputs = [
        helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, ch, side, side])
        for name, ch, side in (("p3", 4, 4), ("p4", 8, 2))
    ]
    output = helper.make_tensor_value_info("output", TensorProto.FLOAT, None)
    return helper.make_graph(nodes, "toy_yolox", inputs, [output], inits)


def test_find_head_inputs_on_a_hand_built_head() -> None:
    assert find_head_inputs(_toy_yolox_graph()) == ["pre0.act", "pre1.act"]


def test_extra_outputs_run_and_leave_the_original_alone() -> None:
    model = helper.make_model(_toy_yolox_graph(), opset_imports=[helper.make_opsetid("", 11)], ir_version=6)
    extended = with_extra_outputs(model, ["pre0.act", "pre1.act"])
    assert [o.name for o in model.graph.output] == ["output"]
    session = ort.InferenceSession(extended.SerializeToString(), providers=["CPUExecutionProvider"])
    p3, p4 = np.ones((1, 4, 4, 4), np.float32), np.ones((1, 8, 2, 2), np.float32)
    raw, feat3, feat4 = session.run(None, {"p3": p3, "p4": p4})
    assert raw.shape == (1, 4 * 4 + 2 * 2, 6)
    assert feat3.shape == (1, 4, 4, 4) and feat4.shape == (1, 8, 2, 2)
    # pre conv of all-ones input with 0.1 weights over 4 channels = 0.4, then SiLU
    np.testing.assert_allclose(feat3, 0.4 / (1 + math.exp(-0.4)), rtol=1e-5)


def test_a_graph_without_a_yolox_head_is_rejected() -> None:
    node = helper.make_node("Relu", ["x"], ["y"])
    graph = helper.make_graph(
        [node], "not_yolox", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    with pytest.raises(ValueError, match="does not have YOLOX's head layout"):
        find_head_inputs(graph)


# --- the real model ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def nano(weights_dir: Path) -> YoloxDetector:
    return YoloxDetector(DetectorConfig(), weights=weights_dir / "yolox_nano.onnx")


def test_nano_features_are_the_documented_pafpn_tensors(nano: YoloxDetector, weights_dir: Path) -> None:
    assert find_head_inputs(onnx.load(weights_dir / "yolox_nano.onnx").graph) == ["956", "990", "1024"]
    assert nano.input_size == 416
    assert nano.feature_channels == (64, 128, 256)
    assert nano.strides == (8, 16, 32)


def _gt_boxes(pets_dir: Path, frame_number: int) -> np.ndarray:
    gt = np.loadtxt(pets_dir / "gt" / "gt.txt", delimiter=",")
    rows = gt[gt[:, 0] == frame_number]
    boxes = rows[:, 2:6].copy()
    boxes[:, 2:] += boxes[:, :2]
    return boxes


def test_nano_finds_the_people_in_real_pets_frames(
    nano: YoloxDetector, real_frames: list[np.ndarray], pets_dir: Path
) -> None:
    """Measured: recall 1.0 at IoU 0.5 on all five frames (3-7 people each), 4-9 boxes over 0.3."""
    images = sorted((pets_dir / "img1").glob("*.jpg"))
    numbers = [int(images[i].stem) for i in (0, 150, 300, 450, 600)]  # the frames real_frames reads
    for number, frame in zip(numbers, real_frames):
        out = nano(frame)
        gt = _gt_boxes(pets_dir, number)
        confident = out.detections[out.detections.scores > 0.3]
        assert len(gt) >= 3 and len(confident) > 0
        recall = float((box_iou_numpy(gt, confident.xyxy).max(axis=1) >= 0.5).mean())
        assert recall >= 0.6, f"frame {number}: recall {recall:.2f}"


def test_nano_output_is_consistent(nano: YoloxDetector, real_frames: list[np.ndarray]) -> None:
    out = nano(real_frames[1])
    boxes, scores = out.detections.xyxy, out.detections.scores
    assert out.image_size == (576, 768) and out.scale == pytest.approx(416 / 768)
    assert [f.shape for f in out.features] == [(64, 52, 52), (128, 26, 26), (256, 13, 13)]
    assert all(f.dtype == np.float32 for f in out.features)
    assert np.all(scores > 0.05) and np.all(np.diff(scores) <= 0)
    assert np.all(boxes[:, :2] >= 0) and np.all(boxes[:, 2] <= 768) and np.all(boxes[:, 3] <= 576)
    assert np.all(boxes[:, 2:] > boxes[:, :2])
    iou = box_iou_numpy(boxes, boxes)
    assert np.all(iou[np.triu_indices(len(boxes), 1)] <= 0.7)  # NMS at the default 0.7


def test_extra_outputs_do_not_change_the_detections(
    nano: YoloxDetector, real_frames: list[np.ndarray], weights_dir: Path
) -> None:
    """The best box must be exactly what the untouched graph gives for the same letterboxed frame."""
    blob, scale = letterbox(real_frames[2], 416)
    plain = ort.InferenceSession(str(weights_dir / "yolox_nano.onnx"), providers=["CPUExecutionProvider"])
    xyxy, scores = decode_yolox(plain.run(None, {"images": blob})[0][0], 416, (8, 16, 32))
    best = int(np.argmax(scores[:, 0]))
    top = nano(real_frames[2]).detections[[0]]
    assert top.scores[0] == pytest.approx(scores[best, 0], abs=1e-5)
    np.testing.assert_allclose(top.xyxy[0], np.clip(xyxy[best] / scale, 0, [768, 576, 768, 576]), atol=1e-3)


def test_thresholds_are_honoured(weights_dir: Path, real_frames: list[np.ndarray]) -> None:
    config = DetectorConfig(score_threshold=0.5, nms_iou=0.3)
    strict = YoloxDetector(config, weights=weights_dir / "yolox_nano.onnx")
    out = strict(real_frames[1])
    assert len(out.detections) > 0 and np.all(out.detections.scores > 0.5)
    iou = box_iou_numpy(out.detections.xyxy, out.detections.xyxy)
    assert np.all(iou[np.triu_indices(len(out.detections), 1)] <= 0.3)


def test_the_light_person_detector_gets_features_too(
    weights_dir: Path, real_frames: list[np.ndarray]
) -> None:
    light = YoloxDetector(DetectorConfig(model="light_person_detector_192"))
    assert light.input_size == 192 and light.feature_channels == (64, 128, 256)
    out = light(real_frames[0])
    assert [f.shape for f in out.features] == [(64, 24, 24), (128, 12, 12), (256, 6, 6)]
    assert out.scale == pytest.approx(192 / 768)
    assert len(out.detections[out.detections.scores > 0.3]) > 0


@pytest.mark.parametrize(
    "bad",
    [
        None,
        [[0, 0, 0]],
        np.zeros((576, 768), np.uint8),
        np.zeros((4, 4, 4), np.uint8),
        np.zeros((0, 5, 3), np.uint8),
        np.zeros((8, 8, 3), np.int32),
    ],
    ids=["none", "list", "grey", "four-channel", "empty", "int32"],
)
def test_a_non_image_is_a_value_error(nano: YoloxDetector, bad: object) -> None:
    with pytest.raises(ValueError, match="expected"):
        nano(bad)  # type: ignore[arg-type]


def test_a_wrong_input_size_is_a_value_error(weights_dir: Path) -> None:
    with pytest.raises(ValueError, match="exported for 416x416 input, not 640"):
        YoloxDetector(DetectorConfig(input_size=640), weights=weights_dir / "yolox_nano.onnx")


@pytest.mark.timeout(10)
def test_missing_weights_raise_the_registry_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = weights.REGISTRY["yolox_nano"]
    offline = dataclasses.replace(spec, urls=("http://127.0.0.1:9/yolox_nano.onnx",))
    monkeypatch.setitem(weights.REGISTRY, "yolox_nano", offline)
    monkeypatch.setenv("VSDMOT_WEIGHTS_DIR", str(tmp_path))
    monkeypatch.setenv("VSDMOT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv(spec.env_var, raising=False)
    with pytest.raises(WeightsUnavailableError, match="VSDMOT_YOLOX_NANO_PATH"):
        YoloxDetector()

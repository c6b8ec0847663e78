import numpy as np
import torch

from model.core.box_ops import box_iou_numpy, cxcywh_to_xyxy, inverse_sigmoid, pairwise_generalized_iou, xyxy_to_cxcywh


def test_conversions_roundtrip_by_hand() -> None:
    xyxy = torch.tensor([[10.0, 20.0, 30.0, 60.0]])
    assert torch.allclose(xyxy_to_cxcywh(xyxy), torch.tensor([[20.0, 40.0, 20.0, 40.0]]))
    assert torch.allclose(cxcywh_to_xyxy(xyxy_to_cxcywh(xyxy)), xyxy)


def test_generalized_iou_by_hand() -> None:
    a = torch.tensor([[0.0, 0.0, 2.0, 2.0]])
    b = torch.tensor([[1.0, 1.0, 3.0, 3.0], [4.0, 0.0, 6.0, 2.0]])
    g = pairwise_generalized_iou(a, b)
    # overlap: inter 1, union 7, hull 9 -> 1/7 - 2/9
    assert abs(float(g[0, 0]) - (1 / 7 - 2 / 9)) < 1e-6
    # disjoint: inter 0, union 8, hull 12 -> 0 - 4/12
    assert abs(float(g[0, 1]) - (-4 / 12)) < 1e-6


def test_numpy_iou_and_inverse_sigmoid() -> None:
    iou = box_iou_numpy(np.array([[0, 0, 2, 2]]), np.array([[1, 1, 3, 3], [0, 0, 2, 2]]))
    assert np.allclose(iou, [[1 / 7, 1.0]])
    x = torch.tensor([0.25, 0.5, 0.9])
    assert torch.allclose(inverse_sigmoid(x).sigmoid(), x, atol=1e-6)

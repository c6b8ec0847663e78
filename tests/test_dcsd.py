"""DCSD (Sec. III-B, eqs. 4-12) against numbers worked out by hand, plus masking and gradients."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from model.vsd.dcsd import DCSDConfig, DCSDLoss, PlainDistillLoss, interpolate_sequence


def _identity_projection(module: torch.nn.Module) -> torch.nn.Module:
    """Linear_teacher = I, bias 0, so T_proj = T and every number below can be done by hand."""
    with torch.no_grad():
        projection = module.teacher_proj
        projection.weight.copy_(torch.eye(projection.out_features, projection.in_features))
        projection.bias.zero_()
    return module


def _assert_values(actual: torch.Tensor, expected: list, atol: float = 1e-6) -> None:
    torch.testing.assert_close(actual, torch.tensor(expected), atol=atol, rtol=0)


def _tiny(tau: float = 2.0) -> DCSDLoss:
    return _identity_projection(DCSDLoss(DCSDConfig(teacher_dim=2, d_model=2, tau=tau)))


# S = [[3, 4], [0, -1]]; T = two tokens [[1, 0], [0, 2]] so T_align = T (2 -> 2 is the identity).
# S_norm = [[0.6, 0.8], [0, -1]]; T_norm = [[1, 0], [0, 1]].
# (8)  logits / 2 = [[0.3, 0.4], [0, -0.5]]
#      A row 0 = [1, e^0.1] / (1 + e^0.1)   = [0.4750208, 0.5249792]
#      A row 1 = [1, e^-0.5] / (1 + e^-0.5) = [0.6224593, 0.3775407]
# (9)  T_weighted = A T_align = [[0.4750208, 1.0499584], [0.6224593, 0.7550813]]
# (10) L_local = ((3-0.4750208)^2 + (4-1.0499584)^2 + 0.6224593^2 + (1+0.7550813)^2) / 4 = 4.6365079
# (11) Mean(S) = [1.5, 1.5], Mean(T_align) = [0.5, 1]; L_global = (1 + 0.5) / 2 = 0.75
# (12) L = 0.5 * 4.6365079 + 0.5 * 0.75 = 2.6932540
S_HAND = [[3.0, 4.0], [0.0, -1.0]]
T_HAND = [[1.0, 0.0], [0.0, 2.0]]


def test_eqs_8_to_12_by_hand_with_two_teacher_tokens() -> None:
    out = _tiny()(torch.tensor(S_HAND), torch.tensor(T_HAND))
    assert out.t_align[0].tolist() == T_HAND
    _assert_values(out.attention[0], [[0.4750208, 0.5249792], [0.6224593, 0.3775407]])
    _assert_values(out.t_weighted[0], [[0.4750208, 1.0499584], [0.6224593, 0.7550813]])
    assert out.local.item() == pytest.approx(4.6365079, abs=1e-5)
    assert out.global_.item() == pytest.approx(0.75, abs=1e-6)
    assert out.loss.item() == pytest.approx(2.6932540, abs=1e-5)


def test_temperature_enters_eq_8() -> None:
    # tau = 1: row 0 logits [0.6, 0.8] -> A = [1, e^0.2] / (1 + e^0.2) = [0.4501660, 0.5498340]
    out = _tiny(tau=1.0)(torch.tensor(S_HAND), torch.tensor(T_HAND))
    assert out.attention[0, 0].tolist() == pytest.approx([0.4501660, 0.5498340], abs=1e-6)


def test_single_global_teacher_token_by_hand() -> None:
    # S = [[1, 0], [0, 1]], T = [3, 4] (the paper's 1 x dim teacher): T_align = [[3, 4], [3, 4]],
    # identical keys -> A = 0.5 everywhere, T_weighted = [[3, 4], [3, 4]].
    # L_local = ((1-3)^2 + 4^2 + 3^2 + (1-4)^2) / 4 = 38 / 4 = 9.5
    # L_global = (|0.5 - 3| + |0.5 - 4|) / 2 = 3.0;  L = (9.5 + 3) / 2 = 6.25
    out = _tiny()(torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.tensor([3.0, 4.0]))
    assert out.t_align[0].tolist() == [[3.0, 4.0], [3.0, 4.0]]
    assert out.attention[0].tolist() == [[0.5, 0.5], [0.5, 0.5]]
    _assert_values(out.t_weighted[0], [[3.0, 4.0], [3.0, 4.0]])
    assert (out.local.item(), out.global_.item(), out.loss.item()) == pytest.approx((9.5, 3.0, 6.25))


def test_learnable_weights_start_equal_and_follow_their_logits() -> None:
    loss = _tiny()
    out = loss(torch.tensor(S_HAND), torch.tensor(T_HAND))
    assert (out.w1.item(), out.w2.item()) == (0.5, 0.5)
    with torch.no_grad():
        loss.weight_logits.copy_(torch.tensor([math.log(3.0), 0.0]))  # softmax -> (0.75, 0.25)
    out = loss(torch.tensor(S_HAND), torch.tensor(T_HAND))
    assert out.w1.item() == pytest.approx(0.75)
    assert out.loss.item() == pytest.approx(0.75 * 4.6365079 + 0.25 * 0.75, abs=1e-5)


def test_interpolation_one_token_becomes_copies_and_two_give_a_midpoint() -> None:
    one = interpolate_sequence(torch.tensor([[[1.0, -2.0]]]), torch.tensor([3]))
    assert one[0].tolist() == [[1.0, -2.0]] * 3
    two = interpolate_sequence(torch.tensor([[[0.0, 0.0], [2.0, 4.0]]]), torch.tensor([3]))
    assert two[0].tolist() == [[0.0, 0.0], [1.0, 2.0], [2.0, 4.0]]


@pytest.mark.parametrize(("m", "n"), [(3, 5), (4, 2), (5, 1), (2, 7)])
def test_interpolation_matches_torch_linear_align_corners(m: int, n: int) -> None:
    torch.manual_seed(m * 10 + n)
    tokens = torch.randn(1, m, 6)
    channels_first = tokens.transpose(1, 2)
    expected = F.interpolate(channels_first, size=n, mode="linear", align_corners=True).transpose(1, 2)
    assert torch.allclose(interpolate_sequence(tokens, torch.tensor([n])), expected, atol=1e-6)


def test_interpolation_per_frame_length_and_zero_padding() -> None:
    tokens = torch.tensor([[[0.0], [3.0]], [[0.0], [3.0]]])
    out = interpolate_sequence(tokens, torch.tensor([4, 2]))
    assert out[0, :, 0].tolist() == [0.0, 1.0, 2.0, 3.0]
    assert out[1, :, 0].tolist() == [0.0, 3.0, 0.0, 0.0]


def test_padded_batch_equals_frames_computed_one_by_one() -> None:
    torch.manual_seed(0)
    loss = DCSDLoss(DCSDConfig(teacher_dim=8, d_model=4))
    s_a, s_b = torch.randn(3, 4), torch.randn(1, 4)
    t_a, t_b = torch.randn(8), torch.randn(8)
    batch = torch.stack([s_a, torch.cat([s_b, 50 * torch.randn(2, 4)])])
    mask = torch.tensor([[False, False, False], [False, True, True]])
    out = loss(batch, torch.stack([t_a, t_b]), padding_mask=mask)
    alone_a, alone_b = loss(s_a, t_a), loss(s_b, t_b)
    assert out.local.item() == pytest.approx((alone_a.local.item() + alone_b.local.item()) / 2, abs=1e-6)
    mean_global = (alone_a.global_.item() + alone_b.global_.item()) / 2
    assert out.global_.item() == pytest.approx(mean_global, abs=1e-6)
    assert torch.allclose(out.attention[0], alone_a.attention[0], atol=1e-6)
    assert out.attention[1].tolist() == [[1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]
    assert torch.equal(out.t_align[1, 1:], torch.zeros(2, 4))


def test_frame_without_queries_contributes_nothing() -> None:
    loss = _tiny()
    empty = loss(torch.zeros(1, 0, 2, requires_grad=True), torch.tensor([[3.0, 4.0]]))
    assert (empty.loss.item(), empty.local.item(), empty.global_.item()) == (0.0, 0.0, 0.0)
    assert empty.attention.shape == (1, 0, 0)
    empty.loss.backward()  # still part of the graph: a training step on an empty frame is legal
    grad = loss.teacher_proj.weight.grad
    assert grad is None or grad.abs().sum() == 0

    # A batch with one empty (fully padded) frame scores like its non-empty frame alone.
    s = torch.tensor([S_HAND, [[9.0, 9.0], [9.0, 9.0]]])
    mask = torch.tensor([[False, False], [True, True]])
    mixed = loss(s, torch.tensor([T_HAND, T_HAND]), padding_mask=mask)
    assert torch.isfinite(mixed.attention).all()
    assert mixed.loss.item() == pytest.approx(2.6932540, abs=1e-5)
    assert mixed.attention[1].abs().sum() == 0


def test_gradients_reach_student_and_projection_but_never_the_teacher() -> None:
    torch.manual_seed(0)
    loss = DCSDLoss(DCSDConfig(teacher_dim=8, d_model=4))
    student = torch.randn(2, 3, 4, requires_grad=True)
    teacher = torch.randn(2, 8, requires_grad=True)  # as if someone forgot to freeze it
    loss(student, teacher).loss.backward()
    assert student.grad is not None and student.grad.abs().sum() > 0
    assert loss.teacher_proj.weight.grad.abs().sum() > 0
    assert loss.weight_logits.grad.abs().sum() > 0
    assert teacher.grad is None


def test_plain_distillation_by_hand() -> None:
    # Mean(S) = [0.5, 0.5], T_proj = [3, 4]: MSE = (2.5^2 + 3.5^2) / 2 = 9.25
    plain = _identity_projection(PlainDistillLoss(DCSDConfig(teacher_dim=2, d_model=2)))
    out = plain(torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.tensor([3.0, 4.0]))
    assert out.loss.item() == pytest.approx(9.25)
    assert out.student_mean[0].tolist() == [0.5, 0.5]
    # Padding is excluded from Mean(S); an empty frame gives 0.
    padded = plain(
        torch.tensor([[[1.0, 0.0], [0.0, 1.0], [99.0, 99.0]], [[5.0, 5.0], [5.0, 5.0], [5.0, 5.0]]]),
        torch.tensor([[3.0, 4.0], [3.0, 4.0]]),
        padding_mask=torch.tensor([[False, False, True], [True, True, True]]),
    )
    assert padded.loss.item() == pytest.approx(9.25)


def test_plain_and_dcsd_share_the_projection_layout() -> None:
    config = DCSDConfig(teacher_dim=1024)
    dcsd, plain = DCSDLoss(config), PlainDistillLoss(config)
    assert dcsd.teacher_proj.weight.shape == plain.teacher_proj.weight.shape == (256, 1024)


def test_user_errors_are_clear() -> None:
    loss = DCSDLoss(DCSDConfig(teacher_dim=1024))
    with pytest.raises(ValueError, match="teacher_dim"):
        loss(torch.randn(1, 3, 256), torch.randn(1, 1280))
    with pytest.raises(ValueError, match=r"\(B, n, 256\)"):
        loss(torch.randn(1, 3, 128), torch.randn(1, 1024))
    with pytest.raises(ValueError, match="end of each frame"):
        loss(torch.randn(1, 3, 256), torch.randn(1, 1024), padding_mask=torch.tensor([[True, False, False]]))
    with pytest.raises(ValueError, match="tau"):
        DCSDConfig(teacher_dim=1024, tau=0.0)

"""The student of Sec. III-A (eqs. 1-3): shapes, identity at init, eq. 3's residual, padding."""

from __future__ import annotations

import pytest
import torch

from model.vsd.student import StudentConfig, StudentModel, StudentOutput


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


def _trained_looking_student(seed: int = 0) -> StudentModel:
    """A student whose output projection is no longer zero, so the encoder actually matters."""
    torch.manual_seed(seed)
    student = StudentModel().eval()
    with torch.no_grad():
        torch.nn.init.normal_(student.output_proj.weight, std=0.1)
        torch.nn.init.normal_(student.output_proj.bias, std=0.1)
    return student


def test_paper_sizes_are_the_defaults() -> None:
    config = StudentConfig()
    assert (config.d_model, config.hidden_dim, config.num_layers) == (256, 256, 3)
    student = StudentModel(config)
    assert len(student.encoder.layers) == 3
    assert student.input_proj.in_features == 256 and student.output_proj.out_features == 256


def test_untrained_student_is_exactly_the_identity() -> None:
    torch.manual_seed(1)
    student = StudentModel().eval()
    x = torch.randn(2, 7, 256)
    out = student(x)
    assert isinstance(out, StudentOutput)
    assert torch.equal(out.features, x)


def test_eq3_output_is_projection_plus_residual() -> None:
    # With W_out = 0 and b_out = c, eq. 3 gives X_out = 0 * X_enc + c + X: each entry shifted by c.
    student = StudentModel().eval()
    with torch.no_grad():
        student.output_proj.bias.fill_(0.25)
    x = torch.tensor([[1.0] * 256, [-2.0] * 256]).unsqueeze(0)  # (1, 2, 256)
    out = student(x).features
    assert out[0, 0, 0].item() == pytest.approx(1.25)
    assert out[0, 1, 255].item() == pytest.approx(-1.75)


def test_trained_student_changes_its_input() -> None:
    student = _trained_looking_student()
    x = torch.randn(1, 5, 256)
    assert not torch.allclose(student(x).features, x, atol=1e-3)


@pytest.mark.parametrize("n", [0, 1, 10, 60])
def test_shapes_for_any_number_of_queries(n: int) -> None:
    student = _trained_looking_student()
    out = student(torch.randn(3, n, 256)).features
    assert out.shape == (3, n, 256)
    assert torch.isfinite(out).all()


def test_unbatched_input_keeps_its_rank_and_values() -> None:
    student = _trained_looking_student()
    x = torch.randn(4, 256)
    unbatched = student(x).features
    assert unbatched.shape == (4, 256)
    assert torch.allclose(unbatched, student(x.unsqueeze(0)).features[0], atol=1e-6)
    assert student(torch.zeros(0, 256)).features.shape == (0, 256)


def test_padding_does_not_change_the_real_queries() -> None:
    student = _trained_looking_student()
    real = torch.randn(1, 3, 256)
    alone = student(real).features
    padded = torch.cat([real, 100 * torch.randn(1, 2, 256)], dim=1)  # loud garbage in the padding
    mask = torch.tensor([[False, False, False, True, True]])
    out = student(padded, padding_mask=mask).features
    assert torch.allclose(out[:, :3], alone, atol=1e-5)
    assert torch.equal(out[:, 3:], padded[:, 3:])  # the student leaves padding untouched


def test_without_the_mask_padding_would_leak() -> None:
    # The counterpart of the test above: proves the mask is what protects the real queries.
    student = _trained_looking_student()
    real = torch.randn(1, 3, 256)
    padded = torch.cat([real, 100 * torch.randn(1, 2, 256)], dim=1)
    assert not torch.allclose(student(padded).features[:, :3], student(real).features, atol=1e-3)


def test_batch_of_frames_with_different_query_counts() -> None:
    student = _trained_looking_student()
    frame_a, frame_b = torch.randn(1, 4, 256), torch.randn(1, 2, 256)
    batch = torch.cat([frame_a, torch.cat([frame_b, torch.zeros(1, 2, 256)], dim=1)])
    mask = torch.tensor([[False] * 4, [False, False, True, True]])
    out = student(batch, padding_mask=mask).features
    assert torch.allclose(out[0], student(frame_a).features[0], atol=1e-5)
    assert torch.allclose(out[1, :2], student(frame_b).features[0], atol=1e-5)


def test_frame_that_is_all_padding_gives_no_nan() -> None:
    student = _trained_looking_student()
    x = torch.randn(2, 3, 256)
    mask = torch.tensor([[False, False, True], [True, True, True]])
    out = student(x, padding_mask=mask).features
    assert torch.isfinite(out).all()
    assert torch.equal(out[1], x[1])


def test_gradients_reach_input_and_output_projection() -> None:
    student = StudentModel().train()
    x = torch.randn(1, 4, 256, requires_grad=True)
    student(x).features.pow(2).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    # Zero-init output projection: it gets a gradient at step 0, the encoder from step 1 on.
    assert student.output_proj.weight.grad.abs().sum() > 0


def test_wrong_feature_size_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"\(B, n, 256\)"):
        StudentModel()(torch.randn(1, 3, 128))
    with pytest.raises(ValueError, match="padding_mask"):
        StudentModel()(torch.randn(1, 3, 256), padding_mask=torch.zeros(1, 4, dtype=torch.bool))


def test_config_rejects_heads_that_do_not_divide_hidden() -> None:
    with pytest.raises(ValueError, match="divisible"):
        StudentConfig(hidden_dim=256, num_heads=7)

"""DSWR (paper eqs. 13-14): weights and fusion against hand-computed numbers, broadcasting,
gradients, the fixed-ratio ablation, and the weight it gives real clean vs degraded frames."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import torch

from model.vsd.dswr import DSWR, DSWRConfig
from model.vsd.quality import assess_frame


def test_default_weights_at_the_ends_of_q() -> None:
    # W = -2, b = 1: w(0) = sigmoid(1) = 0.731059, w(0.5) = sigmoid(0) = 0.5, w(1) = sigmoid(-1) = 0.268941
    weight = DSWR().semantic_weight(torch.tensor([0.0, 0.5, 1.0]))
    torch.testing.assert_close(weight, torch.tensor([0.731059, 0.5, 0.268941]), atol=1e-6, rtol=0)


def test_lower_quality_gives_higher_semantic_weight() -> None:
    weight = DSWR().semantic_weight(torch.linspace(0, 1, 11))
    assert bool((weight[1:] < weight[:-1]).all())


def test_fusion_by_hand() -> None:
    # W = 0, b = ln 3 -> w = sigmoid(ln 3) = 3/4 for any Q.
    # fused = 0.75 * [4, 8] + 0.25 * [0, 4] = [3, 7];  0.75 * [-4, 0] + 0.25 * [4, 4] = [-2, 1]
    module = DSWR(DSWRConfig(W_init=0.0, b_init=math.log(3)))
    semantic = torch.tensor([[[4.0, 8.0], [-4.0, 0.0]]])
    query = torch.tensor([[[0.0, 4.0], [4.0, 4.0]]])
    out = module(semantic, query, torch.tensor([0.3]))
    torch.testing.assert_close(out.weight, torch.tensor([0.75]))
    torch.testing.assert_close(out.fused, torch.tensor([[[3.0, 7.0], [-2.0, 1.0]]]))


def test_weight_is_per_frame_and_broadcast_over_queries() -> None:
    # Q = [0, 1] with the defaults: w = [0.731059, 0.268941]; semantic 1, query 0 -> fused = w everywhere.
    out = DSWR()(torch.ones(2, 3, 4), torch.zeros(2, 3, 4), torch.tensor([0.0, 1.0]))
    assert out.fused.shape == (2, 3, 4)
    assert out.weight.shape == (2,)
    torch.testing.assert_close(out.fused[0], torch.full((3, 4), 0.731059), atol=1e-6, rtol=0)
    torch.testing.assert_close(out.fused[1], torch.full((3, 4), 0.268941), atol=1e-6, rtol=0)


def test_scalar_quality_applies_to_every_frame() -> None:
    for quality in (0.5, torch.tensor(0.5)):
        out = DSWR()(torch.ones(3, 2, 4), torch.zeros(3, 2, 4), quality)
        torch.testing.assert_close(out.weight, torch.full((3,), 0.5))


def test_one_global_semantic_vector_broadcasts_over_queries() -> None:
    # w = 0.5 at Q = 0.5: fused = 0.5 * [2, 4] + 0.5 * query
    semantic = torch.tensor([[[2.0, 4.0]]])  # (1, 1, 2)
    query = torch.tensor([[[0.0, 0.0], [2.0, 2.0], [4.0, -4.0]]])  # (1, 3, 2)
    out = DSWR()(semantic, query, torch.tensor([0.5]))
    torch.testing.assert_close(out.fused, torch.tensor([[[1.0, 2.0], [2.0, 3.0], [3.0, 0.0]]]))


def test_unbatched_inputs_give_unbatched_outputs() -> None:
    out = DSWR()(torch.ones(5, 256), torch.zeros(5, 256), 1.0)
    assert out.fused.shape == (5, 256)
    assert out.weight.shape == ()
    assert out.weight.item() == pytest.approx(0.268941, abs=1e-6)


def test_gradients_reach_w_and_b() -> None:
    # loss = sum(fused) over 3*4 = 12 entries, semantic 1, query 0, Q = 0.5 -> w = 0.5, w(1-w) = 0.25.
    # dloss/db = 12 * 0.25 = 3;  dloss/dW = 12 * 0.25 * Q = 1.5
    module = DSWR()
    out = module(torch.ones(1, 3, 4), torch.zeros(1, 3, 4), torch.tensor([0.5]))
    out.fused.sum().backward()
    assert module.b.grad.item() == pytest.approx(3.0)
    assert module.W.grad.item() == pytest.approx(1.5)


def test_gradients_reach_both_feature_inputs() -> None:
    semantic = torch.ones(1, 2, 4, requires_grad=True)
    query = torch.zeros(1, 2, 4, requires_grad=True)
    DSWR()(semantic, query, torch.tensor([0.0])).fused.sum().backward()
    torch.testing.assert_close(semantic.grad, torch.full((1, 2, 4), 0.731059), atol=1e-6, rtol=0)
    torch.testing.assert_close(query.grad, torch.full((1, 2, 4), 0.268941), atol=1e-6, rtol=0)


def test_fixed_ratio_mode_has_no_parameters_and_ignores_quality() -> None:
    module = DSWR(fixed_weight=0.25)
    assert list(module.parameters()) == []
    # fused = 0.25 * 8 + 0.75 * 4 = 5 whatever Q is
    out = module(torch.full((2, 3, 4), 8.0), torch.full((2, 3, 4), 4.0), torch.tensor([0.0, 1.0]))
    torch.testing.assert_close(out.weight, torch.tensor([0.25, 0.25]))
    torch.testing.assert_close(out.fused, torch.full((2, 3, 4), 5.0))
    assert module(torch.ones(1, 2, 4), torch.zeros(1, 2, 4)).weight.item() == 0.25


def test_learnable_mode_has_exactly_w_and_b() -> None:
    names = {name for name, _ in DSWR().named_parameters()}
    assert names == {"W", "b"}


def test_user_errors_are_explained() -> None:
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        DSWR(fixed_weight=1.5)
    with pytest.raises(ValueError, match="not both"):
        DSWR(DSWRConfig(), fixed_weight=0.5)
    with pytest.raises(ValueError, match="quality is required"):
        DSWR()(torch.ones(1, 2, 4), torch.zeros(1, 2, 4))
    with pytest.raises(ValueError, match="do not broadcast"):
        DSWR()(torch.ones(1, 2, 8), torch.zeros(1, 2, 4), 0.5)
    with pytest.raises(ValueError, match="one value per frame"):
        DSWR()(torch.ones(2, 2, 4), torch.zeros(2, 2, 4), torch.tensor([0.1, 0.2, 0.3]))
    with pytest.raises(ValueError, match="both"):
        DSWR()(torch.ones(2, 4), torch.zeros(1, 2, 4), 0.5)


def test_degraded_real_frames_get_more_semantic_weight(real_frames: list[np.ndarray]) -> None:
    """End to end: Q from real PETS09 frames, clean vs blurred vs noisy, drives w the right way."""
    rng = np.random.default_rng(0)
    frame = real_frames[0]
    blurred = cv2.GaussianBlur(frame, (0, 0), 4)
    noisy = np.clip(frame + rng.normal(0, 30, frame.shape), 0, 255).astype(np.uint8)
    quality = torch.tensor([assess_frame(f).q for f in (frame, blurred, noisy)])
    out = DSWR()(torch.ones(3, 4, 256), torch.zeros(3, 4, 256), quality)
    clean_w, blurred_w, noisy_w = out.weight.tolist()
    assert clean_w < 0.45 < blurred_w and clean_w < noisy_w

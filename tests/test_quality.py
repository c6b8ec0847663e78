"""Frame quality (paper Sec. III-C): each raw measure on hand-computed arrays, the normalisation,
the combination, and the behaviour on real PETS09 frames."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from model.vsd.quality import (
    QualityConfig,
    assess_frame,
    clarity_energy,
    contrast_std,
    laplacian_variance,
    noise_sigma,
    saturating_log,
    to_working_gray,
    working_size,
)

FIELDS = ("clarity", "noise", "contrast", "q")


# --------------------------------------------------------------------------- raw measures by hand


def test_laplacian_variance_by_hand() -> None:
    # Valid pixels (1,1) and (1,2): Laplacian = 0+0+0+0 - 4*4 = -16 and 4 (left neighbour) - 0 = 4.
    # Mean -6, population variance ((-10)^2 + 10^2) / 2 = 100.
    image = np.array([[0, 0, 0, 0], [0, 4, 0, 0], [0, 0, 0, 0]], dtype=np.float32)
    assert laplacian_variance(image) == pytest.approx(100.0)


def test_laplacian_variance_is_zero_on_a_ramp_and_a_parabola() -> None:
    ramp = np.add.outer(2.0 * np.arange(5), 3.0 * np.arange(6)).astype(np.float32)  # Laplacian 0
    parabola = np.tile(np.arange(6.0) ** 2, (5, 1)).astype(np.float32)  # Laplacian constant 2
    assert laplacian_variance(ramp) == pytest.approx(0.0, abs=1e-9)
    assert laplacian_variance(parabola) == pytest.approx(0.0, abs=1e-9)


def test_laplacian_variance_of_a_cubic_by_hand() -> None:
    # Rows x^3 = 0, 1, 8, 27, 64: second differences 6x = 6, 12, 18 -> mean 12, variance (36+0+36)/3 = 24.
    cubic = np.tile(np.arange(5.0) ** 3, (3, 1)).astype(np.float32)
    assert laplacian_variance(cubic) == pytest.approx(24.0)


def test_clarity_energy_removes_the_noise_share() -> None:
    # 100 - 20 * 2^2 = 20; floored at 0 when noise explains all of the Laplacian energy.
    assert clarity_energy(100.0, 2.0) == pytest.approx(20.0)
    assert clarity_energy(100.0, 3.0) == 0.0


def test_noise_sigma_by_hand() -> None:
    # Immerkaer residual at (1,1): centre 4*6 = 24; at (1,2): left edge neighbour -2*6 = -12.
    # median(|24|, |-12|) = 18 -> sigma = 1.4826 * 18 / 6 = 4.4478.
    image = np.array([[0, 0, 0, 0], [0, 6, 0, 0], [0, 0, 0, 0]], dtype=np.float32)
    assert noise_sigma(image) == pytest.approx(4.4478)


def test_noise_sigma_ignores_planes() -> None:
    ramp = np.add.outer(2.0 * np.arange(5), 3.0 * np.arange(6)).astype(np.float32)
    assert noise_sigma(ramp) == pytest.approx(0.0, abs=1e-9)


def test_noise_sigma_ignores_a_function_of_x_alone() -> None:
    # Immerkaer's kernel is (1,-2,1) x (1,-2,1): zero on anything constant along one axis, e.g. x^3.
    cubic = np.tile(np.arange(5.0) ** 3, (3, 1)).astype(np.float32)
    assert noise_sigma(cubic) == pytest.approx(0.0, abs=1e-9)


def test_noise_sigma_estimates_gaussian_sigma() -> None:
    noise = np.random.default_rng(0).normal(128, 10, (300, 300)).astype(np.float32)
    assert noise_sigma(noise) == pytest.approx(10.0, rel=0.03)


def test_pure_noise_has_no_clarity() -> None:
    """i.i.d. noise raises the Laplacian variance by 20 sigma^2 and the correction takes it back out."""
    noise = np.random.default_rng(1).normal(128, 10, (300, 300)).astype(np.float32)
    assert laplacian_variance(noise) == pytest.approx(2000.0, rel=0.03)
    assert clarity_energy(laplacian_variance(noise), noise_sigma(noise)) < 0.1 * 2000.0


def test_contrast_std_by_hand() -> None:
    # mean 15, deviations 15, 5, 5, 15 -> variance 125 -> std 11.1803
    assert contrast_std(np.array([[0, 10], [20, 30]], dtype=np.float32)) == pytest.approx(11.18034)


# --------------------------------------------------------------------------- normalisation, combination


def test_saturating_log_by_hand() -> None:
    assert saturating_log(0.0, 1.0, 3.0) == 0.0
    assert saturating_log(-5.0, 1.0, 3.0) == 0.0
    assert saturating_log(1.0, 1.0, 3.0) == pytest.approx(0.5)  # log 2 / log 4
    assert saturating_log(3.0, 1.0, 3.0) == pytest.approx(1.0)
    assert saturating_log(300.0, 1.0, 3.0) == 1.0


def test_working_size_fixes_the_short_side() -> None:
    assert working_size(576, 768, 288) == (288, 384)
    assert working_size(1080, 1920, 288) == (288, 512)
    assert working_size(768, 576, 288) == (384, 288)


# A 5x5 ramp 0, 10, 20, 30, 40 along x, assessed at its own size: Laplacian 0 (clarity 0),
# Immerkaer residual 0 (noise 0), std = 10*sqrt(2) = 14.1421.
# contrast = log1p(14.1421/32) / log1p(64/32) = 0.333139;  Q = 0.3 * 0.333139 * (1 - 0) = 0.099942.
RAMP = np.tile(10.0 * np.arange(5), (5, 1)).astype(np.float32)
RAMP_EXPECTED = {"clarity": 0.0, "noise": 0.0, "contrast": 0.333139, "q": 0.099942}

# A 5x5 cubic x^3 along x: Laplacian variance 24 (see above), noise 0 -> clarity energy 24,
# clarity = log1p(24/20) / log1p(5000/20) = 0.142696; std of 0, 1, 8, 27, 64 = sqrt(578) = 24.0416,
# contrast = log1p(24.0416/32) / log 3 = 0.510061;  Q = 0.7 * 0.142696 + 0.3 * 0.510061 = 0.252905.
CUBIC = np.tile(np.arange(5.0) ** 3, (5, 1)).astype(np.float32)
CUBIC_EXPECTED = {"clarity": 0.142696, "noise": 0.0, "contrast": 0.510061, "q": 0.252905}

# A 6x6 checkerboard 100 +- 3, assessed at its own size: the Immerkaer residual is 16 * 3 = 48
# everywhere -> sigma = 1.4826 * 48 / 6 = 11.8608; noise = log1p((11.8608 - 2) / 4) / log1p(20 / 4)
# = 0.693603; Laplacian +-24 -> variance 576 < 20 * 11.8608^2 = 2813.6, so clarity 0 (read as noise);
# std = 3 -> contrast = log1p(3/32) / log 3 = 0.081569;  Q = 0.3 * 0.081569 * (1 - 0.693603) = 0.0074977.
CHECKER = (100 + 3 * (-1.0) ** np.add.outer(np.arange(6), np.arange(6))).astype(np.float32)
CHECKER_EXPECTED = {"clarity": 0.0, "noise": 0.693603, "contrast": 0.081569, "q": 0.0074977}
HAND_CASES = [(RAMP, RAMP_EXPECTED), (CUBIC, CUBIC_EXPECTED), (CHECKER, CHECKER_EXPECTED)]


@pytest.mark.parametrize("image, expected", HAND_CASES)
def test_assess_frame_combination_by_hand(image: np.ndarray, expected: dict[str, float]) -> None:
    scores = assess_frame(image, QualityConfig(short_side=min(image.shape)))
    for field in FIELDS:
        assert getattr(scores, field) == pytest.approx(expected[field], abs=1e-5), field


def test_flat_grey_scores_zero() -> None:
    grey = np.full((576, 768, 3), 128, dtype=np.uint8)
    scores = assess_frame(grey)
    assert (scores.clarity, scores.noise, scores.contrast, scores.q) == (0.0, 0.0, 0.0, 0.0)


# --------------------------------------------------------------------------- input checks


def test_config_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="sum to 1"):
        QualityConfig(w_clarity=0.9, w_contrast=0.3)
    with pytest.raises(ValueError, match="positive"):
        QualityConfig(noise_scale=0.0)
    with pytest.raises(ValueError, match="short_side"):
        QualityConfig(short_side=2)


def test_bad_shapes_get_clear_errors() -> None:
    with pytest.raises(ValueError, match="BGR"):
        assess_frame(np.zeros((10, 10, 4), dtype=np.uint8))
    with pytest.raises(ValueError, match="too small"):
        assess_frame(np.zeros((2, 10), dtype=np.uint8))


# --------------------------------------------------------------------------- real frames


def test_clean_frames_score_high(real_frames: list[np.ndarray]) -> None:
    # Calibration: clean PETS09 frames give Q = 0.77 +- 0.01.
    for frame in real_frames:
        assert 0.6 < assess_frame(frame).q <= 1.0


def test_q_falls_monotonically_with_blur(real_frames: list[np.ndarray]) -> None:
    for frame in real_frames:
        qs = [assess_frame(frame if s == 0 else cv2.GaussianBlur(frame, (0, 0), s)).q for s in (0, 1, 2, 4)]
        assert all(a > b for a, b in zip(qs, qs[1:])), qs
        assert qs[-1] < 0.55, qs


def test_q_falls_monotonically_with_noise(real_frames: list[np.ndarray]) -> None:
    rng = np.random.default_rng(0)
    for frame in real_frames:
        qs = []
        for sigma in (0, 5, 15, 30):
            noisy = np.clip(frame + rng.normal(0, sigma, frame.shape), 0, 255).astype(np.uint8)
            qs.append(assess_frame(noisy).q)
        assert all(a > b for a, b in zip(qs, qs[1:])), qs
        assert qs[-1] < 0.4, qs


def test_noise_does_not_raise_clarity(real_frames: list[np.ndarray]) -> None:
    """The noise correction keeps clarity honest: with noise sigma 30 the plain Laplacian variance
    more than doubles, the corrected clarity does not rise."""
    rng = np.random.default_rng(1)
    frame = real_frames[0]
    noisy = np.clip(frame + rng.normal(0, 30, frame.shape), 0, 255).astype(np.uint8)
    gray, noisy_gray = to_working_gray(frame), to_working_gray(noisy)
    assert laplacian_variance(noisy_gray) > 2 * laplacian_variance(gray)
    assert assess_frame(noisy).clarity <= assess_frame(frame).clarity


def test_q_does_not_depend_on_input_size(real_frames: list[np.ndarray]) -> None:
    frame = real_frames[0]
    doubled = cv2.resize(frame, (1536, 1152), interpolation=cv2.INTER_NEAREST)
    assert assess_frame(doubled).q == pytest.approx(assess_frame(frame).q, abs=1e-4)


def test_low_contrast_lowers_q(real_frames: list[np.ndarray]) -> None:
    frame = real_frames[0]
    washed_out = (frame * 0.3 + 90).astype(np.uint8)
    assert assess_frame(washed_out).q < assess_frame(frame).q - 0.2


def test_q_orders_the_degradation_presets(real_frames: list[np.ndarray]) -> None:
    """The Real-ESRGAN pipeline the paper uses for its LQ data: clean > medium > severe
    (calibration means 0.79, 0.64, 0.37)."""
    degrade = pytest.importorskip("model.vsd.degrade")
    for index, frame in enumerate(real_frames[:2]):
        medium = degrade.Degrader(preset="medium", seed=0)(frame, index)
        severe = degrade.Degrader(preset="severe", seed=0)(frame, index)
        clean_q, medium_q, severe_q = (assess_frame(image).q for image in (frame, medium, severe))
        assert clean_q > medium_q + 0.05 > severe_q + 0.1, (clean_q, medium_q, severe_q)

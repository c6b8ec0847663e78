"""Real-ESRGAN second-order degradation: how the paper turns HQ sequences into LQ ones (eq. 17, Sec. IV-A).

The paper builds LQDanceTrack / LQMOT by applying "the degradation function of Real-ESRGAN" to
whole training sequences, x = (D_n o ... o D_1)(y). We re-implement that pipeline (Wang et al.,
ICCV-W 2021) with numpy + OpenCV on BGR uint8 frames:

    round 1:  blur(k1) -> random resize -> Gaussian/Poisson noise -> JPEG(q1)
    round 2:  blur(k2) with prob. ``second_blur_prob`` -> resize to (H, W) / scale * s2 -> noise
    final:    [resize to (H, W) / scale, sinc filter] and JPEG(q2), in random order
    then:     bicubic upsample back to (H, W) when ``scale`` > 1

The last step is ours: Real-ESRGAN's LQ image is 1/scale of the original (it trains a
super-resolver), but a tracker's ground-truth boxes are in original pixels, so we show that
low-resolution image at the original size, as a player would.

Per-sequence consistency. Real-ESRGAN draws every parameter per image; a real low-quality VIDEO
keeps its camera, optics and codec for the whole clip, so :class:`Degrader` draws the parameters
(kernels, scales, interpolation modes, noise type and level, JPEG qualities, the final order) ONCE
from ``seed``. Only the noise realisation changes per frame, drawn from (seed, frame_index) so any
frame can be reproduced on its own, in any order.

Poisson noise is exact where the expected photon count lambda is below ``POISSON_EXACT_BELOW``
and N(lambda, lambda), rounded, above it: same mean and variance, only the skewness 1/sqrt(lambda)
<= 0.32 is lost, while numpy's exact sampler would cost ~70 ms on a 768x576 frame.
"""

from __future__ import annotations

import configparser
import json
import math
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
from scipy import special
from tqdm import tqdm

from model.data.video import VIDEO_SUFFIXES, open_frames

KERNEL_TYPES = ("iso", "aniso", "generalized_iso", "generalized_aniso", "plateau_iso", "plateau_aniso")
RESIZE_MODES = {"area": cv2.INTER_AREA, "bilinear": cv2.INTER_LINEAR, "bicubic": cv2.INTER_CUBIC}
POISSON_EXACT_BELOW = 10.0
SAVED_JPEG_QUALITY = 95
WRITABLE_VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".m4v", ".mkv"}
MANIFEST_NAME = "manifest.json"
PARAMS_NAME = "degradation.json"

Range = tuple[float, float]


@dataclass(frozen=True)
class DegradationConfig:
    """The sampling ranges of one preset; names and defaults follow Real-ESRGAN's x4plus training config.

    Fields without a ``2`` belong to round 1, with a ``2`` to round 2. Noise sigmas are in grey
    levels (0..255), Poisson scales multiply Real-ESRGAN's unit-range Poisson noise.
    """

    kernel_range: tuple[int, int] = (7, 21)  # odd blur-kernel sides drawn from this interval
    kernel_list: tuple[str, ...] = KERNEL_TYPES
    kernel_prob: tuple[float, ...] = (0.45, 0.25, 0.12, 0.03, 0.12, 0.03)
    sinc_prob: float = 0.1
    blur_sigma: Range = (0.2, 3.0)
    betag_range: Range = (0.5, 4.0)
    betap_range: Range = (1.0, 2.0)
    resize_prob: tuple[float, float, float] = (0.2, 0.7, 0.1)  # up, down, keep
    resize_range: Range = (0.15, 1.5)
    gaussian_noise_prob: float = 0.5
    noise_range: Range = (1.0, 30.0)
    poisson_scale_range: Range = (0.05, 3.0)
    gray_noise_prob: float = 0.4
    jpeg_range: Range = (30.0, 95.0)

    second_blur_prob: float = 0.8
    kernel_list2: tuple[str, ...] = KERNEL_TYPES
    kernel_prob2: tuple[float, ...] = (0.45, 0.25, 0.12, 0.03, 0.12, 0.03)
    sinc_prob2: float = 0.1
    blur_sigma2: Range = (0.2, 1.5)
    betag_range2: Range = (0.5, 4.0)
    betap_range2: Range = (1.0, 2.0)
    resize_prob2: tuple[float, float, float] = (0.3, 0.4, 0.3)
    resize_range2: Range = (0.3, 1.2)
    gaussian_noise_prob2: float = 0.5
    noise_range2: Range = (1.0, 25.0)
    poisson_scale_range2: Range = (0.05, 2.5)
    gray_noise_prob2: float = 0.4
    jpeg_range2: Range = (30.0, 95.0)

    final_sinc_prob: float = 0.8
    jpeg_last_prob: float = 0.5  # Real-ESRGAN hard-codes this coin flip for the final order
    scale: int = 4  # the LQ image is 1/scale of the input before the upsample back

    def __post_init__(self) -> None:
        low, high = self.kernel_range
        if low < 3 or low > high or low % 2 == 0 or high % 2 == 0:
            raise ValueError(
                f"kernel_range must be two odd sizes >= 3 with low <= high, got {self.kernel_range}")
        for suffix in ("", "2"):
            kinds, probs = getattr(self, f"kernel_list{suffix}"), getattr(self, f"kernel_prob{suffix}")
            unknown = set(kinds) - set(KERNEL_TYPES)
            if unknown or len(kinds) != len(probs):
                raise ValueError(f"kernel_list{suffix} must name kernels from {KERNEL_TYPES}, one prob each")
            _check_distribution(f"kernel_prob{suffix}", probs)
            _check_distribution(f"resize_prob{suffix}", getattr(self, f"resize_prob{suffix}"))
            for name in ("blur_sigma", "betag_range", "betap_range", "resize_range", "noise_range",
                         "poisson_scale_range", "jpeg_range"):
                lo, hi = getattr(self, name + suffix)
                if not 0 <= lo <= hi:
                    raise ValueError(f"{name}{suffix} must satisfy 0 <= low <= high, got {(lo, hi)}")
            quality_low, quality_high = getattr(self, "jpeg_range" + suffix)
            if not (1 <= quality_low and quality_high <= 100):
                raise ValueError(f"jpeg_range{suffix} must lie within [1, 100]")
        for name in ("sinc_prob", "sinc_prob2", "gaussian_noise_prob", "gaussian_noise_prob2",
                     "gray_noise_prob", "gray_noise_prob2", "second_blur_prob", "final_sinc_prob",
                     "jpeg_last_prob"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} is a probability, got {getattr(self, name)}")
        if int(self.scale) != self.scale or self.scale < 1:
            raise ValueError(f"scale must be a positive integer, got {self.scale}")


def _check_distribution(name: str, probs: Sequence[float]) -> None:
    if any(p < 0 for p in probs) or not math.isclose(sum(probs), 1.0, abs_tol=1e-6):
        raise ValueError(f"{name} must be non-negative and sum to 1, got {tuple(probs)}")


PRESETS: dict[str, DegradationConfig] = {
    # Barely visible: light blur, faint noise, high JPEG quality, full resolution.
    "mild": DegradationConfig(
        kernel_range=(7, 9), sinc_prob=0.0, blur_sigma=(0.2, 0.8), resize_range=(0.75, 1.2),
        noise_range=(1.0, 4.0), poisson_scale_range=(0.05, 0.3), jpeg_range=(80.0, 95.0),
        second_blur_prob=0.3, sinc_prob2=0.0, blur_sigma2=(0.2, 0.5), resize_range2=(0.8, 1.2),
        noise_range2=(1.0, 3.0), poisson_scale_range2=(0.05, 0.25), jpeg_range2=(80.0, 95.0),
        final_sinc_prob=0.1, scale=1,
    ),
    # A cheap camera streaming at half resolution; kernels up to 11 px keep it at ~20-30 ms a frame.
    "medium": DegradationConfig(
        kernel_range=(7, 11), blur_sigma=(0.6, 1.6), resize_range=(0.5, 1.2),
        noise_range=(4.0, 12.0), poisson_scale_range=(0.3, 1.2), jpeg_range=(50.0, 80.0),
        second_blur_prob=0.6, blur_sigma2=(0.3, 1.0), resize_range2=(0.6, 1.1),
        noise_range2=(3.0, 10.0), poisson_scale_range2=(0.2, 1.0), jpeg_range2=(50.0, 80.0),
        final_sinc_prob=0.5, scale=2,
    ),
    # Quarter resolution, heavy blur and noise, blocky compression.
    "severe": DegradationConfig(
        kernel_range=(7, 21), blur_sigma=(1.5, 3.0), resize_prob=(0.1, 0.8, 0.1), resize_range=(0.25, 1.0),
        noise_range=(12.0, 30.0), poisson_scale_range=(1.0, 3.0), jpeg_range=(25.0, 50.0),
        second_blur_prob=0.8, blur_sigma2=(0.8, 1.5), resize_range2=(0.4, 1.0),
        noise_range2=(8.0, 25.0), poisson_scale_range2=(0.8, 2.5), jpeg_range2=(25.0, 50.0),
        final_sinc_prob=0.8, scale=4,
    ),
    # The published Real-ESRGAN x4plus ranges (the dataclass defaults).
    "realesrgan": DegradationConfig(),
}


@dataclass
class KernelParams:
    """One sampled blur kernel. ``kind`` is one of KERNEL_TYPES or "sinc"; unused fields stay at defaults."""

    kind: str
    size: int
    sigma_x: float = 0.0
    sigma_y: float = 0.0
    theta: float = 0.0
    beta: float = 1.0
    omega_c: float = 0.0


@dataclass
class RoundParams:
    """One [blur -> resize -> noise -> JPEG] round; ``blur`` is None when the round skips blurring."""

    blur: KernelParams | None
    resize_scale: float
    resize_mode: str
    noise_type: str  # "gaussian" or "poisson"
    noise_level: float  # sigma in grey levels, or the Poisson scale
    gray_noise: bool
    jpeg_quality: int


@dataclass
class DegradationParams:
    """One sequence's sampled degradation; ``json.dumps(asdict(params))`` records it."""

    preset: str
    seed: int
    scale: int
    first: RoundParams
    second: RoundParams
    final_sinc: KernelParams | None
    final_resize_mode: str
    jpeg_last: bool  # True: resize + sinc, then JPEG; False: JPEG, then resize + sinc


# ----------------------------------------------------------------------------------------- kernels


def _quadratic_form(size: int, sigma_x: float, sigma_y: float, theta: float) -> np.ndarray:
    """(size, size) values of x^T Sigma^-1 x on a centred grid (x = column, y = row offset).

    Sigma = R(theta) diag(sigma_x^2, sigma_y^2) R(theta)^T, so theta rotates the sigma_x axis
    counter-clockwise from the image x axis.
    """
    if size < 1 or size % 2 == 0:
        raise ValueError(f"kernel size must be odd and positive, got {size}")
    if sigma_x <= 0 or sigma_y <= 0:
        raise ValueError(f"kernel sigmas must be positive, got {(sigma_x, sigma_y)}")
    rotation = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
    inverse = np.linalg.inv(rotation @ np.diag([sigma_x**2, sigma_y**2]) @ rotation.T)
    offsets = np.arange(size, dtype=np.float64) - size // 2
    x, y = np.meshgrid(offsets, offsets)
    return inverse[0, 0] * x * x + 2 * inverse[0, 1] * x * y + inverse[1, 1] * y * y


def _normalised(kernel: np.ndarray) -> np.ndarray:
    return (kernel / kernel.sum()).astype(np.float32)


def gaussian_kernel(size: int, sigma_x: float, sigma_y: float | None = None,
                    theta: float = 0.0) -> np.ndarray:
    """Bivariate Gaussian exp(-q/2), q = x^T Sigma^-1 x; isotropic when sigma_y is None."""
    q = _quadratic_form(size, sigma_x, sigma_x if sigma_y is None else sigma_y, theta)
    return _normalised(np.exp(-0.5 * q))


def generalized_gaussian_kernel(size: int, sigma_x: float, sigma_y: float, theta: float,
                                beta: float) -> np.ndarray:
    """exp(-q^beta / 2): beta < 1 gives heavy tails, beta > 1 a flatter top than a Gaussian."""
    return _normalised(np.exp(-0.5 * np.power(_quadratic_form(size, sigma_x, sigma_y, theta), beta)))


def plateau_kernel(size: int, sigma_x: float, sigma_y: float, theta: float, beta: float) -> np.ndarray:
    """1 / (q^beta + 1): a flat-topped kernel with polynomial tails (defocus-like)."""
    return _normalised(1.0 / (np.power(_quadratic_form(size, sigma_x, sigma_y, theta), beta) + 1.0))


def sinc_kernel(size: int, omega_c: float) -> np.ndarray:
    """Ideal circular low-pass filter omega_c J1(omega_c r) / (2 pi r): the ringing of over-sharpened video.

    Its value at r = 0 is the limit omega_c^2 / (4 pi).
    """
    if size < 1 or size % 2 == 0 or omega_c <= 0:
        raise ValueError(f"sinc kernel needs an odd size and a positive cutoff, got {(size, omega_c)}")
    offsets = np.arange(size, dtype=np.float64) - size // 2
    x, y = np.meshgrid(offsets, offsets)
    radius = np.hypot(x, y)
    safe = np.where(radius == 0, 1.0, radius)
    kernel = omega_c * special.j1(omega_c * safe) / (2 * np.pi * safe)
    kernel[radius == 0] = omega_c**2 / (4 * np.pi)
    return _normalised(kernel)


def build_kernel(params: KernelParams) -> np.ndarray:
    """The normalised (size, size) float32 kernel that ``params`` describe."""
    if params.kind == "sinc":
        return sinc_kernel(params.size, params.omega_c)
    if params.kind in ("iso", "aniso"):
        return gaussian_kernel(params.size, params.sigma_x, params.sigma_y, params.theta)
    if params.kind.startswith("generalized"):
        return generalized_gaussian_kernel(params.size, params.sigma_x, params.sigma_y, params.theta,
                                           params.beta)
    if params.kind.startswith("plateau"):
        return plateau_kernel(params.size, params.sigma_x, params.sigma_y, params.theta, params.beta)
    raise ValueError(f"unknown kernel kind {params.kind!r}")


# ----------------------------------------------------------------------------------------- sampling


def _uniform(rng: np.random.Generator, bounds: Range) -> float:
    return float(rng.uniform(bounds[0], bounds[1]))


def _sample_kernel_size(rng: np.random.Generator, kernel_range: tuple[int, int]) -> int:
    return int(rng.choice(np.arange(kernel_range[0], kernel_range[1] + 1, 2)))


def _sample_blur(rng: np.random.Generator, config: DegradationConfig, suffix: str) -> KernelParams:
    """Real-ESRGAN's mixed-kernel draw: a sinc with prob. sinc_prob, else one of the six Gaussian families."""
    size = _sample_kernel_size(rng, config.kernel_range)
    if rng.uniform() < getattr(config, "sinc_prob" + suffix):
        omega_c = _uniform(rng, (math.pi / 3, math.pi) if size < 13 else (math.pi / 5, math.pi))
        return KernelParams("sinc", size, omega_c=omega_c)
    kinds, probs = getattr(config, "kernel_list" + suffix), getattr(config, "kernel_prob" + suffix)
    kind = str(kinds[rng.choice(len(kinds), p=np.asarray(probs) / np.sum(probs))])
    sigma_x = _uniform(rng, getattr(config, "blur_sigma" + suffix))
    sigma_y, theta = sigma_x, 0.0
    if kind.endswith("aniso"):
        sigma_y = _uniform(rng, getattr(config, "blur_sigma" + suffix))
        theta = _uniform(rng, (-math.pi, math.pi))
    beta = 1.0
    if kind.startswith(("generalized", "plateau")):
        family = "betag_range" if kind.startswith("generalized") else "betap_range"
        beta_range = getattr(config, family + suffix)
        # Real-ESRGAN: half the draws below 1 (heavy tails), half above (flat top).
        beta = _uniform(rng, (beta_range[0], 1.0) if rng.uniform() < 0.5 else (1.0, beta_range[1]))
    return KernelParams(kind, size, sigma_x=sigma_x, sigma_y=sigma_y, theta=theta, beta=beta)


def _sample_round(rng: np.random.Generator, config: DegradationConfig, suffix: str,
                  blur: bool) -> RoundParams:
    kernel = _sample_blur(rng, config, suffix)  # drawn even when skipped, as Real-ESRGAN does
    resize_prob = np.asarray(getattr(config, "resize_prob" + suffix), dtype=np.float64)
    direction = ("up", "down", "keep")[int(rng.choice(3, p=resize_prob / resize_prob.sum()))]
    low, high = getattr(config, "resize_range" + suffix)
    if direction == "up":
        scale = _uniform(rng, (1.0, max(1.0, high)))
    elif direction == "down":
        scale = _uniform(rng, (min(low, 1.0), 1.0))
    else:
        scale = 1.0
    mode = str(rng.choice(list(RESIZE_MODES)))
    gaussian = rng.uniform() < getattr(config, "gaussian_noise_prob" + suffix)
    level = _uniform(rng, getattr(config, ("noise_range" if gaussian else "poisson_scale_range") + suffix))
    gray = bool(rng.uniform() < getattr(config, "gray_noise_prob" + suffix))
    quality = int(round(_uniform(rng, getattr(config, "jpeg_range" + suffix))))
    noise_type = "gaussian" if gaussian else "poisson"
    return RoundParams(kernel if blur else None, scale, mode, noise_type, level, gray, quality)


def sample_params(config: DegradationConfig, seed: int, preset: str = "custom") -> DegradationParams:
    """Draw one sequence's parameters; the same (config, seed) always gives the same params."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0,)))
    first = _sample_round(rng, config, "", blur=True)
    second_blur = bool(rng.uniform() < config.second_blur_prob)
    second = _sample_round(rng, config, "2", blur=second_blur)
    final_sinc = None
    size = _sample_kernel_size(rng, config.kernel_range)
    if rng.uniform() < config.final_sinc_prob:
        final_sinc = KernelParams("sinc", size, omega_c=_uniform(rng, (math.pi / 3, math.pi)))
    final_mode = str(rng.choice(list(RESIZE_MODES)))
    jpeg_last = bool(rng.uniform() < config.jpeg_last_prob)
    return DegradationParams(preset, seed, int(config.scale), first, second, final_sinc, final_mode,
                             jpeg_last)


# ----------------------------------------------------------------------------------------- operators


def _to_uint8(image: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def _filter(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    # Reflect-101 padding = torch's "reflect", what Real-ESRGAN's filter2D uses.
    return cv2.filter2D(image, -1, kernel, borderType=cv2.BORDER_REFLECT_101)


def _resize(image: np.ndarray, height: int, width: int, mode: str) -> np.ndarray:
    size = (max(1, int(width)), max(1, int(height)))
    if size == (image.shape[1], image.shape[0]):
        return image
    return cv2.resize(image, size, interpolation=RESIZE_MODES[mode])


# 2^16 equiprobable quantiles of N(0, 1): indexing it with random uint16 draws a normal variate
# (truncated at 4.3 sigma, which 8-bit images cannot tell apart) ~3.5x faster than numpy's ziggurat,
# whose ~13 ms per 768x576x3 frame would otherwise be half of the whole pipeline.
NORMAL_QUANTILES = special.ndtri((np.arange(2**16) + 0.5) / 2**16).astype(np.float32)


def standard_normal(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """float32 N(0, 1) samples of ``shape`` from the quantile table."""
    return NORMAL_QUANTILES[rng.integers(0, 2**16, size=shape, dtype=np.uint16)]


def gaussian_noise(shape: tuple[int, ...], sigma: float, gray: bool, rng: np.random.Generator) -> np.ndarray:
    """Additive N(0, sigma^2) noise in grey levels; ``gray`` shares one draw across the 3 channels."""
    height, width = shape[:2]
    noise = standard_normal(rng, (height, width, 1) if gray else (height, width, 3))
    noise *= np.float32(sigma)
    return np.repeat(noise, 3, axis=2) if gray else noise


def poisson_noise(image: np.ndarray, scale: float, gray: bool, rng: np.random.Generator) -> np.ndarray:
    """Shot noise as Real-ESRGAN models it, returned in grey levels.

    The image is quantised to 8 bits, the number of distinct levels rounded up to a power of two
    (``vals``) is the photon count of full white, counts ~ Poisson(level / 255 * vals), and the
    noise is (counts / vals * 255 - level) * scale.
    """
    source = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if gray else image
    levels = _to_uint8(source)
    distinct = int(np.count_nonzero(np.bincount(levels.ravel(), minlength=256)))
    vals = float(2 ** math.ceil(math.log2(max(distinct, 1))))
    lam_of_level = np.arange(256, dtype=np.float32) * np.float32(vals / 255.0)
    lam = cv2.LUT(levels, lam_of_level)  # a 256-entry table lookup, not 1.3M multiplies
    counts = standard_normal(rng, levels.shape)
    counts *= cv2.LUT(levels, np.sqrt(lam_of_level))
    counts += lam
    np.rint(counts, out=counts)
    dark = lam < POISSON_EXACT_BELOW
    counts[dark] = rng.poisson(lam[dark])
    np.maximum(counts, 0, out=counts)
    noise = (counts * np.float32(255.0 / vals) - levels) * np.float32(scale)
    return np.repeat(noise[..., None], 3, axis=2) if gray else noise


def _add_noise(image: np.ndarray, params: RoundParams, rng: np.random.Generator) -> np.ndarray:
    if params.noise_type == "gaussian":
        image += gaussian_noise(image.shape, params.noise_level, params.gray_noise, rng)
    else:
        image += poisson_noise(image, params.noise_level, params.gray_noise, rng)
    return image


def jpeg_compress(image: np.ndarray, quality: int) -> np.ndarray:
    """Encode and decode at ``quality`` (OpenCV/libjpeg, 4:2:0 chroma as most codecs); returns float32."""
    ok, encoded = cv2.imencode(".jpg", _to_uint8(image), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError("OpenCV failed to JPEG-encode a frame")
    return cv2.imdecode(encoded, cv2.IMREAD_COLOR).astype(np.float32)


# ----------------------------------------------------------------------------------------- degrader


class Degrader:
    """Degrades the frames of ONE sequence with parameters drawn once from ``seed``.

    ``config`` overrides the preset's ranges (``preset`` is then ignored and recorded as "custom").
    """

    def __init__(self, preset: str = "medium", seed: int = 0,
                 config: DegradationConfig | None = None) -> None:
        if config is None:
            if preset not in PRESETS:
                raise ValueError(f"unknown degradation preset {preset!r}; choose one of {', '.join(PRESETS)}")
            config = PRESETS[preset]
        else:
            preset = "custom"
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        self.config = config
        self.seed = int(seed)
        self.params: DegradationParams = sample_params(config, self.seed, preset)
        first, second = self.params.first, self.params.second
        self._kernel1 = build_kernel(first.blur) if first.blur else None
        self._kernel2 = build_kernel(second.blur) if second.blur else None
        self._final_sinc = build_kernel(self.params.final_sinc) if self.params.final_sinc else None

    def frame_rng(self, frame_index: int) -> np.random.Generator:
        """The generator of one frame's noise, independent of every other frame's."""
        if isinstance(frame_index, bool) or not isinstance(frame_index, (int, np.integer)) or frame_index < 0:
            raise ValueError(f"frame_index must be a non-negative integer, got {frame_index!r}")
        return np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(1, int(frame_index))))

    def __call__(self, frame: np.ndarray, frame_index: int) -> np.ndarray:
        """BGR uint8 (H, W, 3) -> degraded BGR uint8 (H, W, 3)."""
        is_bgr = isinstance(frame, np.ndarray) and frame.ndim == 3 and frame.shape[2] == 3
        if not is_bgr or frame.dtype != np.uint8:
            got = getattr(frame, "shape", type(frame).__name__), getattr(frame, "dtype", "")
            raise ValueError(f"expected a BGR uint8 frame of shape (H, W, 3), got {got}")
        rng = self.frame_rng(frame_index)
        height, width = frame.shape[:2]
        p = self.params
        image = frame.astype(np.float32)

        if self._kernel1 is not None:
            image = _filter(image, self._kernel1)
        s1 = p.first.resize_scale
        image = _resize(image, height * s1, width * s1, p.first.resize_mode)
        image = _add_noise(image, p.first, rng)
        image = jpeg_compress(image, p.first.jpeg_quality)

        if self._kernel2 is not None:
            image = _filter(image, self._kernel2)
        s2 = p.second.resize_scale / p.scale
        image = _resize(image, height * s2, width * s2, p.second.resize_mode)
        image = _add_noise(image, p.second, rng)

        if p.jpeg_last:
            image = jpeg_compress(self._resize_and_sinc(image, height, width), p.second.jpeg_quality)
        else:
            image = self._resize_and_sinc(jpeg_compress(image, p.second.jpeg_quality), height, width)
        out = _to_uint8(image)
        if out.shape[:2] != (height, width):
            out = cv2.resize(out, (width, height), interpolation=cv2.INTER_CUBIC)
        return out

    def _resize_and_sinc(self, image: np.ndarray, height: int, width: int) -> np.ndarray:
        p = self.params
        image = _resize(image, height // p.scale, width // p.scale, p.final_resize_mode)
        return image if self._final_sinc is None else _filter(image, self._final_sinc)


# ----------------------------------------------------------------------------------------- sequences


def _write_seqinfo(dst: Path, src: Path | None, name: str, fps: float, length: int, width: int,
                   height: int) -> None:
    parser = configparser.ConfigParser()
    parser.optionxform = str  # keep MOTChallenge's camelCase keys
    if src is not None and (src / "seqinfo.ini").exists():
        parser.read(src / "seqinfo.ini")
    if not parser.has_section("Sequence"):
        parser.add_section("Sequence")
    seq = parser["Sequence"]
    seq.update({"name": name, "imDir": "img1", "frameRate": f"{fps:g}", "seqLength": str(length),
                "imWidth": str(width), "imHeight": str(height), "imExt": ".jpg"})
    with open(dst / "seqinfo.ini", "w") as handle:
        parser.write(handle, space_around_delimiters=False)


def _record(path: Path, degrader: Degrader, src: Path) -> None:
    record = {
        "preset": degrader.params.preset,
        "seed": degrader.seed,
        "source": str(src.resolve()),
        "saved_jpeg_quality": SAVED_JPEG_QUALITY,
        "params": asdict(degrader.params),
        "config": asdict(degrader.config),
    }
    path.write_text(json.dumps(record, indent=2))


def degrade_sequence(src: Path, dst: Path, preset: str, seed: int, progress: bool = True, *,
                     overwrite: bool = False) -> Path:
    """Write a degraded copy of a sequence folder or video; returns ``dst``.

    ``dst`` is a folder (MOTChallenge layout: img1/*.jpg, plus gt/, det/ and seqinfo.ini when the
    source has them, and degradation.json) or a video file (.mp4 etc., with the record written
    beside it as ``<stem>.degradation.json``). Frames are saved as JPEG quality 95 with 4:4:4 chroma:
    the re-encode error (PSNR ~48 dB) is far below the degradation itself (~25 dB for ``medium``),
    files are ~5x smaller than PNG and every MOT loader expects .jpg.
    """
    src, dst = Path(src), Path(dst)
    if not src.exists():
        raise FileNotFoundError(
            f"{src} does not exist: pass a MOTChallenge sequence folder (with img1/) or a video")
    if src.resolve() == dst.resolve():
        raise ValueError(f"output {dst} is the input itself; choose another output path")
    degrader = Degrader(preset, seed)
    source = open_frames(src)
    to_video = dst.suffix.lower() in VIDEO_SUFFIXES
    if to_video and dst.suffix.lower() not in WRITABLE_VIDEO_SUFFIXES:
        raise ValueError(
            f"cannot write {dst.suffix} video; use a folder or one of {sorted(WRITABLE_VIDEO_SUFFIXES)}")
    record_path = dst.with_name(dst.stem + ".degradation.json") if to_video else dst / PARAMS_NAME
    target = dst if to_video else dst / "img1"
    if target.exists() and (to_video or any(target.iterdir())):
        if not overwrite:
            raise FileExistsError(f"{target} already exists; remove it or pass overwrite=True (--overwrite)")
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink()

    info = source.info
    bar = tqdm(total=len(source), disable=not progress, desc=f"degrade {src.name} ({degrader.params.preset})",
               unit="frame")
    writer = None
    try:
        if to_video:
            dst.parent.mkdir(parents=True, exist_ok=True)
            fourcc = cv2.VideoWriter_fourcc(*"mp4v")
            writer = cv2.VideoWriter(str(dst), fourcc, info.fps, (info.width, info.height))
            if not writer.isOpened():
                raise ValueError(f"OpenCV cannot write {dst}; try an .mp4 or .avi path")
        else:
            target.mkdir(parents=True, exist_ok=True)
        for number, frame in source:
            degraded = degrader(frame, number)
            if writer is not None:
                writer.write(degraded)
            else:
                cv2.imwrite(str(target / f"{number:06d}.jpg"), degraded,
                            [cv2.IMWRITE_JPEG_QUALITY, SAVED_JPEG_QUALITY,
                             cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444])
            bar.update(1)
    finally:
        bar.close()
        if writer is not None:
            writer.release()

    if not to_video:
        for folder in ("gt", "det"):
            if (src / folder).is_dir():
                shutil.copytree(src / folder, dst / folder, dirs_exist_ok=True)
        _write_seqinfo(dst, src if src.is_dir() else None, dst.name, info.fps, len(source), info.width,
                       info.height)
    _record(record_path, degrader, src)
    return dst


def _link_or_copy(src: Path, dst: Path, overwrite: bool) -> None:
    """The HQ member of a mixed set: a symlink (cheap, obviously the original), a copy where links fail."""
    if dst.is_symlink() and dst.resolve() == src.resolve():
        return
    if dst.exists() or dst.is_symlink():
        if not overwrite:
            raise FileExistsError(f"{dst} already exists; remove it or pass overwrite=True (--overwrite)")
        if dst.is_symlink() or dst.is_file():
            dst.unlink()
        else:
            shutil.rmtree(dst)
    try:
        dst.symlink_to(src.resolve(), target_is_directory=True)
    except OSError:
        shutil.copytree(src, dst)


def build_mixed_set(sequences: list[Path], out_dir: Path, lq_per_hq: int = 2, preset: str = "medium",
                    seed: int = 0, progress: bool = True, *, overwrite: bool = False) -> list[Path]:
    """The paper's mixed training set (LQ:HQ = 2:1 is best, Table VI): each HQ sequence plus degraded copies.

    Copy k of sequence i gets seed ``seed + i * lq_per_hq + k``, so every LQ sequence has its own
    camera/codec. Writes ``out_dir/manifest.json`` and returns the sequence folders (HQ, then its LQ
    copies, per input).
    """
    if isinstance(lq_per_hq, bool) or not isinstance(lq_per_hq, int) or lq_per_hq < 0:
        raise ValueError(f"lq_per_hq must be a non-negative integer, got {lq_per_hq!r}")
    if preset not in PRESETS:
        raise ValueError(f"unknown degradation preset {preset!r}; choose one of {', '.join(PRESETS)}")
    sources = [Path(s) for s in sequences]
    if not sources:
        raise ValueError("give at least one MOTChallenge sequence folder")
    for src in sources:
        if not src.exists():
            raise FileNotFoundError(f"{src} does not exist")
        if not (src / "img1").is_dir():
            raise ValueError(f"{src} is not a MOTChallenge sequence folder (no img1/); a mixed set needs gt")
    names = [s.resolve().name for s in sources]
    if len(set(names)) != len(names):
        raise ValueError(f"sequence folder names must be unique, got {names}")

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    entries: list[dict] = []
    paths: list[Path] = []
    for index, (src, name) in enumerate(zip(sources, names)):
        hq = out_dir / name
        _link_or_copy(src, hq, overwrite)
        paths.append(hq)
        entries.append({"name": name, "path": name, "quality": "hq", "source": str(src.resolve()),
                        "preset": None, "seed": None})
        for copy in range(lq_per_hq):
            copy_seed = seed + index * lq_per_hq + copy
            lq_name = f"{name}-{preset}-seed{copy_seed}"
            paths.append(degrade_sequence(src, out_dir / lq_name, preset, copy_seed, progress,
                                          overwrite=overwrite))
            entries.append({"name": lq_name, "path": lq_name, "quality": "lq", "source": str(src.resolve()),
                            "preset": preset, "seed": copy_seed})
    manifest = {"lq_per_hq": lq_per_hq, "preset": preset, "seed": seed, "sequences": entries}
    (out_dir / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2))
    return paths

"""Frame quality assessment for DSWR (paper Sec. III-C, "Frame Quality Assessment").

The paper computes clarity (Laplacian variance), noise (high-frequency analysis) and contrast
(intensity standard deviation) on the grayscale frame, normalises them and combines them into a
score Q in [0, 1], lower = worse. It gives no formulas for the normalisation or the combination, so
this module fixes them and documents why.

Working resolution. The gray frame is box-resampled (OpenCV ``INTER_AREA``) so its SHORT side is
``short_side`` = 288 px (768x576 -> 384x288, 1920x1080 -> 512x288). Laplacian and noise energy
depend strongly on scale, so without this a 4K frame and its 480p copy would score differently;
288 px also keeps the cost at ~1-2 ms per frame on one CPU core.

Raw measures (on that 288 px gray image, intensities 0..255):

- noise    = robust sigma of the residual of Immerkaer's kernel [[1,-2,1],[-2,4,-2],[1,-2,1]],
  which cancels smooth image structure: sigma = 1.4826 * median(|residual|) / 6 (6 = the kernel's
  L2 norm, so for i.i.d. Gaussian noise this estimates its sigma; the median ignores sparse edges).
- clarity  = variance of the 4-neighbour Laplacian MINUS the share that noise of that sigma
  contributes to it, 20 * sigma^2 (20 = sum of the squared Laplacian weights), floored at 0. A
  plain Laplacian variance rewards noise (PETS09: 1340 clean -> 3160 at noise sigma 30); the
  corrected one measures the detail of the underlying image and drifts slightly DOWN with noise
  (1290 -> 1020 at sigma 30), while it falls by decades with blur or lost resolution.
- contrast = standard deviation of the intensities.

Normalisation. Each raw value x goes through the saturating log map
``n(x) = min(log1p(x / scale) / log1p(saturation / scale), 1)``: linear for x << scale,
logarithmic above (blur changes Laplacian energy by decades), exactly 1 at ``saturation``.
Noise first has ``noise_floor`` subtracted: clean PETS09 frames already read 1.57 +- 0.04 (video
compression, fine texture), and a mild blur removes that, so counting it would make a blurred frame
look better than the original.

Combination. ``Q = (w_clarity * clarity + w_contrast * contrast) * (1 - noise)``
(weights sum to 1). Noise is a multiplicative penalty, so a sharp but very noisy frame cannot score
high and a flat grey frame (clarity = contrast = 0) scores exactly 0.

Calibration (PETS09-S2L1, 20 frames spread over the sequence, mean +- std of the raw values;
blur = Gaussian sigma in px at 768x576, noise = Gaussian sigma per BGR channel, JPEG = quality;
mild..realesrgan = the presets of model/degrade.py, seed 0):

    condition        clarity        noise          contrast      mean Q
    clean            1290 +- 40     1.57 +- 0.04   52.1 +- 0.7   0.79
    blur 0.5         942 +- 30      1.22 +- 0.03   51.8 +- 0.7   0.75
    blur 1           375 +- 13      0.54 +- 0.01   51.0 +- 0.7   0.64
    blur 2           71.2 +- 2.9    0.17           49.6 +- 0.7   0.45
    blur 4           7.8 +- 0.4     0.10           47.6 +- 0.8   0.29
    blur 8           0.79 +- 0.04   0.09           44.7 +- 0.8   0.24
    noise 5          1250 +- 40     2.62 +- 0.02   52.1 +- 0.7   0.73
    noise 15         1150 +- 40     5.67 +- 0.03   52.0 +- 0.7   0.50
    noise 30         1020 +- 41     10.3 +- 0.06   51.9 +- 0.7   0.28
    noise 50         891 +- 38      16.0 +- 0.1    51.2 +- 0.6   0.12
    JPEG 50          1280 +- 38     1.64 +- 0.06   52.0 +- 0.7   0.79
    JPEG 5           1330 +- 41     0.00           51.9 +- 0.7   0.80
    contrast x0.3    116 +- 4       0.49 +- 0.01   15.6 +- 0.2   0.35
    flat grey        0              0              0             0.00
    mild             1190 +- 37     1.88 +- 0.04   52.0 +- 0.7   0.78
    medium           370 +- 12      0.66 +- 0.01   51.1 +- 0.7   0.64
    severe           28.4 +- 2.0    0.11           51.6 +- 0.7   0.37
    realesrgan       38.7 +- 1.7    0.12           53.3 +- 0.7   0.40

Constants chosen from that table: ``clarity_saturation`` = 5000 (clean frames map to ~0.76, not
to the ceiling, so even mild blurs lower Q), ``clarity_scale`` = 20 (about the detail left after a
sigma-4 blur: below it the map is linear, so heavy blur and flat frames go to ~0);
``noise_floor`` = 2 (just above the clean 1.57), ``noise_scale`` = 4, ``noise_saturation`` = 20
(a floor-corrected sigma of 20 at 288 px, roughly per-channel noise sigma 65 at 768x576, is pure
noise); ``contrast_scale`` = 32, ``contrast_saturation`` = 64 (a std of 64 is a well-exposed
frame). With them Q decreases monotonically along blur sigma 0..8 and noise sigma 0..50 on each of
32 frames spread over PETS09-S2L1. Other clean footage: TUD-Stadtmitte 0.68, MOT17-02 0.76,
MOT17-04 0.65, the Intel sample video (768x432) 0.58. The Real-ESRGAN presets mostly remove
resolution (their noise is added at low resolution, then upsampled and JPEG-compressed, so little
of it survives at pixel level) and Q sees that through clarity. JPEG alone barely moves any measure at 288 px (8 px
blocks become 4 px), so Q does not detect compression; that is left to the learned DSWR weight.

Cost: ``assess_frame`` ~1 ms per 768x576 frame on one CPU core (~5-8 ms at 1920x1080, mostly the
float colour conversion of the full frame).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

LAPLACIAN_KERNEL = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=np.float32)
IMMERKAER_KERNEL = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float32)
IMMERKAER_NORM = 6.0  # sqrt(sum(IMMERKAER_KERNEL ** 2)): residual std per unit of noise sigma
LAPLACIAN_NOISE_GAIN = 20.0  # sum(LAPLACIAN_KERNEL ** 2): Laplacian variance per unit of noise variance
MAD_TO_SIGMA = 1.4826  # MAD of a Gaussian times this is its standard deviation


@dataclass
class QualityConfig:
    """Normalisation constants and combination weights; see the module docstring for the calibration.

    Raw units: intensities 0..255 on the gray frame resampled to ``short_side`` px.
    """

    short_side: int = 288
    clarity_scale: float = 20.0
    clarity_saturation: float = 5000.0
    noise_floor: float = 2.0
    noise_scale: float = 4.0
    noise_saturation: float = 20.0
    contrast_scale: float = 32.0
    contrast_saturation: float = 64.0
    w_clarity: float = 0.7
    w_contrast: float = 0.3

    def __post_init__(self) -> None:
        if self.short_side < 4:
            raise ValueError(f"short_side must be at least 4 px, got {self.short_side}")
        for name in ("clarity", "noise", "contrast"):
            scale, saturation = getattr(self, f"{name}_scale"), getattr(self, f"{name}_saturation")
            if scale <= 0 or saturation <= 0:
                raise ValueError(f"{name}_scale and {name}_saturation must be positive")
        if self.w_clarity < 0 or self.w_contrast < 0 or not math.isclose(self.w_clarity + self.w_contrast, 1):
            raise ValueError("w_clarity and w_contrast must be non-negative and sum to 1")


@dataclass
class QualityScores:
    """Normalised quality measures, each in [0, 1].

    Attributes:
        clarity: sharpness; 1 = as sharp as ``clarity_saturation``.
        noise: noise level; HIGHER = noisier (it counts against ``q``).
        contrast: intensity spread.
        q: combined quality Q, lower = worse; the input to DSWR (eq. 13).
    """

    clarity: float
    noise: float
    contrast: float
    q: float


def saturating_log(x: float, scale: float, saturation: float) -> float:
    """Map a non-negative raw measure to [0, 1]: ``min(log1p(x/scale) / log1p(saturation/scale), 1)``."""
    return min(math.log1p(max(x, 0.0) / scale) / math.log1p(saturation / scale), 1.0)


def working_size(height: int, width: int, short_side: int) -> tuple[int, int]:
    """(height, width) after scaling so the short side is ``short_side``, aspect kept."""
    scale = short_side / min(height, width)
    return max(round(height * scale), 3), max(round(width * scale), 3)


# ----------------------------------------------------------------------------- numpy reference


def _valid_filter(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """3x3 correlation keeping only the pixels whose whole neighbourhood is inside the image."""
    if min(image.shape) < 3:
        raise ValueError(f"need at least a 3x3 image, got {image.shape}")
    return cv2.filter2D(image, cv2.CV_32F, kernel)[1:-1, 1:-1]


def laplacian_variance(gray: np.ndarray) -> float:
    """Population variance of the 4-neighbour Laplacian over the valid region."""
    _, std = cv2.meanStdDev(_valid_filter(np.asarray(gray, dtype=np.float32), LAPLACIAN_KERNEL))
    return float(std[0, 0]) ** 2


def _median(values: np.ndarray) -> float:
    """Median (mean of the two middle values for even counts) from one O(n) partition.

    np.median gives the same number but is ~8x slower here, and this runs once per frame.
    """
    values = values.ravel()
    middle = (values.size - 1) // 2
    parted = np.partition(values, middle)
    lower = float(parted[middle])
    return lower if values.size % 2 else (lower + float(parted[middle + 1 :].min())) / 2


def noise_sigma(gray: np.ndarray) -> float:
    """Robust noise sigma: 1.4826 * median(|Immerkaer residual|) / 6.

    The kernel sums to zero, so the residual of noise-free smooth structure is ~0 and its median
    absolute value measures the noise (Donoho's estimator); edges are too sparse to move the median.
    """
    residual = _valid_filter(np.asarray(gray, dtype=np.float32), IMMERKAER_KERNEL)
    return MAD_TO_SIGMA * _median(np.abs(residual)) / IMMERKAER_NORM


def clarity_energy(laplacian_var: float, sigma: float) -> float:
    """Laplacian variance of the underlying image: the measured one minus i.i.d. noise's share."""
    return max(laplacian_var - LAPLACIAN_NOISE_GAIN * sigma**2, 0.0)


def contrast_std(gray: np.ndarray) -> float:
    """Population standard deviation of the intensities."""
    _, std = cv2.meanStdDev(np.asarray(gray, dtype=np.float32))
    return float(std[0, 0])


def to_working_gray(frame: np.ndarray, short_side: int = 288) -> np.ndarray:
    """BGR (H,W,3) or gray (H,W) / (H,W,1), uint8 or float 0..255 -> float32 gray at the working size."""
    frame = np.asarray(frame)
    if frame.ndim == 3 and frame.shape[2] == 1:
        frame = frame[:, :, 0]
    if frame.ndim == 3 and frame.shape[2] == 3:
        gray = cv2.cvtColor(frame.astype(np.float32), cv2.COLOR_BGR2GRAY)
    elif frame.ndim == 2:
        gray = frame.astype(np.float32)
    else:
        raise ValueError(f"expected a BGR (H, W, 3) or gray (H, W) frame, got shape {frame.shape}")
    if min(gray.shape) < 3:
        raise ValueError(f"frame of shape {frame.shape} is too small to assess; it needs at least 3x3 pixels")
    if frame.dtype.kind == "f" and not np.isfinite(gray).all():
        raise ValueError("frame holds NaN or infinite values; pass decoded pixels (0..255)")
    height, width = working_size(*gray.shape, short_side)
    return cv2.resize(gray, (width, height), interpolation=cv2.INTER_AREA)


def raw_measures(frame: np.ndarray, config: QualityConfig | None = None) -> tuple[float, float, float]:
    """Unnormalised (clarity, noise sigma, contrast std): 0..255 gray units at the working size."""
    config = config or QualityConfig()
    gray = to_working_gray(frame, config.short_side)
    sigma = noise_sigma(gray)
    return clarity_energy(laplacian_variance(gray), sigma), sigma, contrast_std(gray)


def assess_frame(frame: np.ndarray, config: QualityConfig | None = None) -> QualityScores:
    """Quality of one frame (BGR uint8 or gray): computed with OpenCV and numpy."""
    config = config or QualityConfig()
    clarity_raw, noise_raw, contrast_raw = raw_measures(frame, config)
    clarity = saturating_log(clarity_raw, config.clarity_scale, config.clarity_saturation)
    noise = saturating_log(noise_raw - config.noise_floor, config.noise_scale, config.noise_saturation)
    contrast = saturating_log(contrast_raw, config.contrast_scale, config.contrast_saturation)
    q = (config.w_clarity * clarity + config.w_contrast * contrast) * (1.0 - noise)
    return QualityScores(clarity=clarity, noise=noise, contrast=contrast, q=q)

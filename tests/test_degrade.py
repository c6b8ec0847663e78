"""Tests for model/vsd/degrade.py: kernels and noise against hand-computed values, the per-sequence
sampling contract, preset strength on real PETS09 frames, and the sequence / mixed-set / CLI outputs."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from dataclasses import asdict, replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from model.cli import main as cli_main
from model.vsd import degrade
from model.vsd.degrade import (
    PRESETS,
    DegradationConfig,
    Degrader,
    KernelParams,
    build_kernel,
    build_mixed_set,
    degrade_sequence,
    gaussian_kernel,
    gaussian_noise,
    generalized_gaussian_kernel,
    jpeg_compress,
    plateau_kernel,
    poisson_noise,
    sample_params,
    sinc_kernel,
)
from model.core.settings import PROJECT_ROOT
from model.data.video import open_frames

C = 3  # centre index of the 7x7 test kernels


# ------------------------------------------------------------------------------------ kernels


def test_isotropic_gaussian_centre_neighbour_ratios() -> None:
    kernel = gaussian_kernel(7, 1.0)
    assert kernel.shape == (7, 7) and kernel.dtype == np.float32
    assert kernel.sum() == pytest.approx(1.0, abs=1e-6)
    # sigma = 1: a 4-neighbour is exp(-1/2) of the centre, a diagonal neighbour exp(-1).
    assert kernel[C, C + 1] / kernel[C, C] == pytest.approx(0.6065307, rel=1e-5)
    assert kernel[C + 1, C + 1] / kernel[C, C] == pytest.approx(0.3678794, rel=1e-5)
    # sigma = 2: exp(-1 / (2 * 4)) = exp(-1/8).
    wide = gaussian_kernel(7, 2.0)
    assert wide[C - 1, C] / wide[C, C] == pytest.approx(0.8824969, rel=1e-5)
    np.testing.assert_allclose(kernel, kernel.T, atol=1e-8)
    np.testing.assert_allclose(kernel, kernel[::-1, ::-1], atol=1e-8)


def test_anisotropic_gaussian_axes_follow_theta() -> None:
    # sigma_x = 2 along columns, sigma_y = 1 along rows.
    kernel = gaussian_kernel(7, 2.0, 1.0, theta=0.0)
    assert kernel[C, C + 1] / kernel[C, C] == pytest.approx(0.8824969, rel=1e-5)  # exp(-1/8)
    assert kernel[C + 1, C] / kernel[C, C] == pytest.approx(0.6065307, rel=1e-5)  # exp(-1/2)
    # A quarter turn swaps the axes.
    np.testing.assert_allclose(gaussian_kernel(7, 2.0, 1.0, theta=math.pi / 2), kernel.T, atol=1e-6)
    # Rotated by 45 degrees the long (sigma_x) axis is the diagonal x = y.
    diagonal = gaussian_kernel(7, 2.0, 1.0, theta=math.pi / 4)
    # offset (x=1, y=1) lies on the sigma_x axis at distance sqrt(2): q = 2 / 4 -> exp(-1/4).
    assert diagonal[C + 1, C + 1] / diagonal[C, C] == pytest.approx(math.exp(-0.25), rel=1e-5)
    # offset (x=1, y=-1) is across it: q = 2 / 1 -> exp(-1).
    assert diagonal[C - 1, C + 1] / diagonal[C, C] == pytest.approx(math.exp(-1.0), rel=1e-5)


def test_generalized_gaussian_shape_parameter() -> None:
    # sigma = 2, neighbour: q = 1/4; exp(-(q ** beta) / 2).
    flat = generalized_gaussian_kernel(7, 2.0, 2.0, 0.0, beta=2.0)
    assert flat[C, C + 1] / flat[C, C] == pytest.approx(0.9692332, rel=1e-5)  # exp(-1/32)
    heavy = generalized_gaussian_kernel(7, 2.0, 2.0, 0.0, beta=0.5)
    assert heavy[C, C + 1] / heavy[C, C] == pytest.approx(0.7788008, rel=1e-5)  # exp(-1/4)
    plain = generalized_gaussian_kernel(7, 2.0, 2.0, 0.0, beta=1.0)
    np.testing.assert_allclose(plain, gaussian_kernel(7, 2.0), atol=1e-7)
    assert flat.sum() == pytest.approx(1.0, abs=1e-6)


def test_plateau_kernel_values() -> None:
    # sigma = 1: 1 / (q ** beta + 1); neighbour q = 1, two steps q = 4.
    kernel = plateau_kernel(7, 1.0, 1.0, 0.0, beta=1.0)
    assert kernel[C, C + 1] / kernel[C, C] == pytest.approx(0.5, rel=1e-5)
    assert kernel[C + 2, C] / kernel[C, C] == pytest.approx(0.2, rel=1e-5)
    steep = plateau_kernel(7, 1.0, 1.0, 0.0, beta=2.0)
    assert steep[C, C - 2] / steep[C, C] == pytest.approx(1 / 17, rel=1e-5)
    assert kernel.sum() == pytest.approx(1.0, abs=1e-6)


def test_sinc_kernel_centre_limit_and_ringing() -> None:
    # omega_c = pi: centre omega^2 / (4 pi) = pi / 4 = 0.785398; r = 1: omega J1(omega) / (2 pi) = J1(pi) / 2
    # with J1(pi) = 0.2846153, so centre / neighbour = 0.785398 / 0.1423077 = 5.519015.
    kernel = sinc_kernel(7, math.pi)
    assert kernel[C, C] / kernel[C, C + 1] == pytest.approx(5.519015, rel=1e-5)
    # r = 2: J1(2 pi) = -0.2123825 < 0, the negative lobe that makes ringing.
    assert kernel[C, C + 2] / kernel[C, C] == pytest.approx((-0.2123825 / 4) / 0.7853982, rel=1e-5)
    assert kernel.sum() == pytest.approx(1.0, abs=1e-6)
    np.testing.assert_allclose(kernel, kernel.T, atol=1e-8)


@pytest.mark.parametrize("preset", list(PRESETS))
def test_sampled_kernels_are_normalised_point_symmetric_and_in_range(preset: str) -> None:
    config = PRESETS[preset]
    for seed in range(25):
        params = sample_params(config, seed, preset)
        for kernel_params in (params.first.blur, params.second.blur, params.final_sinc):
            if kernel_params is None:
                continue
            kernel = build_kernel(kernel_params)
            low, high = config.kernel_range
            assert kernel.shape == (kernel_params.size,) * 2
            assert low <= kernel_params.size <= high and kernel_params.size % 2 == 1
            assert kernel.sum() == pytest.approx(1.0, abs=1e-5)
            np.testing.assert_allclose(kernel, kernel[::-1, ::-1], atol=1e-7)


def test_kernel_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="odd"):
        gaussian_kernel(6, 1.0)
    with pytest.raises(ValueError, match="positive"):
        gaussian_kernel(7, 0.0)
    with pytest.raises(ValueError, match="unknown kernel"):
        build_kernel(KernelParams("box", 7))


# ------------------------------------------------------------------------------------ noise and JPEG


def test_quantile_table_draws_standard_normal_variates() -> None:
    table = degrade.NORMAL_QUANTILES
    np.testing.assert_allclose(table, -table[::-1], atol=1e-6)  # symmetric about 0
    assert table[-1] == pytest.approx(4.33, abs=0.01)  # largest quantile: ndtri(1 - 0.5 / 65536)
    z = degrade.standard_normal(np.random.default_rng(0), (400_000,))
    assert abs(z.mean()) < 0.01 and z.std() == pytest.approx(1.0, abs=0.01)
    assert np.mean(np.abs(z) > 1.96) == pytest.approx(0.05, abs=0.002)  # the two-sided 5% tail


def test_gaussian_noise_level_and_gray_sharing() -> None:
    rng = np.random.default_rng(0)
    colour = gaussian_noise((300, 300, 3), 10.0, False, rng)
    assert colour.std() == pytest.approx(10.0, rel=0.02)
    assert not np.array_equal(colour[..., 0], colour[..., 1])
    gray = gaussian_noise((300, 300, 3), 10.0, True, rng)
    assert np.array_equal(gray[..., 0], gray[..., 2]) and gray.std() == pytest.approx(10.0, rel=0.02)


def test_poisson_noise_follows_photon_statistics() -> None:
    # A ramp with all 256 levels -> vals = 256 photons for white; level k has lambda = k / 255 * 256 and
    # noise std 255 / 256 * sqrt(lambda): k = 128 -> 11.29 (normal branch), k = 5 -> 2.232 (exact branch).
    ramp = np.tile(np.arange(256, dtype=np.float32)[None, :, None], (3000, 1, 3))
    noise = poisson_noise(ramp, 1.0, False, np.random.default_rng(1))
    assert noise[:, 128, 0].std() == pytest.approx(11.29, rel=0.04)
    assert noise[:, 5, 1].std() == pytest.approx(2.232, rel=0.04)
    counts = (noise[:, 5, 1] + 5) * 256 / 255  # noise = count * 255 / 256 - level, counts are whole photons
    np.testing.assert_allclose(counts, np.rint(counts), atol=1e-3)
    assert abs(noise[:, 128, 2].mean()) < 0.5
    half = poisson_noise(ramp, 0.5, True, np.random.default_rng(1))
    assert half[:, 128, 0].std() == pytest.approx(11.29 / 2, rel=0.04)
    assert np.array_equal(half[..., 0], half[..., 1])


def test_poisson_photon_count_comes_from_the_number_of_levels() -> None:
    # Only levels 0 and 255 -> vals = 2: white has lambda = 2 and noise (count * 127.5 - 255),
    # std 127.5 * sqrt(2) = 180.3.
    image = np.zeros((200, 200, 3), np.float32)
    image[:, 100:] = 255
    noise = poisson_noise(image, 1.0, False, np.random.default_rng(2))
    assert np.all(noise[:, :100] == 0)
    assert noise[:, 100:].std() == pytest.approx(180.3, rel=0.03)
    assert set(np.unique(noise[:, 100:])) <= {-255 + 127.5 * k for k in range(20)}


def test_lower_jpeg_quality_loses_more() -> None:
    rng = np.random.default_rng(3)
    image = cv2.GaussianBlur(rng.uniform(0, 255, (64, 64, 3)).astype(np.float32), (5, 5), 1.5)
    errors = [np.abs(jpeg_compress(image, q) - np.rint(image)).mean() for q in (95, 60, 20)]
    assert errors[0] < errors[1] < errors[2]


# ------------------------------------------------------------------------------------ the degrader contract


def _synthetic_frame(height: int = 96, width: int = 128, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (height // 8 + 1, width // 8 + 1, 3), dtype=np.uint8)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_NEAREST)


def test_same_seed_gives_byte_identical_output_and_different_seed_differs() -> None:
    frame = _synthetic_frame()
    first, again = Degrader("medium", 7)(frame, 3), Degrader("medium", 7)(frame, 3)
    assert first.tobytes() == again.tobytes()
    other = Degrader("medium", 8)
    assert asdict(other.params) != asdict(Degrader("medium", 7).params)
    assert not np.array_equal(other(frame, 3), first)


@pytest.mark.parametrize("preset", list(PRESETS))
@pytest.mark.parametrize("shape", [(101, 77), (9, 13), (576, 768)])
def test_output_keeps_shape_and_dtype(preset: str, shape: tuple[int, int]) -> None:
    frame = _synthetic_frame(*shape)
    for seed in (0, 1):
        out = Degrader(preset, seed)(frame, 1)
        assert out.shape == frame.shape and out.dtype == np.uint8


def test_parameters_are_per_sequence_and_only_noise_changes_per_frame() -> None:
    frame = _synthetic_frame()
    degrader = Degrader("medium", 4)
    before = asdict(degrader.params)
    frame1, frame2 = degrader(frame, 1), degrader(frame, 2)
    assert asdict(degrader.params) == before == asdict(Degrader("medium", 4).params)
    assert not np.array_equal(frame1, frame2)  # a new noise realisation
    # Any frame reproduces on its own, whatever was degraded before it.
    assert np.array_equal(Degrader("medium", 4)(frame, 2), frame2)
    # Without noise, the per-frame randomness is gone: two frame indices give the same output.
    silent = replace(PRESETS["medium"], noise_range=(0.0, 0.0), poisson_scale_range=(0.0, 0.0),
                     noise_range2=(0.0, 0.0), poisson_scale_range2=(0.0, 0.0))
    quiet = Degrader(config=silent, seed=4)
    assert quiet.params.preset == "custom"
    assert np.array_equal(quiet(frame, 1), quiet(frame, 2))


def test_params_are_json_serialisable() -> None:
    params = Degrader("realesrgan", 5).params
    assert json.loads(json.dumps(asdict(params))) == asdict(params)


def test_user_errors_get_clear_messages() -> None:
    with pytest.raises(ValueError, match="unknown degradation preset 'ugly'.*medium"):
        Degrader("ugly")
    with pytest.raises(ValueError, match="non-negative"):
        Degrader("medium", seed=-1)
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        Degrader("medium")(np.zeros((10, 10), np.uint8), 1)
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        Degrader("medium")(np.zeros((10, 10, 3), np.float32), 1)
    with pytest.raises(ValueError, match="frame_index"):
        Degrader("medium")(np.zeros((10, 10, 3), np.uint8), -1)
    with pytest.raises(ValueError, match="kernel_range"):
        DegradationConfig(kernel_range=(6, 21))
    with pytest.raises(ValueError, match="kernel_prob"):
        DegradationConfig(kernel_prob=(0.5, 0.5, 0.5, 0, 0, 0))
    with pytest.raises(ValueError, match="jpeg_range"):
        DegradationConfig(jpeg_range=(0.0, 95.0))


def test_presets_are_ordered_in_their_ranges() -> None:
    mild, medium, severe = PRESETS["mild"], PRESETS["medium"], PRESETS["severe"]
    assert mild.scale < medium.scale < severe.scale
    for name in ("blur_sigma", "noise_range", "poisson_scale_range", "blur_sigma2", "noise_range2",
                 "poisson_scale_range2", "jpeg_range", "jpeg_range2"):
        low, high = zip(getattr(mild, name), getattr(medium, name), getattr(severe, name))
        if name.startswith("jpeg"):  # lower quality is stronger
            low, high = tuple(-v for v in high), tuple(-v for v in low)
        assert low[0] <= low[1] <= low[2] and high[0] < high[1] < high[2], name
    assert mild.jpeg_range[0] >= medium.jpeg_range[1] and medium.jpeg_range[0] >= severe.jpeg_range[1]


def test_realesrgan_preset_has_the_published_ranges() -> None:
    config = PRESETS["realesrgan"]
    assert config.kernel_prob == (0.45, 0.25, 0.12, 0.03, 0.12, 0.03)
    assert (config.blur_sigma, config.blur_sigma2) == ((0.2, 3.0), (0.2, 1.5))
    assert (config.resize_prob, config.resize_range) == ((0.2, 0.7, 0.1), (0.15, 1.5))
    assert (config.resize_prob2, config.resize_range2) == ((0.3, 0.4, 0.3), (0.3, 1.2))
    assert (config.noise_range, config.noise_range2) == ((1.0, 30.0), (1.0, 25.0))
    assert (config.poisson_scale_range, config.poisson_scale_range2) == ((0.05, 3.0), (0.05, 2.5))
    assert (config.jpeg_range, config.jpeg_range2) == ((30.0, 95.0), (30.0, 95.0))
    assert (config.second_blur_prob, config.final_sinc_prob, config.scale) == (0.8, 0.8, 4)


# ------------------------------------------------------------------------------------ real frames


def _mean_psnr(preset: str, frames: list[np.ndarray], seeds: range) -> float:
    return float(np.mean([cv2.PSNR(Degrader(preset, s)(f, i + 1), f)
                          for s in seeds for i, f in enumerate(frames)]))


@pytest.mark.shared
def test_presets_get_stronger_on_real_frames(real_frames: list[np.ndarray]) -> None:
    psnr = {preset: _mean_psnr(preset, real_frames, range(3)) for preset in ("mild", "medium", "severe")}
    # Measured: ~31 / ~25.5 / ~21.5 dB.
    assert psnr["mild"] > psnr["medium"] + 2 > psnr["severe"] + 4


def _denoised_sharpness(frame: np.ndarray) -> float:
    gray = cv2.medianBlur(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), 3)
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


@pytest.mark.shared
def test_medium_clearly_blurs_real_frames(real_frames: list[np.ndarray]) -> None:
    for seed in range(2):
        degrader = Degrader("medium", seed)
        degraded = [degrader(f, i + 1) for i, f in enumerate(real_frames)]
        before = np.mean([_denoised_sharpness(f) for f in real_frames])
        after = np.mean([_denoised_sharpness(f) for f in degraded])
        assert after < 0.3 * before  # measured ~355 -> 15..55
        assert np.mean([cv2.PSNR(d, f) for d, f in zip(degraded, real_frames)]) < 30


@pytest.mark.shared
def test_medium_lowers_the_dswr_quality_score(real_frames: list[np.ndarray]) -> None:
    quality = pytest.importorskip("model.vsd.quality")
    before = np.mean([quality.assess_frame(f).q for f in real_frames])
    after = np.mean([quality.assess_frame(Degrader("medium", s)(f, i + 1)).q
                     for s in range(3) for i, f in enumerate(real_frames)])
    assert after < before - 0.03  # measured 0.77 -> ~0.70


# ------------------------------------------------------------------------------------ sequences, mixing, CLI


def _synthetic_sequence(root: Path, name: str, frames: int = 3) -> Path:
    folder = root / name
    (folder / "img1").mkdir(parents=True)
    (folder / "gt").mkdir()
    for number in range(1, frames + 1):
        cv2.imwrite(str(folder / "img1" / f"{number:06d}.jpg"), _synthetic_frame(48, 64, number))
    (folder / "gt" / "gt.txt").write_text("1,1,10,10,20,30,1,1,1\n2,1,11,10,20,30,1,1,1\n")
    (folder / "seqinfo.ini").write_text(
        f"[Sequence]\nname={name}\nimDir=img1\nframeRate=10\nseqLength={frames}\n"
        "imWidth=64\nimHeight=48\nimExt=.jpg\n")
    return folder


@pytest.fixture
def pets_head(pets_dir: Path, tmp_path: Path) -> Path:
    """The first 5 PETS09 frames as a small sequence (frames linked, annotations copied)."""
    head = tmp_path / "PETS09-head"
    (head / "img1").mkdir(parents=True)
    for number in range(1, 6):
        (head / "img1" / f"{number:06d}.jpg").symlink_to(pets_dir / "img1" / f"{number:06d}.jpg")
    for folder in ("gt", "det"):
        shutil.copytree(pets_dir / folder, head / folder)
    ini = (pets_dir / "seqinfo.ini").read_text().replace("seqLength=795", "seqLength=5")
    (head / "seqinfo.ini").write_text(ini)
    return head


@pytest.mark.shared
def test_cli_degrades_a_real_sequence(pets_head: Path, tmp_path: Path) -> None:
    out = tmp_path / "PETS09-head-medium"
    result = subprocess.run(
        [sys.executable, "-m", "model", "degrade", str(pets_head), "--preset", "medium", "--seed", "3",
         "--output", str(out), "--quiet"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    images = sorted((out / "img1").glob("*.jpg"))
    assert [p.name for p in images] == [f"{n:06d}.jpg" for n in range(1, 6)]
    assert (out / "gt" / "gt.txt").read_bytes() == (pets_head / "gt" / "gt.txt").read_bytes()
    assert (out / "det" / "det.txt").read_bytes() == (pets_head / "det" / "det.txt").read_bytes()
    record = json.loads((out / "degradation.json").read_text())
    assert (record["preset"], record["seed"]) == ("medium", 3)
    assert record["params"] == asdict(Degrader("medium", 3).params)
    info = open_frames(out).info
    assert (info.name, info.num_frames, info.width, info.height) == (out.name, 5, 768, 576)
    # Frame n on disk is Degrader(frame n, n) up to the quality-95 save.
    original = cv2.imread(str(pets_head / "img1" / "000004.jpg"))
    assert cv2.PSNR(cv2.imread(str(images[3])), Degrader("medium", 3)(original, 4)) > 40


def test_sequence_to_video_and_back(tmp_path: Path) -> None:
    source = _synthetic_sequence(tmp_path, "synth", frames=4)
    video = degrade_sequence(source, tmp_path / "out" / "synth.mp4", "mild", 0, progress=False)
    decoded = list(open_frames(video))
    assert len(decoded) == 4 and decoded[0][1].shape == (48, 64, 3)
    assert json.loads((tmp_path / "out" / "synth.degradation.json").read_text())["preset"] == "mild"
    # A video source becomes a sequence folder with a generated seqinfo.ini (no gt to copy).
    folder = degrade_sequence(video, tmp_path / "from-video", "severe", 1, progress=False)
    info = open_frames(folder).info
    assert (info.num_frames, info.width, info.height, info.fps) == (4, 64, 48, 10.0)
    assert not (folder / "gt").exists() and (folder / "degradation.json").exists()


def test_degrade_sequence_refuses_to_clobber(tmp_path: Path) -> None:
    source = _synthetic_sequence(tmp_path, "synth")
    out = degrade_sequence(source, tmp_path / "lq", "medium", 0, progress=False)
    with pytest.raises(FileExistsError, match="overwrite"):
        degrade_sequence(source, out, "medium", 1, progress=False)
    degrade_sequence(source, out, "medium", 1, progress=False, overwrite=True)
    assert json.loads((out / "degradation.json").read_text())["seed"] == 1
    with pytest.raises(ValueError, match="input itself"):
        degrade_sequence(source, source, "medium", 0, progress=False)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        degrade_sequence(tmp_path / "missing", tmp_path / "x", "medium", 0, progress=False)


def test_build_mixed_set_writes_two_lq_per_hq(tmp_path: Path) -> None:
    sources = [_synthetic_sequence(tmp_path / "src", name) for name in ("seqA", "seqB")]
    out = tmp_path / "mixed"
    paths = build_mixed_set(sources, out, lq_per_hq=2, preset="medium", seed=10, progress=False)
    assert len(paths) == 6 and all(p.is_dir() for p in paths)
    manifest = json.loads((out / "manifest.json").read_text())
    qualities = [entry["quality"] for entry in manifest["sequences"]]
    assert qualities.count("lq") == 2 * qualities.count("hq") == 4
    seeds = [entry["seed"] for entry in manifest["sequences"] if entry["quality"] == "lq"]
    assert seeds == [10, 11, 12, 13]
    assert (out / "seqA").resolve() == sources[0].resolve()
    lq = out / "seqB-medium-seed13"
    assert (lq / "gt" / "gt.txt").read_text() == (sources[1] / "gt" / "gt.txt").read_text()
    assert json.loads((lq / "degradation.json").read_text())["seed"] == 13
    # Rebuilding the same set without --overwrite is refused rather than silently mixed.
    with pytest.raises(FileExistsError):
        build_mixed_set(sources, out, lq_per_hq=2, preset="medium", seed=10, progress=False)


def test_build_mixed_set_rejects_bad_input(tmp_path: Path) -> None:
    source = _synthetic_sequence(tmp_path / "a", "seq")
    twin = _synthetic_sequence(tmp_path / "b", "seq")
    with pytest.raises(ValueError, match="unique"):
        build_mixed_set([source, twin], tmp_path / "out", progress=False)
    with pytest.raises(ValueError, match="lq_per_hq"):
        build_mixed_set([source], tmp_path / "out", lq_per_hq=-1, progress=False)
    with pytest.raises(ValueError, match="preset"):
        build_mixed_set([source], tmp_path / "out", preset="nope", progress=False)
    with pytest.raises(ValueError, match="img1"):
        build_mixed_set([source / "gt" / "gt.txt"], tmp_path / "out", progress=False)


def test_cli_mix_subcommand(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = _synthetic_sequence(tmp_path, "synth")
    argv = ["mix", str(source), "--output", str(tmp_path / "mix"), "--ratio", "1", "--quiet"]
    assert cli_main(argv) == 0
    manifest = json.loads((tmp_path / "mix" / "manifest.json").read_text())
    assert [e["quality"] for e in manifest["sequences"]] == ["hq", "lq"]
    assert "manifest.json" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["degrade", "/no/such/sequence", "--output", "/tmp/x"], "does not exist"),
    (["mix", "/no/such/sequence", "--output", "{tmp}/m"], "does not exist"),
])
def test_cli_user_errors_are_one_line_and_exit_2(argv: list[str], message: str, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    argv = [a.format(tmp=tmp_path) for a in argv]
    assert cli_main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and message in err and "\n" not in err and "Traceback" not in err


def test_cli_refuses_an_unknown_preset_with_the_choices(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = _synthetic_sequence(tmp_path, "synth")
    with pytest.raises(SystemExit) as exit_info:
        cli_main(["degrade", str(source), "--output", str(tmp_path / "o"), "--preset", "ugly"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'ugly'" in err and "realesrgan" in err and "Traceback" not in err


def test_cli_help_explains_both_verbs(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli_main(["degrade", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "eq. 17" in text and "--preset" in text and "realesrgan" in text
    with pytest.raises(SystemExit):
        cli_main(["mix", "--help"])
    assert "--ratio" in capsys.readouterr().out

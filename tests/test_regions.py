"""Region teacher tokens (ours, issue 13): crops and their preprocessing, the re-ID input conventions,
the cache that aligns one token with every proposal and every object, and the distillation that
pairs each query with its own box's token."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch

from model.vsd.regions import CROP_SIZE, RegionTeacher, person_crop_preprocess


class BoxTeacher(RegionTeacher):
    """A test double of the interface: each crop's mean BGR colour and its height and width."""

    name, dim = "box-test", 5

    def embed_crops(self, crops_bgr: list[np.ndarray]) -> np.ndarray:
        return np.array([[*c.reshape(-1, 3).mean(0), c.shape[0], c.shape[1]] for c in crops_bgr], dtype=np.float32)


def test_a_person_crop_is_rgb_at_128_by_64_with_imagenet_statistics() -> None:
    crop = np.zeros((300, 90, 3), np.uint8)
    crop[:] = (0, 128, 255)  # BGR
    x = person_crop_preprocess(crop)
    assert tuple(x.shape) == (3, *CROP_SIZE) == (3, 128, 64)
    expected = [(1.0 - 0.485) / 0.229, (128 / 255 - 0.456) / 0.224, (0.0 - 0.406) / 0.225]  # R, G, B
    assert torch.allclose(x.mean(dim=(1, 2)), torch.tensor(expected), atol=1e-4)


def test_boxes_are_clipped_to_the_image_and_a_box_under_2_px_has_no_token() -> None:
    frame = np.zeros((100, 200, 3), np.uint8)
    frame[:, 100:] = 200
    answer = BoxTeacher().embed(frame, np.array([[90, 10, 110, 50], [-20, -5, 10.2, 30], [50, 50, 51, 80],
                                                 [150, 80, 260, 140]]))
    assert answer.valid.tolist() == [True, True, False, True]
    np.testing.assert_allclose(answer.vectors[0], [100, 100, 100, 40, 20])  # half dark, half bright
    np.testing.assert_allclose(answer.vectors[1, 3:], [30, 11])  # rows 0-29, columns 0-10 (ceil of 10.2)
    assert not answer.vectors[2].any()
    np.testing.assert_allclose(answer.vectors[3], [200, 200, 200, 20, 50])  # clipped at the bottom and right


def test_image_teachers_embed_the_crop_through_their_own_transform(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """EfficientNet on the person-shaped crop; CLIP (random RN50 weights standing in for OpenAI's file)
    through its own eval transform of the crop."""
    import open_clip

    from model.vsd.regions import build_region_teacher
    from model.vsd.teacher import CLIP_RN50

    frame = np.random.default_rng(0).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    box = np.array([[20.0, 10.0, 60.0, 110.0]])
    crop = frame[10:110, 20:60]
    effnet = build_region_teacher("effnet-lite0")
    with torch.no_grad():
        expected = effnet.teacher.network(person_crop_preprocess(crop)[None]).numpy()
    np.testing.assert_allclose(effnet.embed(frame, box).vectors, expected, rtol=1e-4, atol=1e-4)

    torch.manual_seed(0)
    source = open_clip.create_model(CLIP_RN50.arch, pretrained=None).eval()
    path = tmp_path / "rn50_open_clip.pt"
    torch.save({f"visual.{k}": v for k, v in source.visual.state_dict().items()}, path)
    monkeypatch.setenv("VSDMOT_CLIP_CHECKPOINT", str(path))
    clip = build_region_teacher("clip-rn50")
    assert (clip.name, clip.dim) == ("clip-rn50", 1024)
    np.testing.assert_allclose(clip.embed(frame, box).vectors, clip.teacher.embed(crop).numpy(), rtol=1e-4, atol=1e-4)


def test_reid_input_conventions() -> None:
    from model.tracking.reid import OMZ_INPUT, OSNET_INPUT, reid_input_tensor

    crop = np.zeros((20, 10, 3), np.uint8)
    crop[:] = (10, 20, 30)  # BGR
    omz = reid_input_tensor(crop, 256, 128, OMZ_INPUT)
    assert omz.shape == (1, 256, 128, 3) and omz[0, 0, 0].tolist() == [10, 20, 30]  # NHWC, BGR, 0..255
    osnet = reid_input_tensor(crop, 256, 128, OSNET_INPUT)
    assert osnet.shape == (1, 3, 256, 128)  # NCHW, RGB, ImageNet mean/std
    expected = [(30 / 255 - 0.485) / 0.229, (20 / 255 - 0.456) / 0.224, (10 / 255 - 0.406) / 0.225]
    np.testing.assert_allclose(osnet[0, :, 0, 0], expected, atol=1e-5)


def test_region_tokens_need_a_region_teacher_and_the_paper_mode_a_frame_teacher(capsys) -> None:
    from model.cli import parse_train_config
    from model.training.run_config import TrainConfig

    with pytest.raises(ValueError, match="embeds person boxes"):
        TrainConfig(variant="vsd-mot", teacher="reid-0287")
    with pytest.raises(ValueError, match="direct variant"):
        TrainConfig(variant="direct", teacher_tokens="regions")
    cfg = parse_train_config(["--variant", "vsd-mot", "--teacher", "osnet-x0_25", "--teacher-tokens", "regions"])
    assert (cfg.teacher, cfg.teacher_tokens, cfg.teacher_view) == ("osnet-x0_25", "regions", "degraded")
    with pytest.raises(SystemExit) as exit_info:
        parse_train_config(["--variant", "vsd-mot", "--teacher", "reid-0287"])
    assert exit_info.value.code == 2 and "teacher_tokens='regions'" in capsys.readouterr().err


def test_with_one_token_per_query_eq5_is_the_identity() -> None:
    from model.vsd.dcsd import DCSDConfig, DCSDLoss, interpolate_sequence

    tokens = torch.randn(1, 4, 8)
    assert torch.equal(interpolate_sequence(tokens, torch.tensor([4])), tokens)
    torch.manual_seed(0)
    loss = DCSDLoss(DCSDConfig(teacher_dim=8, d_model=6))
    student = torch.randn(1, 4, 6)
    out = loss(student, tokens)
    assert torch.allclose(out.t_align, loss.teacher_proj(tokens))  # T_align = T_proj row by row
    # Distinct tokens make the attention rows differ (one global token would make them all equal).
    assert not torch.allclose(out.attention[0, 0], out.attention[0, 1])


@pytest.mark.shared
class TestOnRealData:
    @pytest.fixture(scope="class")
    def renditions(self, mot_dir: Path, weights_dir: Path, tmp_path_factory: pytest.TempPathFactory):
        from model.data.clips import load_sequence
        from model.tracking.detector import YoloxDetector

        os.environ["VSDMOT_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
        try:
            detector = YoloxDetector()
            seq_dir = mot_dir / "TUD-Stadtmitte"
            return seq_dir, load_sequence(seq_dir, 1, 4, None, detector), load_sequence(seq_dir, 1, 4, ("severe", 12), detector)
        finally:
            del os.environ["VSDMOT_CACHE_DIR"]

    def test_every_proposal_and_object_finds_the_token_of_its_own_box(self, renditions) -> None:
        from model.data.cache import rendered_frames
        from model.data.mot_io import read_gt
        from model.data.region_cache import build_region_cache
        from model.tracking.proposals import proposal_inputs

        seq_dir, _, severe = renditions
        tokens = build_region_cache(severe.cache, seq_dir, BoxTeacher(), "degraded", progress=False)
        frames = dict(rendered_frames(seq_dir, severe.cache.meta["key"]))
        gt = read_gt(seq_dir, 1, 4)
        for frame in severe.frames:
            det = severe.cache.detections(frame)
            proposals = proposal_inputs(det, 3)  # fewer than the detections: the index matters
            got, valid = tokens.for_proposals(frame, proposals.index)
            want = BoxTeacher().embed(frames[frame], proposals.detections.xyxy)
            assert valid.tolist() == want.valid.tolist()
            np.testing.assert_allclose(got, want.vectors, atol=0.5)  # fp16 on disk
            people = gt.pedestrians(frame)
            ids = np.array([people.ids[1], -1, 999, people.ids[0]])
            got, valid = tokens.for_objects(frame, ids)
            assert valid.tolist() == [True, False, False, True]
            want = BoxTeacher().embed(frames[frame], people.xyxy[[1, 0]]).vectors
            np.testing.assert_allclose(got[[0, 3]], want, atol=0.5)
            assert not got[[1, 2]].any()

    def test_the_clean_view_crops_the_clean_frame_at_the_degraded_renditions_boxes(self, renditions) -> None:
        from model.data.cache import rendered_frames
        from model.data.region_cache import build_region_cache, region_file

        seq_dir, clean, severe = renditions
        tokens = build_region_cache(severe.cache, seq_dir, BoxTeacher(), "clean", progress=False)
        assert region_file(severe.cache, "box-test", "clean") != region_file(severe.cache, "box-test", "degraded")
        assert region_file(clean.cache, "box-test", "clean") == region_file(clean.cache, "box-test", "degraded")
        frame = severe.frames[1]
        pixels = dict(rendered_frames(seq_dir, {**severe.cache.meta["key"], "preset": None, "seed": 0}))[frame]
        det = severe.cache.detections(frame)
        got, _ = tokens.for_proposals(frame, np.arange(len(det.detections)))
        np.testing.assert_allclose(got, BoxTeacher().embed(pixels, det.detections.xyxy).vectors, atol=0.5)

    def test_each_query_is_distilled_towards_its_own_boxs_token(self, renditions) -> None:
        from model.data.region_cache import build_region_cache
        from model.tracking.query_model import QueryTrackerModel
        from model.training.objective import ClipObjective
        from model.tracking.hooks import VSDHook
        from model.training.run_config import TrainConfig

        seq_dir, _, severe = renditions
        severe.regions = build_region_cache(severe.cache, seq_dir, BoxTeacher(), "degraded", progress=False)
        seen: list[tuple[torch.Tensor, torch.Tensor]] = []

        class Recorder(torch.nn.Module):
            def forward(self, student, teacher):
                seen.append((student, teacher))
                return SimpleNamespace(loss=student.sum() * 0.0)

        cfg = TrainConfig(variant="vsd-mot", teacher="reid-0287", teacher_tokens="regions", track_drop=0.0, fp_insert=0.0)
        objective = ClipObjective(QueryTrackerModel(hook=VSDHook()), Recorder(), cfg)
        objective(severe, severe.frames[:3], np.random.default_rng(0))
        assert len(seen) == 3
        for student, teacher in seen:
            assert student.shape[:2] == teacher.shape[:2] and teacher.shape[-1] == 5  # one token per distilled query
        # The first frame has no track queries: its tokens are those of its proposals, in order.
        det = severe.cache.detections(severe.frames[0])
        want, valid = severe.regions.for_proposals(severe.frames[0], np.arange(len(det.detections)))
        order = np.argsort(-det.detections.scores)[:QueryTrackerModel().config.max_proposals] \
            if len(det.detections) > QueryTrackerModel().config.max_proposals else np.arange(len(det.detections))
        np.testing.assert_allclose(seen[0][1][0].numpy(), want[order][valid[order]])

    @pytest.mark.parametrize("teacher", ["reid-0287", "osnet-x0_25"])
    def test_reid_teachers_place_the_same_person_closer_than_two_people(self, teacher: str, mot_dir: Path) -> None:
        from model.data.mot_io import read_gt
        from model.vsd.regions import build_region_teacher

        region_teacher = build_region_teacher(teacher)
        seq = mot_dir / "TUD-Stadtmitte"
        gt = read_gt(seq)
        vectors, ids = [], []
        for frame in (1, 30, 60, 90):
            people = gt.pedestrians(frame)
            answer = region_teacher.embed(cv2.imread(str(seq / "img1" / f"{frame:06d}.jpg")), people.xyxy)
            vectors += list(answer.vectors[answer.valid])
            ids += list(people.ids[answer.valid])
        v, i = np.array(vectors), np.array(ids)
        cosine, same = v @ v.T, i[:, None] == i[None]
        off_diagonal = ~np.eye(len(i), dtype=bool)
        assert cosine[same & off_diagonal].mean() > cosine[~same].mean() + 0.1


@pytest.mark.shared
@pytest.mark.slow
def test_training_with_region_tokens_from_a_reid_teacher(mot_dir: Path, weights_dir: Path, tmp_path: Path) -> None:
    env = {**os.environ, "VSDMOT_CACHE_DIR": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "model", "train", "--variant", "vsd-mot", "--teacher", "reid-0288",
           "--teacher-tokens", "regions", "--teacher-view", "clean", "--span", "TUD-Stadtmitte:1:12",
           "--epochs", "1", "--clips-per-epoch", "4", "--lq-per-hq", "1", "--output", str(out)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    log = json.loads((out / "train_log.json").read_text())
    assert (log["teacher"], log["teacher_tokens"], log["teacher_view"]) == ("reid-0288", "regions", "clean")
    assert log["log"][0]["loss_distill"] > 0
    assert list((tmp_path / "cache" / "frames").glob("TUD-Stadtmitte_1-12_medium-s11_*/regions_reid-0288_clean_v1.npz"))

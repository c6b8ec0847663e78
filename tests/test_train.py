"""Training: clip sampling, the split guard, and a real 2-process DistributedDataParallel run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from model.data.clips import LQ_TRAIN_RENDITIONS, mix_renditions, sample_clips
from model.cli import parse_train_config as parse_args


class _Seq:
    def __init__(self, frames: list[int]) -> None:
        self.frames = frames


def test_clips_have_five_evenly_spaced_frames_inside_the_span() -> None:
    rng = np.random.default_rng(0)
    seqs = [_Seq(list(range(1, 180))), _Seq(list(range(1, 501)))]
    for _, frames in sample_clips(seqs, 200, 5, 10, rng):
        steps = np.diff(frames)
        assert len(frames) == 5 and len(set(steps)) == 1 and 1 <= steps[0] <= 10


def test_short_sequences_shrink_the_interval() -> None:
    clips = sample_clips([_Seq([1, 2, 3, 4, 5, 6])], 20, 5, 10, np.random.default_rng(1))
    assert all(f[-1] <= 6 and np.diff(f).max() == 1 for _, f in clips)


def test_mix_ratios() -> None:
    assert mix_renditions(0) == [None]
    assert mix_renditions(2) == [None, *LQ_TRAIN_RENDITIONS[:2]]
    assert mix_renditions(float("inf")) == list(LQ_TRAIN_RENDITIONS)
    with pytest.raises(ValueError):
        mix_renditions(5)


def test_more_degraded_recipes_extend_the_mix_and_never_use_the_validation_seed(capsys) -> None:
    recipes = (("medium", 11), ("severe", 12), ("realesrgan", 13))
    assert mix_renditions(3, recipes) == [None, *recipes]
    assert mix_renditions(float("inf"), recipes) == list(recipes)
    assert mix_renditions(1, recipes) == [None, ("medium", 11)]
    with pytest.raises(ValueError, match="integer 1..3"):
        mix_renditions(1.5, recipes)
    with pytest.raises(ValueError, match="validation"):
        mix_renditions(1, (("medium", 0),))
    cfg = parse_args(["--span", "TUD-Stadtmitte:1:20", "--lq-recipes", "medium:11", "severe:12", "realesrgan:13",
                      "--lq-per-hq", "3"])
    assert cfg.lq_recipes == recipes and cfg.lq_per_hq == 3
    assert parse_args(["--span", "TUD-Stadtmitte:1:20"]).lq_recipes == LQ_TRAIN_RENDITIONS
    two_of_three = parse_args(["--span", "TUD-Stadtmitte:1:20", "--lq-recipes", "medium:11", "severe:12", "realesrgan:13"])
    assert mix_renditions(two_of_three.lq_per_hq, two_of_three.lq_recipes) == [None, *recipes[:2]]
    for bad in (["--lq-recipes", "medium:0"],  # the validation recipe's seed
                ["--lq-recipes", "blurry:11"],  # not a preset
                ["--lq-recipes", "medium"],  # no seed
                ["--lq-recipes", "medium:11", "medium:11"],  # the same copy twice
                ["--lq-recipes", "medium:11", "--lq-per-hq", "2"]):  # asks for more copies than given
        with pytest.raises(SystemExit):
            parse_args(["--span", "TUD-Stadtmitte:1:20", *bad])
    assert "usage" in capsys.readouterr().err


def test_cli_refuses_validation_frames_and_random_teachers(capsys) -> None:
    with pytest.raises(SystemExit):
        parse_args(["--span", "PETS09-S2L1:400:600"])
    with pytest.raises(SystemExit):
        parse_args(["--variant", "vsd-mot", "--teacher", "random"])
    cfg = parse_args(["--span", "TUD-Stadtmitte:1:20", "--alpha", "0.4"])
    assert cfg.spans == (("TUD-Stadtmitte", 1, 20),) and cfg.alpha == 0.4


def test_validation_data_is_refused_as_a_span_an_extra_sequence_or_a_clip_made_from_it(tmp_path: Path) -> None:
    from model.training.run_config import TrainConfig

    with pytest.raises(ValueError, match="overlaps the validation frames"):
        TrainConfig(spans=(("PETS09-S2L1", 1, 600),))
    with pytest.raises(ValueError, match="validation data"):
        TrainConfig(spans=(("intel-one-by-one", 1, 100),))
    with pytest.raises(ValueError, match="validation data"):
        TrainConfig(extra_sequences=(str(tmp_path / "intel-one-by-one"),))
    renamed = tmp_path / "my-clip"
    renamed.mkdir()
    (renamed / "pseudo_labels.json").write_text(json.dumps({"source": "x.mp4", "source_sha256":
        "a5964aa259099a482a8b360ffc2c57b5a30f84d5919236a4dad01f8e929ac07c"}))
    with pytest.raises(ValueError, match="made from validation data"):
        TrainConfig(extra_sequences=(str(renamed),))
    (renamed / "pseudo_labels.json").write_text(json.dumps({"source": "street.avi", "source_sha256": "0" * 64}))
    assert TrainConfig(extra_sequences=(renamed,)).extra_sequences == (str(renamed),)


def test_cli_extra_sequences_reach_the_config_and_a_missing_layout_is_named(tmp_path: Path, capsys) -> None:
    from model.training.loop import _training_spans

    cfg = parse_args(["--extra-sequence", str(tmp_path / "a"), "--extra-sequence", str(tmp_path / "b")])
    assert cfg.extra_sequences == (str(tmp_path / "a"), str(tmp_path / "b"))
    with pytest.raises(SystemExit):
        parse_args(["--extra-sequence", str(tmp_path / "intel-one-by-one")])
    assert "validation data" in capsys.readouterr().err
    (tmp_path / "x").mkdir()
    with pytest.raises(FileNotFoundError, match="img1"):
        _training_spans(parse_args(["--span", "x:1:2", "--extra-sequence", str(tmp_path / "a")]), tmp_path)


@pytest.mark.shared
def test_an_extra_sequence_is_trained_on_whole(mot_dir: Path, tmp_path: Path) -> None:
    from model.training.loop import _training_spans
    from tests.helpers import write_sequence_subset

    extra = write_sequence_subset(mot_dir / "TUD-Stadtmitte", tmp_path / "clip", 1, 30)
    spans = _training_spans(parse_args(["--extra-sequence", str(extra)]), mot_dir)
    assert spans[-1] == (extra, 1, 30)
    assert [(p.name, a, b) for p, a, b in spans[:-1]] == [("TUD-Stadtmitte", 1, 179), ("PETS09-S2L1", 1, 500)]


def test_cli_student_size_reaches_the_hook_and_the_checkpoint(tmp_path: Path, capsys) -> None:
    from model.tracking.checkpoint import load_checkpoint, save_checkpoint
    from model.training.loop import build_model

    cfg = parse_args(["--variant", "vsd-mot", "--student-hidden-dim", "64", "--student-heads", "4",
                      "--student-ffn-dim", "128", "--student-layers", "2"])
    model, _ = build_model(cfg, teacher_dim=1280)
    student = model.hook.student
    assert student.input_proj.out_features == 64 and len(student.encoder.layers) == 2
    assert student.encoder.layers[0].linear1.out_features == 128
    save_checkpoint(tmp_path / "small.pt", model, meta={})
    loaded, _ = load_checkpoint(tmp_path / "small.pt")
    assert loaded.hook.student_config.hidden_dim == 64 and loaded.hook.student_config.num_layers == 2
    with pytest.raises(SystemExit):  # 64 is not divisible by 7 heads: a clear CLI error, not a traceback
        parse_args(["--variant", "vsd-mot", "--student-hidden-dim", "64", "--student-heads", "7"])
    assert "divisible" in capsys.readouterr().err


def test_clean_teacher_view_distils_degraded_frames_towards_the_clean_embedding() -> None:
    from model.data.clips import TrainingSequence

    class Cache:  # the two FrameCache methods the lookup uses
        def __init__(self, embeddings: np.ndarray) -> None:
            self.embeddings, self.frames = embeddings, [11, 12, 13]

        def teacher(self, name: str) -> np.ndarray:
            return self.embeddings

        def position(self, frame: int) -> int:
            return frame - 11

    degraded, clean = Cache(np.zeros((3, 2))), Cache(np.arange(6.0).reshape(3, 2))
    seq = TrainingSequence("s", Path("."), degraded, {}, ("medium", 11))
    assert seq.teacher_embedding("t", 12).tolist() == [0.0, 0.0]  # the paper: the frame the student sees
    seq.teacher_source = clean
    assert seq.teacher_embedding("t", 12).tolist() == [2.0, 3.0]  # ours: its clean original
    assert parse_args(["--teacher-view", "clean"]).teacher_view == "clean"
    with pytest.raises(SystemExit):
        parse_args(["--teacher-view", "sharp"])


@pytest.mark.slow
def test_torchrun_two_cpu_processes(mot_dir: Path, weights_dir: Path, tmp_path: Path) -> None:
    env = {**os.environ, "VSDMOT_CACHE_DIR": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    out = tmp_path / "run"
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29517",
        "-m", "model", "train", "--span", "TUD-Stadtmitte:1:24", "--lq-per-hq", "0", "--epochs", "2",
        "--clips-per-epoch", "4", "--num-threads", "1", "--pseudo-clip", "0.5", "--hsv", "--weight-average", "0.9",
        "--output", str(out),
    ]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    log = json.loads((out / "train_log.json").read_text())
    assert [e["epoch"] for e in log["log"]] == [1, 2]
    assert all(np.isfinite(e["loss"]) for e in log["log"])
    from model.tracking.checkpoint import load_checkpoint

    model, meta = load_checkpoint(out / "checkpoint.pt")
    assert meta["variant"] == "baseline" and [list(s) for s in meta["train_spans"]] == [["TUD-Stadtmitte", 1, 24]]
    assert all(torch.isfinite(p).all() for p in model.parameters())
    raw, raw_meta = load_checkpoint(out / "checkpoint-last.pt")  # --weight-average: both are written
    assert (meta["weights"], raw_meta["weights"]) == ("ema", "last")
    assert any(not torch.equal(a, b) for a, b in zip(model.state_dict().values(), raw.state_dict().values()))


@pytest.mark.slow
def test_weight_averaging_leaves_the_training_trajectory_alone(mot_dir: Path, weights_dir: Path, tmp_path: Path) -> None:
    """The last weights of a run with --weight-average are bit for bit those of the same run without it,
    so one run gives both the averaged checkpoint and its own control."""
    env = {**os.environ, "VSDMOT_CACHE_DIR": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    common = [sys.executable, "-m", "model", "train", "--span", "TUD-Stadtmitte:1:24", "--lq-per-hq", "0",
              "--epochs", "2", "--clips-per-epoch", "3", "--num-threads", "1", "--seed", "5"]
    for name, extra in (("plain", []), ("ema", ["--weight-average", "0.9"])):
        result = subprocess.run([*common, *extra, "--output", str(tmp_path / name)], env=env, capture_output=True,
                                text=True, timeout=600)
        assert result.returncode == 0, result.stderr[-2000:]
    from model.tracking.checkpoint import load_checkpoint

    plain, _ = load_checkpoint(tmp_path / "plain" / "checkpoint.pt")
    raw, _ = load_checkpoint(tmp_path / "ema" / "checkpoint-last.pt")
    averaged, _ = load_checkpoint(tmp_path / "ema" / "checkpoint.pt")
    assert all(torch.equal(a, b) for a, b in zip(plain.state_dict().values(), raw.state_dict().values()))
    assert not all(torch.equal(a, b) for a, b in zip(plain.state_dict().values(), averaged.state_dict().values()))


@pytest.mark.shared
def test_a_clip_with_nothing_in_it_trains_through(mot_dir: Path, weights_dir: Path, tmp_path: Path) -> None:
    """Black frames with no labels (a pseudo-labelled clip's empty stretch): no proposal, no track, no
    gradient -- the step still runs (a zero-gradient step, as every DDP rank must) and is counted."""
    import cv2

    from tests.helpers import write_sequence_subset

    blank = write_sequence_subset(mot_dir / "TUD-Stadtmitte", tmp_path / "blank", 1, 8, link_images=False)
    (blank / "img1").mkdir()
    for index in range(1, 9):
        cv2.imwrite(str(blank / "img1" / f"{index:06d}.jpg"), np.zeros((480, 640, 3), np.uint8))
    (blank / "gt" / "gt.txt").write_text("")
    env = {**os.environ, "VSDMOT_CACHE_DIR": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "model", "train", "--span", "TUD-Stadtmitte:1:8", "--extra-sequence", str(blank),
         "--lq-per-hq", "0", "--epochs", "1", "--clips-per-epoch", "6", "--num-threads", "1", "--seed", "3",
         "--output", str(tmp_path / "run")], env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    log = json.loads((tmp_path / "run" / "train_log.json").read_text())
    assert log["log"][0]["empty_clips"] > 0
    assert log["extra_sequences"] == [str(blank)]


def test_a_sequence_shorter_than_a_clip_gives_all_its_frames_and_one_image_repeats() -> None:
    rng = np.random.default_rng(3)
    clips = sample_clips([_Seq([1, 2, 3]), _Seq([7])], 40, 5, 10, rng)
    assert {tuple(f) for s, f in clips if s == 0} == {(1, 2, 3)}
    assert {tuple(f) for s, f in clips if s == 1} == {(7, 7, 7, 7, 7)}  # a pseudo-clip of one image


@pytest.mark.shared
def test_a_one_image_clip_is_always_a_shifted_pseudo_clip(pets_dir: Path, weights_dir: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Even with --pseudo-clip 0: one image repeated unmoved would teach nothing about motion."""
    from model.data.clips import load_sequence
    from model.tracking.detector import YoloxDetector
    from model.tracking.query_model import QueryTrackerModel
    from model.training.objective import ClipObjective
    from model.training.run_config import TrainConfig

    monkeypatch.setenv("VSDMOT_CACHE_DIR", str(tmp_path))
    seq = load_sequence(pets_dir, 1, 1, None, YoloxDetector())  # a real frame as a one-image sequence
    torch.manual_seed(0)
    objective = ClipObjective(QueryTrackerModel(), None, TrainConfig(pseudo_clip=0.0, track_drop=0.0, fp_insert=0.0))
    seen: list[torch.Tensor] = []
    real = objective.model.forward

    def spy(content, anchors, proposals, inputs, switches):
        seen.append(proposals.anchors[0].clone())
        return real(content, anchors, proposals, inputs, switches)

    objective.model.forward = spy  # type: ignore[method-assign]
    losses = objective(seq, [1, 1, 1, 1, 1], np.random.default_rng(0))
    assert len(seen) == 5 and torch.isfinite(losses["loss"])
    moved = [a for a in seen[1:] if a.shape != seen[0].shape or not torch.allclose(a, seen[0])]
    assert moved, "every frame of the clip showed the image at the same place"


def test_nothing_to_train_on_and_a_gpu_that_is_not_there_are_clear_errors(capsys: pytest.CaptureFixture[str]) -> None:
    from model.cli import main
    from model.training.run_config import TrainConfig

    with pytest.raises(ValueError, match="nothing to train on"):
        TrainConfig(spans=())
    with pytest.raises(ValueError, match="device must be one of auto, cpu, cuda"):
        TrainConfig(device="tpu")
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert main(["train", "--device", "cuda", "--output", "/nonexistent/run"]) == 2
    assert "no CUDA device" in capsys.readouterr().err


def test_cli_motion_prior_reaches_the_model_config(capsys) -> None:
    from model.training.loop import build_model

    cfg = parse_args(["--track-motion-momentum", "0.5"])
    model, _ = build_model(cfg, teacher_dim=1280)
    assert model.config.track_motion_momentum == 0.5 and parse_args([]).tracker.track_motion_momentum is None
    with pytest.raises(SystemExit):
        parse_args(["--track-motion-momentum", "1.5"])
    assert "track_motion_momentum" in capsys.readouterr().err


@pytest.mark.shared
def test_training_feeds_the_anchors_the_motion_prior_gives(pets_dir: Path, weights_dir: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The objective's next track anchors are model.tracking.motion's, the step the tracker takes."""
    import model.training.objective as objective_module
    from model.data.clips import load_sequence
    from model.tracking.detector import YoloxDetector
    from model.tracking.query_model import QueryTrackerModel, TrackerConfig
    from model.training.run_config import TrainConfig

    monkeypatch.setenv("VSDMOT_CACHE_DIR", str(tmp_path))
    seq = load_sequence(pets_dir, 1, 4, None, YoloxDetector())
    torch.manual_seed(0)
    model = QueryTrackerModel(TrackerConfig(track_motion_momentum=0.5))
    with torch.no_grad():  # fresh box heads return their anchors exactly: nothing would move
        for head in model.decoder.box_heads:
            head.layers[-1].weight.normal_(0, 0.05)
    objective = objective_module.ClipObjective(model, None, TrainConfig(pseudo_clip=0.0, track_drop=0.0, fp_insert=0.0))
    given, fed, unmoved = [], [], []
    real_advance, real_forward = objective_module.advance_anchors, model.forward

    def advance(state, boxes, momentum):
        anchors, new_state = real_advance(state, boxes, momentum)
        given.append(anchors.clone())
        unmoved.append(boxes.clone())
        return anchors, new_state

    def forward(content, anchors, proposals, inputs, switches):
        fed.append(anchors[0].clone())
        return real_forward(content, anchors, proposals, inputs, switches)

    monkeypatch.setattr(objective_module, "advance_anchors", advance)
    model.forward = forward  # type: ignore[method-assign]
    losses = objective(seq, [1, 2, 3, 4], np.random.default_rng(0))
    assert torch.isfinite(losses["loss"]) and len(given) == 4 and len(fed) == 4
    for k in range(3):
        torch.testing.assert_close(fed[k + 1], given[k])
    assert any(len(g) and not torch.allclose(g, b) for g, b in zip(given[1:], unmoved[1:])), "no anchor was moved"

"""Training sets at the paper's scale (model.data.benchmark_sets, model.data.crowdhuman): which folders
each layout gives, CrowdHuman's conversion to one-image sequences, and a real training run on the
MOT17-mini layout in ../shared beside converted CrowdHuman-style images."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from model.cli import main as cli_main
from model.cli import parse_train_config
from model.data.benchmark_sets import dataset_sequences, parse_dataset_spec
from model.data.crowdhuman import convert_crowdhuman, person_boxes
from model.data.mot_io import read_gt


def _sequence(folder: Path, frames: int = 3) -> Path:
    (folder / "img1").mkdir(parents=True)
    (folder / "gt").mkdir()
    (folder / "gt" / "gt.txt").write_text("1,1,10,10,20,40,1,1,1.0\n")
    (folder / "seqinfo.ini").write_text(f"[Sequence]\nname={folder.name}\nseqLength={frames}\n")
    return folder


def test_a_spec_is_kind_and_folder() -> None:
    assert parse_dataset_spec("MOT17:/data/MOT17") == ("mot17", Path("/data/MOT17"))
    assert parse_dataset_spec("dancetrack:C:/sets/dt")[1] == Path("C:/sets/dt")  # only the first colon splits
    for bad in ("mot17", "kitti:/data", "mot17:"):
        with pytest.raises(ValueError, match="KIND:FOLDER with KIND one of mot17, mot20, dancetrack, crowdhuman"):
            parse_dataset_spec(bad)


def test_mot17_keeps_one_detector_copy_per_sequence_frcnn_first(tmp_path: Path) -> None:
    for name in ("MOT17-02-DPM", "MOT17-02-FRCNN", "MOT17-02-SDP", "MOT17-05-DPM", "MOT17-05-SDP"):
        _sequence(tmp_path / "train" / name)
    (tmp_path / "train" / "MOT17-09-FRCNN").mkdir()  # no img1/ or gt: not a sequence
    _sequence(tmp_path / "test" / "MOT17-01-FRCNN")  # the test split is never read
    assert [p.name for p in dataset_sequences("mot17", tmp_path)] == ["MOT17-02-FRCNN", "MOT17-05-DPM"]
    assert [p.name for p in dataset_sequences("mot17", tmp_path / "train")] == ["MOT17-02-FRCNN", "MOT17-05-DPM"]


def test_each_kind_takes_only_its_own_sequences_from_a_mixed_folder(tmp_path: Path) -> None:
    for name in ("dancetrack0001", "dancetrack0002", "MOT20-01", "MOT17-04-SDP", "PETS09-S2L1"):
        _sequence(tmp_path / name)
    assert [p.name for p in dataset_sequences("dancetrack", tmp_path)] == ["dancetrack0001", "dancetrack0002"]
    assert [p.name for p in dataset_sequences("mot20", tmp_path)] == ["MOT20-01"]
    assert [p.name for p in dataset_sequences("mot17", tmp_path)] == ["MOT17-04-SDP"]
    with pytest.raises(FileNotFoundError, match="no mot17 sequences .* under"):
        dataset_sequences("mot17", tmp_path / "dancetrack0001")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        dataset_sequences("dancetrack", tmp_path / "nowhere")


def test_the_real_mot17_mini_layout(mot_dir: Path) -> None:
    found = dataset_sequences("mot17", mot_dir)
    if not found or not all(p.name.endswith("-mini") for p in found):
        pytest.skip("MOT17-*-mini sequences not in the data folder")
    assert [p.name for p in found] == ["MOT17-02-FRCNN-mini", "MOT17-04-FRCNN-mini"]
    gt = read_gt(found[0])
    assert gt.benchmark == "MOT17"
    # what training learns from: class-1 pedestrians that are marked, never distractors or ignored rows
    people = gt.pedestrians(1)
    assert len(people.ids) > 10 and len(people.ids) < len(gt.boxes[1].ids)


def _crowdhuman(tmp_path: Path) -> tuple[Path, Path]:
    images = tmp_path / "Images"
    images.mkdir()
    for name in ("273271,c9db000d5146c15", "283554,35288000868e92d4"):
        cv2.imwrite(str(images / f"{name}.jpg"), np.full((120, 200, 3), 90, np.uint8))
    records = [
        {"ID": "273271,c9db000d5146c15", "gtboxes": [
            {"tag": "person", "fbox": [10, 20, 30, 80], "extra": {"box_id": 0}},
            {"tag": "person", "fbox": [100, 10, 40, 90], "extra": {"box_id": 1, "ignore": 1}},  # ignored
            {"tag": "mask", "fbox": [150, 5, 40, 40], "extra": {"ignore": 1}},  # a crowd region
            {"tag": "person", "fbox": [60, 30, 25, 70], "extra": {"box_id": 3}}]},
        {"ID": "283554,35288000868e92d4", "gtboxes": [{"tag": "mask", "fbox": [0, 0, 50, 50], "extra": {}}]},
        {"ID": "missing-image", "gtboxes": [{"tag": "person", "fbox": [1, 1, 20, 40], "extra": {}}]},
    ]
    odgt = tmp_path / "annotation_train.odgt"
    odgt.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    return odgt, images


def test_crowdhuman_images_become_one_image_sequences_without_ignore_regions(tmp_path: Path) -> None:
    odgt, images = _crowdhuman(tmp_path)
    out = tmp_path / "seqs"
    report = convert_crowdhuman(odgt, images, out)
    assert (report.written, report.existing, report.skipped, report.boxes) == (1, 0, 2, 2)
    (seq,) = dataset_sequences("crowdhuman", out)
    assert seq.name == "273271_c9db000d5146c15"  # no comma in a cache key
    assert (seq / "img1" / "000001.jpg").is_symlink()
    gt = read_gt(seq)
    assert gt.last == 1 and gt.pedestrians(1).xyxy.tolist() == [[10, 20, 40, 100], [60, 30, 85, 100]]
    again = convert_crowdhuman(odgt, images, out)  # resumable: what is there is kept
    assert (again.written, again.existing) == (0, 1)
    assert person_boxes({"gtboxes": [{"tag": "person", "fbox": [0, 0, 0.5, 10], "extra": {}}]}) == []


def test_crowdhuman_errors_a_user_can_cause(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    odgt, images = _crowdhuman(tmp_path)
    assert cli_main(["convert-crowdhuman", "--odgt", str(tmp_path / "nope.odgt"), "--images", str(images),
                     "--output", str(tmp_path / "o")]) == 2
    assert "annotation file" in capsys.readouterr().err
    odgt.write_text("{not json\n")
    assert cli_main(["convert-crowdhuman", "--odgt", str(odgt), "--images", str(images),
                     "--output", str(tmp_path / "o")]) == 2
    assert "annotation_train.odgt:1 is not a CrowdHuman record" in capsys.readouterr().err


def test_train_expands_datasets_into_whole_sequences(tmp_path: Path) -> None:
    for name in ("MOT17-02-FRCNN", "MOT17-02-SDP", "MOT17-04-FRCNN"):
        _sequence(tmp_path / "MOT17" / "train" / name)
    cfg = parse_train_config(["--dataset", f"mot17:{tmp_path / 'MOT17'}", "--no-spans"])
    assert cfg.spans == () and [Path(p).name for p in cfg.extra_sequences] == ["MOT17-02-FRCNN", "MOT17-04-FRCNN"]
    with pytest.raises(SystemExit):  # nothing to train on
        parse_train_config(["--no-spans"])
    with pytest.raises(SystemExit):  # contradictory
        parse_train_config(["--no-spans", "--span", "TUD-Stadtmitte:1:20"])
    with pytest.raises(SystemExit):  # a folder without the set
        parse_train_config(["--dataset", f"dancetrack:{tmp_path / 'MOT17'}"])


@pytest.mark.slow
def test_training_on_mot17_mini_and_crowdhuman_style_images(mot_dir: Path, weights_dir: Path, tmp_path: Path) -> None:
    """The paper-scale recipe's readers, end to end on this machine's CPU: MOT17's layout (real 1080p
    frames, MOT17 ground truth) and one-image sequences, without the default spans."""
    if len(dataset_sequences("mot17", mot_dir)) < 2:
        pytest.skip("MOT17-*-mini sequences not in the data folder")
    frame = next((mot_dir / "MOT17-04-FRCNN-mini" / "img1").iterdir())
    images = tmp_path / "Images"
    images.mkdir()
    cv2.imwrite(str(images / "img-a.jpg"), cv2.resize(cv2.imread(str(frame)), (960, 540)))
    gt = read_gt(mot_dir / "MOT17-04-FRCNN-mini").pedestrians(1)
    boxes = [{"tag": "person", "fbox": [float(x1) / 2, float(y1) / 2, float(x2 - x1) / 2, float(y2 - y1) / 2], "extra": {}}
             for x1, y1, x2, y2 in gt.xyxy]
    (tmp_path / "a.odgt").write_text(json.dumps({"ID": "img-a", "gtboxes": boxes}) + "\n")
    assert convert_crowdhuman(tmp_path / "a.odgt", images, tmp_path / "ch").written == 1
    env = {**os.environ, "VSDMOT_CACHE_DIR": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "model", "train", "--no-spans", "--dataset", f"mot17:{mot_dir}",
           "--dataset", f"crowdhuman:{tmp_path / 'ch'}", "--lq-per-hq", "0", "--epochs", "1",
           "--clips-per-epoch", "6", "--num-threads", "1", "--device", "cpu", "--output", str(out)]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    log = json.loads((out / "train_log.json").read_text())
    assert [Path(p).name for p in log["extra_sequences"]] == ["MOT17-02-FRCNN-mini", "MOT17-04-FRCNN-mini", "img-a"]
    assert log["train_spans"] == [] and np.isfinite(log["log"][0]["loss"]) and log["log"][0]["loss"] > 0
    assert log["train_config"]["device"] == "cpu"

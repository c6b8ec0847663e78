"""Test-only helpers: a random-weight teacher for the training plumbing, and sequence subsets.

They live here, not in the library, because nothing a user runs needs them.
"""

from __future__ import annotations

import configparser
import os
from pathlib import Path

import cv2
import numpy as np
import torch
from pydantic import BaseModel, ConfigDict
from torch import Tensor, nn

from model.data.mot_io import check_span, find_gt_file, read_mot_table, read_seqinfo, sequence_length
from model.vsd.teacher import Teacher


def held_job(timeout_s: float = 30.0):
    """A job that says when it started and then waits for its gate: keeps a pool worker busy on demand.

    Returns ``(work, gate, started)``; ``gate.set()`` lets the job finish."""
    import threading

    gate, started = threading.Event(), threading.Event()

    def work(folder: Path, progress) -> Payload:
        started.set()
        gate.wait(timeout_s)
        return Payload()

    return work, gate, started


class Payload(BaseModel):
    """Any JSON object as a typed job result, for job-pool tests that need no real tracking."""

    model_config = ConfigDict(extra="allow")


def random_teacher_for_tests(dim: int = 32, seed: int = 0, device: str | torch.device = "cpu") -> Teacher:
    """A tiny random-weight teacher for unit tests of the training plumbing; NOT in the registry.

    Its embeddings carry no semantics, so nothing trained against it means anything.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        network = nn.Sequential(
            nn.Conv2d(3, 8, kernel_size=3, stride=2, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(8, dim),
        )

    def preprocess(frame_bgr: np.ndarray) -> Tensor:
        small = cv2.resize(frame_bgr, (32, 32), interpolation=cv2.INTER_AREA)
        return torch.from_numpy(small.astype(np.float32) / 255.0).permute(2, 0, 1)

    return Teacher("random-for-tests", dim, network, preprocess, device)



def write_sequence_subset(
    seq_dir: str | Path, out_dir: str | Path, first: int, last: int, link_images: bool = True
) -> Path:
    """Write frames ``first..last`` of a sequence as a new MOTChallenge sequence starting at frame 1.

    Writes seqinfo.ini (new seqLength), gt/gt.txt and det/det.txt when present (renumbered), and
    img1/ as symlinks to the original frames, so a split (e.g. PETS09-S2L1 501-795) can be tracked
    and evaluated by any MOTChallenge tool without copying images.
    """
    seq_dir, out_dir = Path(seq_dir), Path(out_dir)
    gt_table = read_mot_table(find_gt_file(seq_dir))
    first, last = check_span(first, last, sequence_length(seq_dir, gt_table))
    if out_dir.exists() and any(out_dir.iterdir()):
        raise FileExistsError(f"{out_dir} is not empty: pick a new folder for the subset")
    out_dir.mkdir(parents=True, exist_ok=True)

    gt_table.span(first, last, renumber=True).write(out_dir / "gt" / "gt.txt")
    det_file = seq_dir / "det" / "det.txt"
    if det_file.is_file():
        read_mot_table(det_file).span(first, last, renumber=True).write(out_dir / "det" / "det.txt")

    info = read_seqinfo(seq_dir) or {"name": seq_dir.resolve().name}
    info["seqLength"] = str(last - first + 1)
    if link_images:
        info.update(_link_frames(seq_dir, out_dir, first, last, info))
    parser = configparser.ConfigParser()
    parser.optionxform = str
    parser["Sequence"] = info
    with (out_dir / "seqinfo.ini").open("w") as handle:
        parser.write(handle, space_around_delimiters=False)
    return out_dir


def _link_frames(seq_dir: Path, out_dir: Path, first: int, last: int, info: dict[str, str]) -> dict[str, str]:
    image_dir = seq_dir / info.get("imDir", "img1")
    if not image_dir.is_dir():
        raise FileNotFoundError(
            f"{seq_dir} has no {image_dir.name}/ folder: pass link_images=False for gt only"
        )
    images = sorted(p for p in image_dir.iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
    if len(images) < last:
        raise ValueError(
            f"{image_dir} holds {len(images)} frames, fewer than the requested last frame {last}"
        )
    target_dir = out_dir / "img1"
    target_dir.mkdir()
    for new_number, source in enumerate(images[first - 1 : last], start=1):
        os.symlink(source.resolve(), target_dir / f"{new_number:06d}{source.suffix}")
    return {"imDir": "img1", "imExt": images[0].suffix}


def faulty_tracking() -> None:
    """Worker-process initializer for the isolation tests: a clip uploaded as ``hang*`` never finishes
    decoding, one uploaded as ``crash*`` kills its worker with SIGSEGV, ``oom*`` with SIGKILL (what the
    kernel's out-of-memory killer sends). Everything around it -- the worker, its supervisor, the job
    pool, the server -- is the production code."""
    import signal
    import time

    from app.service import TrackingService

    real_run = TrackingService.run

    def run(self, plan, out_dir, on_progress=None):
        if plan.filename.startswith("hang"):
            time.sleep(3600)
        if plan.filename.startswith("crash"):
            os.kill(os.getpid(), signal.SIGSEGV)
        if plan.filename.startswith("oom"):
            os.kill(os.getpid(), signal.SIGKILL)
        return real_run(self, plan, out_dir, on_progress)

    TrackingService.run = run


def labelled_zip(sequence: Path, out: Path, frames: int, top: str | None = "seq", gt_shift: int = 0,
                 seqinfo: dict[str, object] | None = None, extra: dict[str, bytes] | None = None,
                 gt_text: str | None = None) -> Path:
    """A zip of the first ``frames`` frames of a MOTChallenge ``sequence`` with their ground truth.

    ``top``: the one folder the sequence sits in (None: at the archive's top); ``gt_shift`` moves every
    ground-truth row that many frames later (a mismatch); ``seqinfo`` overrides seqinfo.ini's keys
    (a value of None drops the key; ``seqinfo={}`` keeps the file as written); ``extra`` adds members
    by name; ``gt_text`` replaces the ground truth's text.
    """
    import zipfile

    prefix = f"{top}/" if top else ""
    gt = read_mot_table(find_gt_file(sequence)).span(1, frames)
    gt.values[:, 0] += gt_shift
    info = {"name": sequence.name, "imDir": "img1", "frameRate": 7, "seqLength": frames, "imWidth": 768,
            "imHeight": 576, "imExt": ".jpg", **(seqinfo or {})}
    ini = "[Sequence]\n" + "".join(f"{k}={v}\n" for k, v in info.items() if v is not None)
    gt_path = out.with_suffix(".gt.txt")
    gt.write(gt_path)
    with zipfile.ZipFile(out, "w") as bundle:
        for number in range(1, frames + 1):
            bundle.write(sequence / "img1" / f"{number:06d}.jpg", f"{prefix}img1/{number:06d}.jpg")
        if gt_text is None:
            bundle.write(gt_path, f"{prefix}gt/gt.txt")
        else:
            bundle.writestr(f"{prefix}gt/gt.txt", gt_text)
        bundle.writestr(f"{prefix}seqinfo.ini", ini)
        for name, data in (extra or {}).items():
            bundle.writestr(name, data)
    gt_path.unlink()
    return out

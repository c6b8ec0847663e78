"""CrowdHuman (images with person boxes, ``.odgt``) as one-image MOTChallenge sequences, for training.

MOTRv2 trains on CrowdHuman beside MOT17/DanceTrack by making a clip out of one image moved a little
from frame to frame. Here each image becomes a folder ``<output>/<id>/`` with ``img1/000001.jpg`` (a
symbolic link to the original, or a copy), ``gt/gt.txt`` and ``seqinfo.ini``, so the training loop reads
it like any other sequence (``--dataset crowdhuman:<output>``) and every clip of it is a pseudo-clip
(:mod:`model.training.objective`). Boxes: the full-body box ``fbox`` of every ``person`` entry; entries
tagged ``mask`` or marked ``extra.ignore`` are crowd/ignore regions and are left out (the loss has no
ignore regions), so images that are mostly crowd are worth skipping with ``min_people``.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import cv2

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class ConvertReport:
    """What a conversion wrote: sequences (new + already there), skipped images and person boxes."""

    written: int
    existing: int
    skipped: int
    boxes: int

    def __str__(self) -> str:
        return (f"{self.written} sequences written, {self.existing} already there, {self.skipped} images skipped "
                f"(no usable person box or unreadable), {self.boxes} person boxes")


def person_boxes(record: dict) -> list[list[float]]:
    """x, y, w, h full-body boxes of the real people of one odgt record (no ignore/crowd entries)."""
    boxes = []
    for entry in record.get("gtboxes", []):
        if entry.get("tag") != "person" or entry.get("extra", {}).get("ignore", 0):
            continue
        x, y, w, h = (float(v) for v in entry["fbox"])
        if w > 1 and h > 1:
            boxes.append([x, y, w, h])
    return boxes


def convert_crowdhuman(odgt: str | Path, images: str | Path, output: str | Path, *, limit: int | None = None,
                       min_people: int = 1, copy: bool = False) -> ConvertReport:
    """Write one sequence folder per annotated image of ``odgt`` (images in ``images/<ID>.jpg``)."""
    odgt, images, output = Path(odgt), Path(images), Path(output)
    if not odgt.is_file():
        raise FileNotFoundError(f"CrowdHuman annotation file {odgt} does not exist")
    if not images.is_dir():
        raise FileNotFoundError(f"CrowdHuman image folder {images} does not exist")
    output.mkdir(parents=True, exist_ok=True)
    written = existing = skipped = boxes_total = 0
    with odgt.open() as fh:
        for line_number, line in enumerate(fh, 1):
            if limit is not None and written + existing >= limit:
                break
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                image_id = str(record["ID"])
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise ValueError(f"{odgt}:{line_number} is not a CrowdHuman record ({exc})") from None
            boxes = person_boxes(record)
            image = images / f"{image_id}.jpg"
            folder = output / _UNSAFE.sub("_", image_id)
            if (folder / "seqinfo.ini").is_file():
                existing += 1
                boxes_total += len(boxes)
                continue
            frame = cv2.imread(str(image)) if len(boxes) >= min_people and image.is_file() else None
            if frame is None:
                skipped += 1
                continue
            height, width = frame.shape[:2]
            _write_sequence(folder, image, boxes, width, height, copy)
            written += 1
            boxes_total += len(boxes)
    return ConvertReport(written, existing, skipped, boxes_total)


def _write_sequence(folder: Path, image: Path, boxes: list[list[float]], width: int, height: int, copy: bool) -> None:
    tmp = folder.with_name(folder.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "img1").mkdir(parents=True)
    (tmp / "gt").mkdir()
    target = tmp / "img1" / "000001.jpg"
    if copy:
        shutil.copyfile(image, target)
    else:
        target.symlink_to(image.resolve())
    rows = [f"1,{k},{x:.1f},{y:.1f},{w:.1f},{h:.1f},1,1,1.0" for k, (x, y, w, h) in enumerate(boxes, 1)]
    (tmp / "gt" / "gt.txt").write_text("\n".join(rows) + "\n")
    (tmp / "seqinfo.ini").write_text(
        f"[Sequence]\nname={folder.name}\nimDir=img1\nframeRate=1\nseqLength=1\nimWidth={width}\n"
        f"imHeight={height}\nimExt=.jpg\n")
    tmp.rename(folder)

"""A clip turned into a pseudo-labelled MOTChallenge sequence (``vsdmot pseudo-label``; ours).

Reads a video, GIF or image folder once: YOLOX-Nano detections of every frame and person re-ID
embeddings of its confident boxes. :func:`model.data.pseudo_labels.pseudo_label` makes the tracks;
the sequence is written like a labelled one (``img1/``, ``gt/gt.txt`` with conf 1, class 1
pedestrian, visibility 1; ``seqinfo.ini``) plus ``pseudo_labels.json``: the source and its sha256,
the detector, the re-ID model, every threshold and the counts, so a model card can say exactly what
a checkpoint was trained on.
"""

from __future__ import annotations

import configparser
import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from model.core.types import Detections, Tracks
from model.core.weights import sha256_of
from model.data.mot_io import write_mot
from model.data.pseudo_labels import PROVENANCE_NAME, PseudoLabelConfig, check_not_validation, pseudo_label
from model.data.video import SequenceInfo, open_frames


@dataclass
class SourceDetections:
    """What the pseudo-labeller reads of one clip, frame index t = 0..T-1 for frames first..last.

    Attributes:
        detections: T person detections (original pixels).
        embeddings: T (N_t, D) L2-normalised re-ID vectors; zero rows for boxes under the embed score.
        info: the clip's size, rate and length.
        first: the clip frame number of t = 0.
    """

    detections: list[Detections]
    embeddings: list[np.ndarray]
    info: SequenceInfo
    first: int


def detect_source(source: Path, detector, embedder, first: int = 1, last: int | None = None,
                  embed_score: float = 0.5, progress: bool = False) -> SourceDetections:
    """Detect every frame of ``source`` (and embed boxes scoring at least ``embed_score``)."""
    frames = open_frames(source, first, last)
    detections, embeddings = [], []
    for _, frame in tqdm(frames, total=len(frames), disable=not progress, desc=f"detect {source.name}"):
        found = detector(frame).detections
        vectors = np.zeros((len(found), embedder.dim), dtype=np.float32)
        confident = found.scores >= embed_score
        if confident.any():
            vectors[confident] = embedder(frame, found.xyxy[confident])
        detections.append(found)
        embeddings.append(vectors)
    return SourceDetections(detections, embeddings, frames.info, frames.first)


def pseudo_label_source(source: str | Path, output: str | Path, config: PseudoLabelConfig | None = None,
                        first: int = 1, last: int | None = None, overwrite: bool = False,
                        progress: bool = True) -> Path:
    """Pseudo-label ``source`` into the sequence folder ``output``; returns ``output``."""
    from model.tracking.detector import YoloxDetector
    from model.tracking.reid import ReidEmbedder

    source, output = Path(source), Path(output)
    check_not_validation(source)
    config = config or PseudoLabelConfig()
    if output.exists() and any(output.iterdir()):
        if not overwrite:
            raise FileExistsError(f"{output} is not empty: pick a new folder or pass --overwrite")
        shutil.rmtree(output)
    detector, embedder = YoloxDetector(), ReidEmbedder()
    found = detect_source(source, detector, embedder, first, last, config.embed_score, progress)
    tracks = pseudo_label(found.detections, config, found.embeddings if config.reid else None)
    provenance = {
        "source": source.name,
        "source_sha256": sha256_of(source) if source.is_file() else None,
        "frames": [found.first, found.first + len(tracks) - 1],
        "detector": detector.name,
        "reid": embedder.config.model if config.reid else None,
        "config": asdict(config),
        "tracks": int(len({int(i) for t in tracks for i in t.ids})),
        "boxes": int(sum(len(t) for t in tracks)),
        "interpolated_boxes": int(sum(int((t.scores == 0).sum()) for t in tracks)),
        "note": "pseudo-labels (ours): offline tracks of YOLOX-Nano detections, not human annotation",
    }
    write_pseudo_sequence(source, output, found, tracks, provenance)
    return output


def write_pseudo_sequence(source: Path, output: Path, found: SourceDetections, tracks: list[Tracks],
                          provenance: dict) -> None:
    """img1/ (frames as JPEG, numbered from 1), gt/gt.txt, seqinfo.ini and the provenance JSON."""
    images = output / "img1"
    images.mkdir(parents=True, exist_ok=True)
    last = found.first + len(tracks) - 1
    for index, (_, frame) in enumerate(open_frames(source, found.first, last), start=1):
        cv2.imwrite(str(images / f"{index:06d}.jpg"), frame, [cv2.IMWRITE_JPEG_QUALITY, 95])
    rows = {index: t for index, t in enumerate(tracks, start=1) if len(t)}
    gt_file = write_mot(output / "gt" / "gt.txt", rows, decimals=2)
    # MOTChallenge gt columns: conf 1 (evaluated), class 1 (pedestrian), visibility 1.
    lines = [",".join(line.split(",")[:6] + ["1", "1", "1"]) for line in gt_file.read_text().splitlines()]
    gt_file.write_text("\n".join(lines) + ("\n" if lines else ""))
    info = configparser.ConfigParser()
    info.optionxform = str  # MOTChallenge keys are camelCase
    info["Sequence"] = {
        "name": output.name, "imDir": "img1", "frameRate": f"{found.info.fps:g}", "seqLength": str(len(tracks)),
        "imWidth": str(found.info.width), "imHeight": str(found.info.height), "imExt": ".jpg",
    }
    with (output / "seqinfo.ini").open("w") as handle:
        info.write(handle, space_around_delimiters=False)
    (output / PROVENANCE_NAME).write_text(json.dumps(provenance, indent=2) + "\n")

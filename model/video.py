"""Frame sources: a MOTChallenge sequence folder, a video file, or an animated GIF.

Every consumer (tracking CLI, degradation, training caches, the web app) reads frames through
:func:`open_frames`, so they all agree on colour order (BGR uint8), frame numbering (1-based,
as in MOTChallenge) and failure messages for unreadable input.
"""

from __future__ import annotations

import configparser
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".webm", ".mkv", ".m4v", ".gif"}


class UnreadableVideoError(ValueError):
    """The input exists but no frames can be decoded from it."""


@dataclass
class SequenceInfo:
    """What ``seqinfo.ini`` says (or what we can read off a video)."""

    name: str
    fps: float
    num_frames: int
    width: int
    height: int


class FrameSource:
    """Iterates ``(frame_number, bgr_frame)`` with 1-based frame numbers.

    ``first``/``last`` (inclusive, 1-based) restrict to a span, e.g. a validation split.
    """

    def __init__(self, path: str | Path, first: int = 1, last: int | None = None) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise FileNotFoundError(f"no such file or folder: {self.path}")
        self.first = max(1, int(first))
        self.is_sequence = self.path.is_dir()
        if self.is_sequence:
            self.info, self._images = _read_sequence(self.path)
        else:
            self.info = _probe_video(self.path)
            self._images = None
        total = self.info.num_frames
        self.last = total if last is None else min(int(last), total)

    def __len__(self) -> int:
        return max(0, self.last - self.first + 1)

    def __iter__(self) -> Iterator[tuple[int, np.ndarray]]:
        if self._images is not None:
            for number in range(self.first, self.last + 1):
                image = cv2.imread(str(self._images[number - 1]), cv2.IMREAD_COLOR)
                if image is None:
                    raise UnreadableVideoError(f"cannot decode {self._images[number - 1]}")
                yield number, image
            return
        yield from _iter_video(self.path, self.first, self.last)


def open_frames(path: str | Path, first: int = 1, last: int | None = None) -> FrameSource:
    return FrameSource(path, first, last)


def _read_sequence(folder: Path) -> tuple[SequenceInfo, list[Path]]:
    img_dir = folder / "img1"
    if not img_dir.is_dir():
        raise UnreadableVideoError(f"{folder} is not a MOTChallenge sequence (no img1/ folder)")
    images = sorted(p for p in img_dir.iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
    ini = folder / "seqinfo.ini"
    fps, width, height = 25.0, 0, 0
    num_frames = len(images)
    name = folder.name
    if ini.exists():
        parser = configparser.ConfigParser()
        parser.read(ini)
        seq = parser["Sequence"]
        name = seq.get("name", name)
        fps = float(seq.get("frameRate", fps))
        width = int(seq.get("imWidth", 0))
        height = int(seq.get("imHeight", 0))
        num_frames = min(num_frames, int(seq.get("seqLength", num_frames)))
    if num_frames == 0:
        raise UnreadableVideoError(f"{img_dir} holds no frames")
    if not width:
        first = cv2.imread(str(images[0]))
        height, width = first.shape[:2]
    return SequenceInfo(name, fps, num_frames, width, height), images[:num_frames]


def _probe_video(path: Path) -> SequenceInfo:
    if path.suffix.lower() == ".gif":
        frames = _gif_frames(path)
        height, width = frames[0].shape[:2]
        return SequenceInfo(path.stem, 10.0, len(frames), width, height)
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise UnreadableVideoError(f"cannot open {path.name} as a video")
        ok, frame = cap.read()
        if not ok or frame is None:
            raise UnreadableVideoError(f"{path.name} has no decodable frames")
        fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        height, width = frame.shape[:2]
    finally:
        cap.release()
    if count <= 0:  # some containers do not store a count: count by decoding
        count = sum(1 for _ in _iter_video(path, 1, None))
    fps = fps if 0 < fps < 1000 else 25.0
    return SequenceInfo(path.stem, float(fps), count, width, height)


def _gif_frames(path: Path) -> list[np.ndarray]:
    from PIL import Image, ImageSequence

    try:
        with Image.open(path) as image:
            frames = [cv2.cvtColor(np.asarray(f.convert("RGB")), cv2.COLOR_RGB2BGR) for f in ImageSequence.Iterator(image)]
    except Exception as exc:  # PIL raises several types for broken files
        raise UnreadableVideoError(f"cannot decode {path.name}: {exc}") from exc
    if not frames:
        raise UnreadableVideoError(f"{path.name} has no frames")
    return frames


def _iter_video(path: Path, first: int, last: int | None) -> Iterator[tuple[int, np.ndarray]]:
    if path.suffix.lower() == ".gif":
        for number, frame in enumerate(_gif_frames(path), start=1):
            if last is not None and number > last:
                return
            if number >= first:
                yield number, frame
        return
    cap = cv2.VideoCapture(str(path))
    try:
        number = 0
        while True:
            ok, frame = cap.read()
            if not ok or frame is None:
                return
            number += 1
            if last is not None and number > last:
                return
            if number >= first:
                yield number, frame
    finally:
        cap.release()

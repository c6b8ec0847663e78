"""Frame sources: a MOTChallenge sequence folder, a video file, or an animated GIF.

Every consumer (tracking CLI, degradation, training caches, the web app) reads frames through
:func:`open_frames`, so they all agree on colour order (BGR uint8), frame numbering (1-based,
as in MOTChallenge) and failure messages for unreadable input.

Why frames are read lazily and checked up front: the web app opens files strangers upload. Only
one decoded frame is ever held at a time (a 50 MB GIF can hold gigabytes of pixels), the frame
size is checked from the header before any pixel is decoded (a tiny file can announce a
65535 x 65535 canvas), and a file that stops decoding before the frame count its header promises
raises instead of quietly giving a shorter clip.
"""

from __future__ import annotations

import configparser
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".webm", ".mkv", ".m4v", ".gif"}
# 8K UHD (7680 x 4320, ~100 MB per BGR frame): beyond this a frame is a decompression bomb, not footage.
DEFAULT_MAX_PIXELS = 7680 * 4320
GIF_FPS = 10.0  # a GIF that stores no usable frame delays plays at this rate
GIF_DELAY_SAMPLE = 64  # frame delays read (from the headers, no pixels) to find a GIF's rate


class UnreadableVideoError(ValueError):
    """The input exists but no frames can be decoded from it."""


class FrameTooLargeError(UnreadableVideoError):
    """The frames are larger than the caller allows (checked before any pixel is decoded)."""


@dataclass
class SequenceInfo:
    """What ``seqinfo.ini`` says (or what we can read off a video)."""

    name: str
    fps: float
    num_frames: int
    width: int
    height: int


class FrameSource:
    """Iterates ``(frame_number, bgr_frame)`` with 1-based frame numbers, one decoded frame at a time.

    ``first``/``last`` (inclusive, 1-based) restrict to a span, e.g. a validation split.
    ``max_pixels`` refuses frames with more pixels (FrameTooLargeError) before decoding any.
    ``count_limit``: a video whose container stores no frame count is counted by decoding; stop
    there (``count_is_lower_bound`` then says the true length may be larger).
    """

    def __init__(
        self, path: str | Path, first: int = 1, last: int | None = None, max_pixels: int = DEFAULT_MAX_PIXELS,
        count_limit: int | None = None,
    ) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise FileNotFoundError(f"no such file or folder: {self.path}")
        self.first = max(1, int(first))
        self.max_pixels = int(max_pixels)
        self.is_sequence = self.path.is_dir()
        self.count_is_lower_bound = False
        if self.is_sequence:
            self.info, self._images = _read_sequence(self.path)
        else:
            self.info, self.count_is_lower_bound = _probe_video(self.path, self.max_pixels, count_limit)
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
        if self.path.suffix.lower() == ".gif":
            yield from _iter_gif(self.path, self.first, self.last, self.info.num_frames)
        else:
            yield from _iter_video(self.path, self.first, self.last, self.info.num_frames)


def open_frames(
    path: str | Path, first: int = 1, last: int | None = None, max_pixels: int = DEFAULT_MAX_PIXELS,
    count_limit: int | None = None,
) -> FrameSource:
    return FrameSource(path, first, last, max_pixels, count_limit)


def check_frame_size(name: str, width: int, height: int, max_pixels: int) -> None:
    """FrameTooLargeError when ``width x height`` exceeds ``max_pixels``; says how to fix it."""
    if width * height > max_pixels:
        raise FrameTooLargeError(
            f"{name} has {width}x{height} frames ({width * height / 1e6:.1f} megapixels), more than the "
            f"{max_pixels / 1e6:.1f} megapixels allowed: scale it down first "
            f"(e.g. ffmpeg -i {name} -vf scale=1280:-2 smaller.mp4)"
        )


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


def _probe_video(path: Path, max_pixels: int, count_limit: int | None) -> tuple[SequenceInfo, bool]:
    """The clip's info, and whether its frame count is only a lower bound (counting stopped early)."""
    if path.suffix.lower() == ".gif":
        return _probe_gif(path, max_pixels), False
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise UnreadableVideoError(f"cannot open {path.name} as a video")
        # The container's header, before decoding: a bomb is refused without touching its pixels.
        check_frame_size(path.name, int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
                         max_pixels)
        ok, frame = cap.read()
        if not ok or frame is None:
            raise UnreadableVideoError(f"{path.name} has no decodable frames")
        height, width = frame.shape[:2]
        check_frame_size(path.name, width, height, max_pixels)  # the header may have lied
        fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    finally:
        cap.release()
    lower_bound = False
    if count <= 0:  # some streams (e.g. raw H.264) store no count: count by decoding, up to the limit
        count = _count_by_decoding(path, count_limit)
        lower_bound = count_limit is not None and count >= count_limit
    fps = fps if 0 < fps < 1000 else 25.0
    return SequenceInfo(path.stem, float(fps), count, width, height), lower_bound


def _count_by_decoding(path: Path, limit: int | None) -> int:
    cap = cv2.VideoCapture(str(path))
    try:
        count = 0
        while (limit is None or count < limit) and cap.grab():  # grab: decode without converting
            count += 1
        return count
    finally:
        cap.release()


def _probe_gif(path: Path, max_pixels: int) -> SequenceInfo:
    """Size from the header, count from PIL's ``n_frames`` (skips frame data), first frame decoded."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            width, height = image.size
            check_frame_size(path.name, width, height, max_pixels)
            count = image.n_frames
            _to_bgr(image)  # a GIF whose first frame is broken is refused now, not mid-job
            fps = _gif_fps(image, count)
    except Image.DecompressionBombError:
        raise FrameTooLargeError(
            f"{path.name} announces a canvas too large to decode safely (more than {max_pixels / 1e6:.1f} megapixels)"
        ) from None
    except UnreadableVideoError:
        raise
    except Exception as exc:  # PIL raises several types for broken files
        raise UnreadableVideoError(f"cannot decode {path.name}: {exc}") from exc
    if count < 1:
        raise UnreadableVideoError(f"{path.name} has no frames")
    return SequenceInfo(path.stem, fps, count, width, height)


def gif_rate(delays_ms: list[float]) -> float:
    """Frames per second from a GIF's per-frame delays: 1000 / their median.

    Why the median: encoders often give the first or last frame a long pause. Delays under 20 ms
    are what browsers replace with 100 ms (and what broken encoders write), so they do not count;
    with none left the nominal GIF_FPS is used.
    """
    usable = sorted(d for d in delays_ms if d >= 20)
    if not usable:
        return GIF_FPS
    return round(1000.0 / usable[len(usable) // 2], 3)


def _gif_fps(image: object, count: int) -> float:
    delays = []
    for index in range(min(count, GIF_DELAY_SAMPLE)):
        image.seek(index)
        delays.append(float(image.info.get("duration", 0) or 0))
    image.seek(0)
    return gif_rate(delays)


def _to_bgr(image: object) -> np.ndarray:
    return cv2.cvtColor(np.asarray(image.convert("RGB")), cv2.COLOR_RGB2BGR)


def _stopped_early(name: str, decoded: int, announced: int) -> UnreadableVideoError:
    return UnreadableVideoError(
        f"{name} stopped decoding after frame {decoded} although its header announces {announced} frames: "
        f"the file is truncated or damaged; re-encode it, or track at most its first {decoded} frames"
    )


def _iter_gif(path: Path, first: int, last: int, announced: int) -> Iterator[tuple[int, np.ndarray]]:
    from PIL import Image

    with Image.open(path) as image:
        for number in range(first, last + 1):
            try:
                image.seek(number - 1)  # sequential seeks decode one frame on top of the last
                frame = _to_bgr(image)
            except EOFError:
                raise _stopped_early(path.name, number - 1, announced) from None
            except Exception as exc:  # e.g. OSError "image file is truncated"
                raise UnreadableVideoError(f"cannot decode frame {number} of {path.name}: {exc}") from exc
            yield number, frame


def _iter_video(path: Path, first: int, last: int | None, announced: int | None) -> Iterator[tuple[int, np.ndarray]]:
    """Decode frames ``first..last``; ``announced`` (the header's count) turns an early end into an error."""
    cap = cv2.VideoCapture(str(path))
    try:
        number = 0
        while last is None or number < last:
            ok, frame = cap.read()
            if not ok or frame is None:
                if announced is not None and last is not None and number < last:
                    raise _stopped_early(path.name, number, announced)
                return
            number += 1
            if number >= first:
                yield number, frame
    finally:
        cap.release()

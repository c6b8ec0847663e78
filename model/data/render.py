"""Drawing tracks and writing browser-playable H.264 video (PyAV's bundled libx264).

OpenCV's pip wheels cannot write H.264, and their mp4v output does not play in Chromium, so every
video the project shows a person goes through :class:`VideoWriter` here.
"""

from __future__ import annotations

import colorsys
from pathlib import Path

import cv2
import numpy as np

from model.core.types import Tracks


def id_colour(track_id: int) -> tuple[int, int, int]:
    """A stable, well-separated BGR colour per identity (golden-ratio hue steps)."""
    hue = (track_id * 0.618033988749895) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.85, 1.0)
    return int(b * 255), int(g * 255), int(r * 255)


def draw_tracks(frame: np.ndarray, tracks: Tracks, title: str | None = None) -> np.ndarray:
    """Boxes coloured and labelled by identity, plus an optional caption; returns a copy."""
    canvas = frame.copy()
    thickness = max(1, round(min(frame.shape[:2]) / 300))
    font_scale = max(0.4, min(frame.shape[:2]) / 900)
    for (x1, y1, x2, y2), track_id in zip(tracks.xyxy.astype(int), tracks.ids):
        colour = id_colour(int(track_id))
        cv2.rectangle(canvas, (x1, y1), (x2, y2), colour, thickness)
        label = str(int(track_id))
        (w, h), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, font_scale, 1)
        cv2.rectangle(canvas, (x1, max(0, y1 - h - 4)), (x1 + w + 4, y1), colour, -1)
        cv2.putText(canvas, label, (x1 + 2, y1 - 3), cv2.FONT_HERSHEY_SIMPLEX, font_scale, (0, 0, 0), 1, cv2.LINE_AA)
    if title:
        cv2.putText(canvas, title, (8, int(28 * font_scale / 0.6)), cv2.FONT_HERSHEY_SIMPLEX, font_scale * 1.2,
                    (255, 255, 255), 2, cv2.LINE_AA)
    return canvas


class VideoWriter:
    """H.264 / yuv420p / faststart MP4 that browsers play; odd frame sizes are padded to even."""

    def __init__(self, path: str | Path, fps: float, preset: str = "veryfast", crf: int = 23) -> None:
        import av

        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._container = av.open(str(self.path), mode="w", options={"movflags": "+faststart"})
        self._fps = max(1, round(fps))
        self._stream = None
        self._preset, self._crf = preset, crf

    def write(self, frame_bgr: np.ndarray) -> None:
        import av

        height, width = frame_bgr.shape[:2]
        if height % 2 or width % 2:
            frame_bgr = cv2.copyMakeBorder(frame_bgr, 0, height % 2, 0, width % 2, cv2.BORDER_CONSTANT)
        if self._stream is None:
            self._stream = self._container.add_stream("libx264", rate=self._fps)
            self._stream.width, self._stream.height = frame_bgr.shape[1], frame_bgr.shape[0]
            self._stream.pix_fmt = "yuv420p"
            self._stream.options = {"preset": self._preset, "crf": str(self._crf)}
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame_bgr), format="bgr24")
        for packet in self._stream.encode(frame):
            self._container.mux(packet)

    def close(self) -> None:
        if self._stream is not None:
            for packet in self._stream.encode():
                self._container.mux(packet)
        self._container.close()

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

"""The rendered videos: one panel per tracker, and the panels side by side.

Why scale before drawing: frames are shrunk to a fixed panel width first and the boxes scaled with
them, so labels stay readable and H.264 encoding stays cheap whatever the upload's resolution.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from model.data.render import VideoWriter, draw_tracks
from model.core.choices import VARIANT_TITLES
from model.core.types import Tracks

PANEL_TITLES = VARIANT_TITLES


def panel_size(width: int, height: int, panel_width: int) -> tuple[int, int]:
    """(width, height) of a panel: at most ``panel_width`` wide, aspect kept, both even."""
    scale = min(1.0, panel_width / width)
    out_w = max(2, int(round(width * scale / 2)) * 2)
    out_h = max(2, int(round(height * scale / 2)) * 2)
    return out_w, out_h


def scale_tracks(tracks: Tracks, sx: float, sy: float) -> Tracks:
    xyxy = tracks.xyxy * np.array([sx, sy, sx, sy], dtype=np.float32)
    return Tracks(xyxy=xyxy, scores=tracks.scores, ids=tracks.ids)


def track_panel(frame: np.ndarray, tracks: Tracks, title: str, size: tuple[int, int]) -> np.ndarray:
    """The frame at panel size with each box coloured and labelled by identity."""
    height, width = frame.shape[:2]
    resized = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
    return draw_tracks(resized, scale_tracks(tracks, size[0] / width, size[1] / height), title)


def message_panel(lines: list[str], size: tuple[int, int]) -> np.ndarray:
    """A dark panel with a few lines of text: what a tracker that could not run shows instead."""
    width, height = size
    canvas = np.full((height, width, 3), 40, dtype=np.uint8)
    scale = max(0.4, width / 900)
    y = int(height * 0.4)
    for line in lines:
        cv2.putText(canvas, line, (12, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (230, 230, 230), 1, cv2.LINE_AA)
        y += int(36 * scale / 0.6)
    return canvas


class PanelWriters:
    """``<name>.mp4`` for each panel in ``own_files`` plus ``side_by_side.mp4`` with every panel in a
    row (a message panel, e.g. a missing tracker, appears only there)."""

    def __init__(self, out_dir: Path, fps: float, panels: list[str], own_files: list[str]) -> None:
        self.panels = panels
        self.paths = {name: out_dir / f"{name}.mp4" for name in panels if name in own_files}
        self.side_by_side_path = out_dir / "side_by_side.mp4"
        self._writers = {name: VideoWriter(path, fps) for name, path in self.paths.items()}
        self._combined = VideoWriter(self.side_by_side_path, fps)

    def write(self, images: dict[str, np.ndarray]) -> None:
        for name, writer in self._writers.items():
            writer.write(images[name])
        self._combined.write(np.hstack([images[name] for name in self.panels]))

    def close(self) -> None:
        for writer in self._writers.values():
            writer.close()
        self._combined.close()

"""Per-frame cache of everything frozen: detector proposals + PAFPN features, frame quality and
teacher embeddings, for one (sequence, frame span, degradation) at a time.

Training on a CPU is only practical because the detector and the teacher are frozen: they run once
per frame here, and every epoch afterwards reads their outputs from memory-mapped arrays.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from tqdm import tqdm

from model.core import settings
from model.core.types import Detections, DetectorOutput
from model.data.video import open_frames

if TYPE_CHECKING:
    from model.vsd.quality import QualityScores

CACHE_VERSION = 1


@dataclass(frozen=True)
class CacheKey:
    """Identifies one cached rendition of a sequence span."""

    sequence: str
    first: int
    last: int
    preset: str | None  # None = clean (HQ)
    seed: int
    detector: str = "yolox_nano"

    @property
    def folder_name(self) -> str:
        quality = "hq" if self.preset is None else f"{self.preset}-s{self.seed}"
        return f"{self.sequence}_{self.first}-{self.last}_{quality}_{self.detector}_v{CACHE_VERSION}"


class FrameCache:
    """Read access to a built cache folder (memory-mapped; cheap to open)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.meta: dict[str, Any] = json.loads((folder / "meta.json").read_text())
        self.frames: list[int] = self.meta["frames"]
        self._index = {f: i for i, f in enumerate(self.frames)}
        self.boxes = np.load(folder / "boxes.npy", mmap_mode="r")
        self.scores = np.load(folder / "scores.npy", mmap_mode="r")
        self.offsets = np.load(folder / "offsets.npy")
        self.features = [np.load(folder / f"feat_{i}.npy", mmap_mode="r") for i in range(self.meta["num_levels"])]
        self._quality: np.ndarray | None = None
        self._teachers: dict[str, np.ndarray] = {}

    @property
    def quality(self) -> np.ndarray:
        """(N, 4) clarity, noise, contrast, Q per frame (the fields of QualityScores, in order), under
        the current quality definition.

        Stored under a hash of :class:`model.vsd.quality.QualityConfig`, so changing the definition
        recomputes it instead of silently serving stale values."""
        if self._quality is None:
            path = self.folder / f"quality_{quality_tag()}.npy"
            if not path.exists():
                _write_atomic(path, _assess_span(Path(self.meta["source"]), self.meta["key"]))
            self._quality = np.load(path)
        return self._quality

    def __len__(self) -> int:
        return len(self.frames)

    def position(self, frame: int) -> int:
        return self._index[frame]

    def quality_scores(self, frame: int) -> QualityScores:
        """The frame quality of ``frame`` as the tracker consumes it."""
        from model.vsd.quality import QualityScores

        return QualityScores(*(float(v) for v in self.quality[self._index[frame]]))

    def detections(self, frame: int) -> DetectorOutput:
        """The detector's output for ``frame`` as it was cached (features stored in fp16, read as fp32)."""
        i = self._index[frame]
        lo, hi = self.offsets[i], self.offsets[i + 1]
        return DetectorOutput(
            detections=Detections(np.array(self.boxes[lo:hi]), np.array(self.scores[lo:hi])),
            features=[np.asarray(level[i], dtype=np.float32) for level in self.features],
            scale=float(self.meta["scale"]),
            image_size=tuple(self.meta["image_size"]),
            input_size=int(self.meta["input_size"]),
            strides=tuple(self.meta["strides"]),
        )

    def teacher(self, name: str) -> np.ndarray:
        """(N, D) frozen-teacher embeddings of the cached frames (loaded once)."""
        if name not in self._teachers:
            path = self.folder / f"teacher_{name}.npy"
            if not path.exists():
                raise FileNotFoundError(f"no {name} teacher embeddings in {self.folder}; build them with build_teacher_cache")
            self._teachers[name] = np.load(path)
        return self._teachers[name]


def cache_root() -> Path:
    root = settings.cache_dir() / "frames"
    root.mkdir(parents=True, exist_ok=True)
    return root


def build_frame_cache(
    seq_dir: Path, key: CacheKey, detector: Any, root: Path | None = None, progress: bool = True
) -> FrameCache:
    """Run detector (+ degradation + quality) over the span once; reuse the folder when complete."""
    folder = (root or cache_root()) / key.folder_name
    if (folder / "meta.json").exists():
        return FrameCache(folder)
    # Build in a private folder and rename at the end: concurrent builders never see half a cache.
    tmp = folder.with_name(f"{folder.name}.partial-{os.getpid()}-{threading.get_ident()}")
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        _write_cache(tmp, seq_dir, key, detector, progress)
        try:
            tmp.rename(folder)
        except OSError:  # another process finished the same cache first
            pass
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # only left when something failed or another builder won
    return FrameCache(folder)


def _write_cache(tmp: Path, seq_dir: Path, key: CacheKey, detector: Any, progress: bool) -> None:
    n = len(open_frames(seq_dir, key.first, key.last))
    if n == 0:
        raise ValueError(f"{seq_dir} has no frames in {key.first}-{key.last}: nothing to cache")
    boxes, scores, offsets, quality, frames = [], [], [0], [], []
    feature_files: list[np.ndarray] = []
    meta: dict[str, Any] = {}
    rendered = rendered_frames(seq_dir, asdict(key))
    for i, (number, frame) in enumerate(tqdm(rendered, total=n, desc=f"cache {key.folder_name}", disable=not progress)):
        out = detector(frame)
        if not feature_files:
            feature_files = [
                np.lib.format.open_memmap(tmp / f"feat_{lvl}.npy", mode="w+", dtype=np.float16, shape=(n, *f.shape))
                for lvl, f in enumerate(out.features)
            ]
            meta = {
                "scale": float(out.scale),
                "image_size": list(out.image_size),
                "input_size": int(detector.input_size),
                "strides": list(out.strides),
                "num_levels": len(out.features),
            }
        for level, f in zip(feature_files, out.features):
            level[i] = f.astype(np.float16)
        boxes.append(out.detections.xyxy)
        scores.append(out.detections.scores)
        offsets.append(offsets[-1] + len(out.detections))
        quality.append(_quality_row(frame))
        frames.append(number)
    for level in feature_files:
        level.flush()
    np.save(tmp / "boxes.npy", np.concatenate(boxes).astype(np.float32).reshape(-1, 4))
    np.save(tmp / "scores.npy", np.concatenate(scores).astype(np.float32))
    np.save(tmp / "offsets.npy", np.asarray(offsets, dtype=np.int64))
    np.save(tmp / f"quality_{quality_tag()}.npy", np.asarray(quality, dtype=np.float32))
    meta.update({"frames": frames, "key": key.__dict__, "source": str(seq_dir)})
    (tmp / "meta.json").write_text(json.dumps(meta))


def quality_tag() -> str:
    from model.vsd.quality import QualityConfig

    return hashlib.sha256(json.dumps(asdict(QualityConfig()), sort_keys=True).encode()).hexdigest()[:10]


def _quality_row(frame: np.ndarray) -> list[float]:
    from model.vsd.quality import assess_frame

    q = assess_frame(frame)
    return [q.clarity, q.noise, q.contrast, q.q]


def rendered_frames(seq_dir: Path, key: dict[str, Any]):
    """The span's frames as the cache saw them: degraded with the same preset and seed, or with
    the HSV training augmentation (preset ``"hsv"``, one draw per frame from the seed)."""
    transform = None
    if key["preset"] == "hsv":
        from model.data.augment import augment_hsv

        def transform(frame: np.ndarray, number: int) -> np.ndarray:
            return augment_hsv(frame, np.random.default_rng([key["seed"], number]))
    elif key["preset"] is not None:
        from model.vsd.degrade import Degrader

        transform = Degrader(preset=key["preset"], seed=key["seed"])
    for number, frame in open_frames(seq_dir, key["first"], key["last"]):
        yield number, transform(frame, number) if transform is not None else frame


def _assess_span(seq_dir: Path, key: dict[str, Any]) -> np.ndarray:
    return np.asarray([_quality_row(frame) for _, frame in rendered_frames(seq_dir, key)], dtype=np.float32)


def _write_atomic(path: Path, array: np.ndarray) -> None:
    tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npy")
    np.save(tmp, array)
    os.replace(tmp, path)


def build_teacher_cache(cache: FrameCache, seq_dir: Path, teacher: Any, batch_size: int = 16, progress: bool = True) -> np.ndarray:
    """Embed every cached frame (degraded the same way) with a frozen teacher; stored next to the cache."""
    path = cache.folder / f"teacher_{teacher.name}.npy"
    if path.exists():
        return np.load(path)
    embeddings, batch = [], []
    frames = rendered_frames(seq_dir, cache.meta["key"])
    for _, frame in tqdm(frames, total=len(cache), desc=f"teacher {teacher.name}", disable=not progress):
        batch.append(frame)
        if len(batch) == batch_size:
            embeddings.append(teacher.embed(batch).float().numpy())
            batch = []
    if batch:
        embeddings.append(teacher.embed(batch).float().numpy())
    array = np.concatenate(embeddings).astype(np.float32)
    _write_atomic(path, array)
    return array

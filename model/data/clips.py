"""Training and validation data: the project's split, LQ renditions, and 5-frame clip sampling.

Split (fixed, so reported numbers are honest): train on TUD-Stadtmitte (all 179 frames) and
PETS09-S2L1 frames 1-500; validate on PETS09-S2L1 frames 501-795, clean and degraded. Validation
frames are never trained on. With only two training sequences, the paper's LQ:HQ = 2:1 mix (2/3 of
sequences degraded) becomes: every training sequence appears clean once and degraded
``lq_per_hq`` times, each degraded copy with its own preset/seed (sampled once per copy, as the
paper degrades a sequence consistently).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from model.core.box_ops import xyxy_to_cxcywh
from model.data.cache import CacheKey, FrameCache, build_frame_cache
from model.data.mot_io import read_gt
from model.data.region_cache import RegionTokens

TRAIN_SPANS: tuple[tuple[str, int, int], ...] = (("TUD-Stadtmitte", 1, 179), ("PETS09-S2L1", 1, 500))
VAL_SPAN: tuple[str, int, int] = ("PETS09-S2L1", 501, 795)
# Degraded training copies (never seed 0, the validation seed).
LQ_TRAIN_RENDITIONS: tuple[tuple[str, int], ...] = (("medium", 11), ("severe", 12))
HSV_RENDITION: tuple[str, int] = ("hsv", 21)  # colour-jittered clean copy (model.data.augment.augment_hsv)
VAL_RENDITIONS: dict[str, tuple[str, int] | None] = {"hq": None, "lq-medium": ("medium", 0), "lq-severe": ("severe", 0)}


def mix_renditions(lq_per_hq: float, recipes: tuple[tuple[str, int], ...] = LQ_TRAIN_RENDITIONS
                   ) -> list[tuple[str, int] | None]:
    """Renditions of each training sequence for an LQ:HQ mix: 0 = all HQ, k = the clean copy and the first k
    of ``recipes`` (k:1), inf = every one of ``recipes`` and no clean copy.

    ``recipes`` are the degraded copies, (preset, seed) each; the default is the paper-sized pair above,
    more (e.g. a ``realesrgan`` copy, or a second seed per preset) is issue 12's recipe lever (ours)."""
    if any(seed == 0 for _, seed in recipes):
        raise ValueError("degradation seed 0 is the validation recipe: training copies use other seeds")
    if lq_per_hq == 0:
        return [None]
    if np.isinf(lq_per_hq):
        return list(recipes)
    count = int(lq_per_hq)
    if count != lq_per_hq or count < 1 or count > len(recipes):
        raise ValueError(f"lq_per_hq must be 0, an integer 1..{len(recipes)} (the degraded recipes given) or inf, "
                         f"got {lq_per_hq}")
    return [None, *recipes[:count]]


@dataclass
class FrameTargets:
    """Ground truth of one frame in model coordinates.

    Attributes:
        boxes: (g, 4) cx, cy, w, h in [0, 1] of the letterboxed detector input.
        ids: (g,) long identities.
    """

    boxes: torch.Tensor
    ids: torch.Tensor


@dataclass
class TrainingSequence:
    name: str
    seq_dir: Path
    cache: FrameCache
    targets: dict[int, FrameTargets]
    rendition: tuple[str, int] | None  # None = clean
    # Whose teacher embeddings the distillation targets come from: this cache (the frame the student
    # sees, as in the paper) or the clean cache of the same span ("clean teacher", see model.training.loop).
    teacher_source: FrameCache | None = None
    # Ours (issue 13, ``--teacher-tokens regions``): the teacher's embedding of every proposal and object box.
    regions: RegionTokens | None = None

    @property
    def frames(self) -> list[int]:
        return self.cache.frames

    def teacher_embedding(self, teacher: str, frame: int) -> np.ndarray:
        """(D,) the frozen teacher's embedding that frame ``frame`` is distilled towards."""
        source = self.cache if self.teacher_source is None else self.teacher_source
        return source.teacher(teacher)[self.cache.position(frame)]


def load_sequence(seq_dir: Path, first: int, last: int, rendition: tuple[str, int] | None, detector: Any) -> TrainingSequence:
    preset, seed = rendition if rendition is not None else (None, 0)
    key = CacheKey(seq_dir.name, first, last, preset, seed, detector.name)
    cache = build_frame_cache(seq_dir, key, detector)
    gt = read_gt(seq_dir, first, last)
    scale, input_size = cache.meta["scale"], cache.meta["input_size"]
    targets = {}
    for frame in cache.frames:
        people = gt.pedestrians(frame)
        boxes = torch.as_tensor(people.xyxy * (scale / input_size))
        targets[frame] = FrameTargets(xyxy_to_cxcywh(boxes).clamp(0, 1), torch.as_tensor(people.ids))
    return TrainingSequence(seq_dir.name, seq_dir, cache, targets, rendition)


def sample_clips(
    sequences: list[TrainingSequence], num_clips: int, clip_len: int, max_interval: int, rng: np.random.Generator
) -> list[tuple[int, list[int]]]:
    """Clips of ``clip_len`` frames with one random interval in 1..max_interval each (paper IV-C).

    Start frames are drawn uniformly over all frames of all sequences, so each rendition is seen
    in proportion to its length. A sequence shorter than ``clip_len`` gives clips of all its frames;
    a one-image sequence (CrowdHuman, model.data.crowdhuman) gives its image ``clip_len`` times, which
    the objective turns into a pseudo-clip.
    """
    weights = np.array([len(s.frames) for s in sequences], dtype=np.float64)
    clips = []
    for _ in range(num_clips):
        s = int(rng.choice(len(sequences), p=weights / weights.sum()))
        frames = sequences[s].frames
        if len(frames) == 1:
            clips.append((s, frames * clip_len))
            continue
        length = min(clip_len, len(frames))
        interval = int(rng.integers(1, max_interval + 1))
        interval = min(interval, max(1, (len(frames) - 1) // max(length - 1, 1)))
        span = interval * (length - 1)
        start = int(rng.integers(0, len(frames) - span))
        clips.append((s, [frames[start + k * interval] for k in range(length)]))
    return clips

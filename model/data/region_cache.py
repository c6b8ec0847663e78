"""Region teacher tokens, computed once per (cached rendition, teacher, view) and stored beside the
frame cache (ours, issue 13; :mod:`model.vsd.regions`).

Two tables per rendition:

- proposals: one row per cached detector box (aligned with ``FrameCache.boxes``, so a proposal's
  position in its frame's detections, :attr:`ProposalInputs.index`, finds its token);
- objects: one row per ground-truth box (frame, identity), the token a track query following that
  identity is distilled towards.

The view decides which pixels the teacher crops: ``degraded`` = the rendition's own frames (what
the student sees), ``clean`` = the clean original of the same frame (privileged; boxes stay the
rendition's own). On a clean rendition the two are the same pixels and share one file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from model.data.cache import FrameCache, rendered_frames
from model.data.mot_io import read_gt

REGION_CACHE_VERSION = 1


def pixel_view(cache: FrameCache, view: str) -> str:
    """Which pixels ``view`` means for this rendition: a clean rendition only has its own."""
    return "degraded" if cache.meta["key"]["preset"] is None else view


def region_file(cache: FrameCache, teacher: str, view: str) -> Path:
    return cache.folder / f"regions_{teacher}_{pixel_view(cache, view)}_v{REGION_CACHE_VERSION}.npz"


@dataclass
class RegionTokens:
    """A rendition's region tokens (fp16 on disk, fp32 out).

    Attributes:
        proposals: (total boxes, D), row k = the k-th cached detector box of the rendition.
        proposal_valid: (total boxes,) bool.
        offsets: (N + 1,) the frame cache's box offsets.
        objects: (total gt boxes, D).
        object_valid: (total gt boxes,) bool.
        object_keys: (total gt boxes, 2) int64 (frame, identity).
    """

    frames: list[int]
    proposals: np.ndarray
    proposal_valid: np.ndarray
    offsets: np.ndarray
    objects: np.ndarray
    object_valid: np.ndarray
    object_keys: np.ndarray

    def __post_init__(self) -> None:
        self._position = {f: i for i, f in enumerate(self.frames)}
        self._object_row = {(int(f), int(i)): r for r, (f, i) in enumerate(self.object_keys)}

    @property
    def dim(self) -> int:
        return int(self.proposals.shape[1])

    def for_proposals(self, frame: int, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(k, D) tokens and (k,) valid of the proposals at positions ``index`` of ``frame``'s detections."""
        base = int(self.offsets[self._position[frame]])
        rows = base + np.asarray(index, dtype=np.int64)
        return self.proposals[rows].astype(np.float32), self.proposal_valid[rows]

    def for_objects(self, frame: int, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(k, D) tokens and (k,) valid of identities ``ids`` in ``frame``; an identity not in the
        frame's ground truth (an inserted false positive, -1, or one that has left) is not valid."""
        out = np.zeros((len(ids), self.dim), dtype=np.float32)
        valid = np.zeros(len(ids), dtype=bool)
        for k, identity in enumerate(np.asarray(ids).tolist()):
            row = self._object_row.get((frame, int(identity)))
            if row is not None and self.object_valid[row]:
                out[k], valid[k] = self.objects[row], True
        return out, valid


def build_region_cache(cache: FrameCache, seq_dir: Path, teacher, view: str, progress: bool = True) -> RegionTokens:
    """Embed every cached proposal box and every ground-truth box of the rendition once; reuse the file."""
    path = region_file(cache, teacher.name, view)
    if not path.exists():
        key = dict(cache.meta["key"])
        if pixel_view(cache, view) == "clean":
            key = {**key, "preset": None, "seed": 0}
        gt = read_gt(seq_dir, key["first"], key["last"])
        proposals, proposal_valid, objects, object_valid, object_keys = [], [], [], [], []
        frames = rendered_frames(seq_dir, key)
        for number, frame in tqdm(frames, total=len(cache), desc=f"regions {teacher.name} {view}", disable=not progress):
            i = cache.position(number)
            lo, hi = int(cache.offsets[i]), int(cache.offsets[i + 1])
            answer = teacher.embed(frame, np.asarray(cache.boxes[lo:hi]))
            proposals.append(answer.vectors)
            proposal_valid.append(answer.valid)
            people = gt.pedestrians(number)
            answer = teacher.embed(frame, people.xyxy)
            objects.append(answer.vectors)
            object_valid.append(answer.valid)
            object_keys.append(np.stack([np.full(len(people), number), people.ids], axis=1).astype(np.int64).reshape(-1, 2))
        tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")
        np.savez(tmp, proposals=np.concatenate(proposals).astype(np.float16),
                 proposal_valid=np.concatenate(proposal_valid),
                 objects=np.concatenate(objects).astype(np.float16), object_valid=np.concatenate(object_valid),
                 object_keys=np.concatenate(object_keys))
        os.replace(tmp, path)
    stored = np.load(path)
    tokens = RegionTokens(cache.frames, stored["proposals"], stored["proposal_valid"], np.asarray(cache.offsets),
                          stored["objects"], stored["object_valid"], stored["object_keys"])
    if len(tokens.proposals) != int(cache.offsets[-1]):
        raise ValueError(f"{path} holds {len(tokens.proposals)} proposal tokens but the cache has "
                         f"{int(cache.offsets[-1])} boxes; delete it to rebuild")
    return tokens

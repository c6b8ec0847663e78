"""Pseudo-labels for unlabelled clips (ours, not the paper's): offline tracks good enough to train on.

Self-training needs ground truth for scenes nobody labelled. Offline we may look at the whole clip,
both ways, which an online tracker cannot:

1. **Detect** every clean frame (YOLOX-Nano, the tracker's own proposals).
2. **Link forward and backward**: the same two-stage IoU linker (confident boxes first, then
   low-score boxes extend existing tracks only; constant-velocity prediction) runs over the frames
   in order and in reverse. A link between two detections is kept only where both passes make it,
   so a track breaks where either pass was unsure instead of swapping people.
3. **Stitch** the resulting tracklets across gaps of up to ``max_gap`` frames where the end of one
   and the start of the next are close in place and size and, with re-ID on, look like the same
   person (cosine of the tracklets' mean person re-ID embeddings, :mod:`model.tracking.reid`).
4. **Interpolate** the boxes of every gap linearly.
5. **Drop** what is not a person track: fragments with fewer than ``min_detections`` detections,
   tracks whose best score stays under ``min_peak_score``, and tracks wider than tall (median h/w
   under ``min_aspect``: cars, benches, the odd table).

Quality is measured, not assumed: ``benchmarks/pseudo_label_quality.py`` scores the pseudo-labels of
the labelled training spans against their ground truth (HOTA, IDF1) for every option, and the
defaults are chosen there. Validation sources are refused (:func:`check_not_validation`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

from model.core.box_ops import box_iou_numpy
from model.core.types import Detections, Tracks
from model.core.weights import sha256_of

# Sources the protocol validates on: never pseudo-labelled (and never trained on). By name and content.
VALIDATION_SOURCES: dict[str, str] = {
    "intel-one-by-one-person-detection.mp4": "a5964aa259099a482a8b360ffc2c57b5a30f84d5919236a4dad01f8e929ac07c",
}
VALIDATION_SEQUENCES: tuple[str, ...] = ("intel-one-by-one",)
PROVENANCE_NAME = "pseudo_labels.json"  # written beside a pseudo-labelled sequence's gt


@dataclass(frozen=True)
class PseudoLabelConfig:
    """Every threshold of the pseudo-labeller (defaults chosen on the training spans: 63.0 mean HOTA
    of the pseudo-labels on TUD-Stadtmitte 1-179 and PETS09-S2L1 1-500, benchmarks/pseudo_label_quality).

    Attributes:
        high_score: detections that may start a track or extend one in the first stage.
        low_score: detections under ``high_score`` but above this only extend tracks (second stage).
        match_iou: least IoU of a confident detection with a track's predicted box.
        low_match_iou: the same for low-score detections (stricter: they are often parts or ghosts).
        max_age: frames a linker track may go unmatched before it ends.
        bidirectional: keep only links the forward and the backward pass both make.
        reid: require re-ID similarity to stitch tracklets (else place and size only).
        reid_threshold: least cosine of two tracklets' mean embeddings to stitch them.
        max_gap: most frames between two stitched tracklets (and interpolated over).
        stitch_distance: most centre distance, in box heights, between the end of a tracklet
            (moved on by its velocity) and the start of the next, plus ``stitch_growth`` per gap frame.
        stitch_growth: see ``stitch_distance``.
        min_detections: least real (not interpolated) detections of a kept track.
        min_peak_score: least best detection score of a kept track.
        min_aspect: least median height / width of a kept track's boxes.
        embed_score: detections scoring at least this get a re-ID embedding (the others' count as none).
    """

    high_score: float = 0.7
    low_score: float = 0.1
    match_iou: float = 0.3
    low_match_iou: float = 0.5
    max_age: int = 10
    bidirectional: bool = True
    reid: bool = True
    reid_threshold: float = 0.6
    max_gap: int = 15
    stitch_distance: float = 0.5
    stitch_growth: float = 0.1
    min_detections: int = 8
    min_peak_score: float = 0.6
    min_aspect: float = 0.8
    embed_score: float = 0.5


@dataclass
class Tracklet:
    """Detections of one person over time: frame indices (0-based, increasing) and their boxes."""

    frames: list[int]
    boxes: list[np.ndarray]  # (4,) xyxy each
    scores: list[float]
    embeddings: list[np.ndarray] = field(default_factory=list)

    def extend(self, other: Tracklet) -> None:
        self.frames += other.frames
        self.boxes += other.boxes
        self.scores += other.scores
        self.embeddings += other.embeddings

    def mean_embedding(self) -> np.ndarray | None:
        useful = [e for e in self.embeddings if np.any(e)]
        if not useful:
            return None
        mean = np.mean(useful, axis=0)
        return mean / max(float(np.linalg.norm(mean)), 1e-12)

    def velocity(self, at_end: bool, span: int = 5) -> np.ndarray:
        """Mean per-frame box motion over the last (or first) ``span`` detections."""
        picks = slice(-span, None) if at_end else slice(0, span)
        frames, boxes = self.frames[picks], self.boxes[picks]
        if len(frames) < 2:
            return np.zeros(4)
        return (boxes[-1] - boxes[0]) / (frames[-1] - frames[0])


def check_not_validation(source: Path) -> None:
    """Refuse a validation source by name, by sequence folder name, or by the bytes of the file."""
    name = source.name
    if name in VALIDATION_SOURCES or name in VALIDATION_SEQUENCES:
        raise ValueError(f"{name} is validation data (the protocol scores on it): it is never pseudo-labelled")
    if source.is_file() and sha256_of(source) in VALIDATION_SOURCES.values():
        raise ValueError(f"{source} is a copy of validation data (same bytes): it is never pseudo-labelled")


def pseudo_label(detections: list[Detections], config: PseudoLabelConfig,
                 embeddings: list[np.ndarray] | None = None) -> list[Tracks]:
    """Tracks per frame (same indexing as ``detections``), ids 1..K in order of first appearance.

    ``embeddings``: per frame (N_t, D) re-ID vectors of its detections (zero rows where none was
    computed); needed when ``config.reid``.
    """
    if config.reid and embeddings is None:
        raise ValueError("config.reid needs the detections' re-ID embeddings (or set reid=False)")
    forward = _link(detections, range(len(detections)), config)
    if config.bidirectional:
        backward = _link(detections, range(len(detections) - 1, -1, -1), config)
        tracklets = _agreed_tracklets(detections, forward, backward, embeddings)
    else:
        tracklets = _chains(detections, forward, embeddings)
    tracks = _stitch(tracklets, config)
    kept = [t for t in tracks if _is_person_track(t, config)]
    kept.sort(key=lambda t: t.frames[0])
    return _per_frame(kept, len(detections), config.max_gap)


def _predicted(track: dict, t: int) -> np.ndarray:
    return track["box"] + track["velocity"] * abs(t - track["t"])


def _match(tracks: list[dict], boxes: np.ndarray, t: int, threshold: float) -> list[tuple[int, int]]:
    if not tracks or not len(boxes):
        return []
    iou = box_iou_numpy(np.stack([_predicted(tr, t) for tr in tracks]), boxes)
    rows, cols = linear_sum_assignment(-iou)
    return [(r, c) for r, c in zip(rows, cols) if iou[r, c] >= threshold]


def _link(detections: list[Detections], order: Iterable[int], config: PseudoLabelConfig) -> list[np.ndarray]:
    """One pass of the two-stage linker; per frame, each detection's track label (-1: none)."""
    labels = [np.full(len(d), -1, dtype=np.int64) for d in detections]
    active: list[dict] = []
    next_label = 0
    for t in order:
        d = detections[t]
        confident = np.flatnonzero(d.scores >= config.high_score)
        weak = np.flatnonzero((d.scores >= config.low_score) & (d.scores < config.high_score))
        matched: set[int] = set()
        for candidates, threshold in ((confident, config.match_iou), (weak, config.low_match_iou)):
            waiting = [tr for i, tr in enumerate(active) if i not in matched]
            index = [i for i in range(len(active)) if i not in matched]
            for r, c in _match(waiting, d.xyxy[candidates], t, threshold):
                track, det = active[index[r]], int(candidates[c])
                box = d.xyxy[det].astype(np.float64)
                step = abs(t - track["t"])
                track["velocity"] = 0.7 * track["velocity"] + 0.3 * (box - track["box"]) / step
                track["box"], track["t"] = box, t
                labels[t][det] = track["label"]
                matched.add(index[r])
        for det in confident:
            if labels[t][det] < 0:
                active.append({"label": next_label, "box": d.xyxy[det].astype(np.float64), "velocity": np.zeros(4),
                               "t": t})
                labels[t][det] = next_label
                next_label += 1
        active = [tr for tr in active if abs(t - tr["t"]) <= config.max_age]
    return labels


def _nodes_by_label(labels: list[np.ndarray]) -> dict[int, list[tuple[int, int]]]:
    """label -> [(frame, detection)] in time order."""
    chains: dict[int, list[tuple[int, int]]] = {}
    for t, row in enumerate(labels):
        for det, label in enumerate(row):
            if label >= 0:
                chains.setdefault(int(label), []).append((t, det))
    return chains


def _tracklet(detections: list[Detections], nodes: list[tuple[int, int]],
              embeddings: list[np.ndarray] | None) -> Tracklet:
    return Tracklet([t for t, _ in nodes], [detections[t].xyxy[d].astype(np.float64) for t, d in nodes],
                    [float(detections[t].scores[d]) for t, d in nodes],
                    [embeddings[t][d] for t, d in nodes] if embeddings is not None else [])


def _chains(detections: list[Detections], labels: list[np.ndarray], embeddings: list[np.ndarray] | None
            ) -> list[Tracklet]:
    return [_tracklet(detections, nodes, embeddings) for nodes in _nodes_by_label(labels).values()]


def _agreed_tracklets(detections: list[Detections], forward: list[np.ndarray], backward: list[np.ndarray],
                      embeddings: list[np.ndarray] | None) -> list[Tracklet]:
    """Forward chains cut wherever the backward pass does not make the same consecutive link."""
    successor: dict[tuple[int, int], tuple[int, int]] = {}
    for nodes in _nodes_by_label(backward).values():
        for a, b in zip(nodes, nodes[1:]):
            successor[a] = b
    tracklets = []
    for nodes in _nodes_by_label(forward).values():
        run = [nodes[0]]
        for a, b in zip(nodes, nodes[1:]):
            if successor.get(a) == b:
                run.append(b)
            else:
                tracklets.append(_tracklet(detections, run, embeddings))
                run = [b]
        tracklets.append(_tracklet(detections, run, embeddings))
    return tracklets


def _stitch(tracklets: list[Tracklet], config: PseudoLabelConfig) -> list[Tracklet]:
    """Join tracklet ends to later starts, best pairs first, each end and start used once."""
    means = [t.mean_embedding() if config.reid else None for t in tracklets]
    candidates = []
    for i, a in enumerate(tracklets):
        for j, b in enumerate(tracklets):
            gap = b.frames[0] - a.frames[-1]
            if i == j or not 0 < gap <= config.max_gap:
                continue
            end = a.boxes[-1] + a.velocity(at_end=True) * gap
            start = b.boxes[0]
            height = max(end[3] - end[1], start[3] - start[1], 1.0)
            distance = np.hypot(*((end[:2] + end[2:]) / 2 - (start[:2] + start[2:]) / 2)) / height
            size = (start[3] - start[1]) / max(end[3] - end[1], 1.0)
            if distance > config.stitch_distance + config.stitch_growth * gap or not 0.5 <= size <= 2.0:
                continue
            if config.reid:
                if means[i] is None or means[j] is None:
                    continue
                similarity = float(means[i] @ means[j])
                if similarity < config.reid_threshold:
                    continue
                candidates.append((-similarity, distance, i, j))
            else:
                candidates.append((distance, 0.0, i, j))
    candidates.sort()
    next_of: dict[int, int] = {}
    has_previous: set[int] = set()
    for _, _, i, j in candidates:
        if i in next_of or j in has_previous or _reaches(next_of, j, i):
            continue
        next_of[i] = j
        has_previous.add(j)
    joined = []
    for i in range(len(tracklets)):
        if i in has_previous:
            continue
        track = Tracklet([], [], [], [])
        while True:
            track.extend(tracklets[i])
            if i not in next_of:
                break
            i = next_of[i]
        joined.append(track)
    return joined


def _reaches(next_of: dict[int, int], start: int, target: int) -> bool:
    while start in next_of:
        start = next_of[start]
        if start == target:
            return True
    return start == target


def _is_person_track(track: Tracklet, config: PseudoLabelConfig) -> bool:
    boxes = np.stack(track.boxes)
    aspect = np.median((boxes[:, 3] - boxes[:, 1]) / np.maximum(boxes[:, 2] - boxes[:, 0], 1e-6))
    return (len(track.frames) >= config.min_detections and max(track.scores) >= config.min_peak_score
            and aspect >= config.min_aspect)


def _per_frame(tracks: list[Tracklet], num_frames: int, max_gap: int) -> list[Tracks]:
    rows: list[list[tuple[int, np.ndarray, float]]] = [[] for _ in range(num_frames)]
    for identity, track in enumerate(tracks, start=1):
        for (f0, b0, s0), (f1, b1, s1) in zip(zip(track.frames, track.boxes, track.scores),
                                             zip(track.frames[1:], track.boxes[1:], track.scores[1:])):
            rows[f0].append((identity, b0, s0))
            if f1 - f0 <= max_gap:
                for f in range(f0 + 1, f1):
                    w = (f - f0) / (f1 - f0)
                    rows[f].append((identity, (1 - w) * b0 + w * b1, 0.0))  # score 0: interpolated
        rows[track.frames[-1]].append((identity, track.boxes[-1], track.scores[-1]))
    out = []
    for frame_rows in rows:
        if not frame_rows:
            out.append(Tracks.empty())
            continue
        ids, boxes, scores = zip(*frame_rows)
        out.append(Tracks(xyxy=np.stack(boxes), scores=np.array(scores), ids=np.array(ids)))
    return out

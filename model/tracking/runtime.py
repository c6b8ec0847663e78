"""The tracker at run time: MOTRv2's identity rules around :class:`QueryTrackerModel`.

A proposal becomes a new track at score >= 0.5, a track is lost below 0.5 and removed after
``miss_tolerance`` frames; IDs restart at 1 per video (:meth:`Tracker.reset`). Rules of ours
(:class:`RuntimeConfig`) patch what our CPU-trained decoder gets wrong: two duplicate guards, a box
refinement, *proposal support* (a track query that no detector box has backed for a few frames has
drifted off its person -- onto a leg, or into a flat line once the person left -- and is retired)
and *identity recovery* (a new-born track that appears where a retired track was last backed takes
that track's identity instead of a new one). Since 2026-12-07 recovery also covers tracks that track
NMS removed (``recover_suppressed``: most track ends on the training spans) and tracks merely lost
(``recover_lost``), and looks where a track's velocity says its person went (the motion prior,
``recover_velocity_momentum``). *Appearance recovery* (ours, issue 13; off by default)
extends the latter with the student's distilled per-query semantics S: a new-born track that no retired
box overlaps takes the identity of the retired track whose last S it resembles most. The teacher never
runs here; S is what the student learnt to predict from the (degraded) queries.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from torch import Tensor

from model.core.box_ops import box_iou_numpy
from model.core.types import Detections, DetectorOutput, Tracks
from model.tracking.hooks import HookInputs, HookNeeds, HookSwitches
from model.tracking.motion import MotionState, advance_anchors
from model.tracking.query_model import QueryTrackerModel
from model.tracking.proposals import proposal_inputs, to_model_boxes, to_pixel_boxes
from model.vsd.quality import QualityScores, assess_frame
from model.vsd.teacher import Teacher

Detector = Callable[[np.ndarray], DetectorOutput]
QualityAssessor = Callable[[np.ndarray], QualityScores]


@dataclass
class RuntimeConfig:
    """Run-time identity rules: MOTRv2's thresholds plus two duplicate guards (not stored in checkpoints).

    ``track_nms_iou``: when two visible track queries converge on one person (IoU above this), the
    lower-scoring one has lost its identity and is removed (``track_nms_removes``). Without it our
    CPU-trained decoder leaves many collapsed duplicates. ``snap_iou``: the decoder keeps identity
    and score, the detector's box (one-to-one, IoU >= snap_iou) replaces the decoder's less precise box.
    Both were chosen by HOTA on the training sequence TUD-Stadtmitte (``benchmarks/runtime_ablation.py``,
    all settings reported in BENCHMARKS.md); set them to None for MOTRv2's plain rules. The snap IoU
    was lowered from 0.5 to 0.4 on 2026-12-08 (chosen on the training spans, judged by the protocol).
    """

    new_track_threshold: float = 0.5  # proposal query -> new track (MOTRv2)
    keep_threshold: float = 0.5  # track query below this is lost for the frame (MOTRv2)
    miss_tolerance: int = 20  # frames a lost track is kept before removal (MOTRv2)
    duplicate_iou: float | None = 0.8  # a new-born box overlapping a visible track this much is a duplicate
    track_nms_iou: float | None = 0.7
    track_nms_removes: bool = True
    snap_iou: float | None = 0.4  # a visible track adopts its best-overlapping confident proposal's box
    snap_min_score: float = 0.3  # only proposals at least this confident are snapped to
    # Proposal support (ours): a visible track whose box overlaps no proposal of score >= support_min_score
    # by IoU >= support_iou for more than max_unsupported consecutive frames is retired (None: off).
    support_iou: float | None = 0.3
    support_min_score: float = 0.1
    max_unsupported: int = 5
    # Identity recovery (ours): a track retired for lack of support or after miss_tolerance frames stays
    # recoverable for recover_frames frames; a new-born box overlapping its last backed box by IoU >=
    # recover_iou continues its identity (one-to-one, best overlap first; None: off).
    recover_iou: float | None = 0.3
    recover_frames: int = 30
    # Lost-track takeover (ours, 2026-12-07): tracks lost for <= miss_tolerance frames (still alive, their
    # query below keep_threshold) are recoverable too; the new-born box continues the lost track's identity
    # and replaces its query, so one person never holds two identities (a lost query and a new-born one).
    recover_lost: bool = True
    # Suppressed-track recovery (ours, 2026-12-07): a track that track NMS removes (its query collapsed onto
    # another track's person) is retired like a lost one, so its identity is recoverable from its last
    # backed box. Without it a person whose query was pulled onto a neighbour comes back as a new id.
    recover_suppressed: bool = True
    # Motion prior for recovery (ours): the last backed box is moved by the track's velocity (pixels per
    # frame, an average over its backed frames with weight recover_velocity_momentum on the past) times the
    # frames since; None: the box stays where it was last backed.
    recover_velocity_momentum: float | None = 0.5
    # Appearance recovery (ours, issue 13): after the overlap step, a new-born track takes the identity of
    # a recoverable retired track when the cosine of their student outputs S is >= recover_cosine
    # (one-to-one, most similar first; None: off). Needs the student: a VSD-MOT checkpoint with it on.
    recover_cosine: float | None = None


# The rules added on 2026-12-07, each with the value that turns it off.
RULES_OFF_BEFORE_2026_12_07: dict[str, object] = {
    "recover_lost": False, "recover_suppressed": False, "recover_velocity_momentum": None,
}


# The snap IoU every rule set used until 2026-12-08, when the default became 0.4.
SNAP_IOU_UNTIL_2026_12_08 = 0.5


def rules_until_2026_12_07(**changes: object) -> RuntimeConfig:
    """The rules before lost-track takeover, suppressed-track recovery and the motion prior (results
    stored before then used them)."""
    return RuntimeConfig(**{"snap_iou": SNAP_IOU_UNTIL_2026_12_08, **RULES_OFF_BEFORE_2026_12_07, **changes})


def rules_of_2026_12_07(**changes: object) -> RuntimeConfig:
    """The rules of 2026-12-07 (takeover, suppressed-track recovery, motion prior) with the snap IoU of
    then, 0.5: the rules results stored from 2026-12-07 until 2026-12-08 used."""
    return RuntimeConfig(**{"snap_iou": SNAP_IOU_UNTIL_2026_12_08, **changes})


@dataclass
class _Track:
    track_id: int
    content: Tensor  # (d,)
    anchor: Tensor  # (4,) cxcywh normalised
    box: np.ndarray  # (4,) xyxy pixels, last visible
    score: float
    misses: int = 0
    unsupported: int = 0  # consecutive visible frames without a backing proposal
    backed_box: np.ndarray | None = None  # (4,) xyxy pixels, last box a proposal backed
    backed_at: int = 0  # frame index of backed_box
    velocity: np.ndarray | None = None  # (2,) pixels per frame of the box centre between backed frames
    semantics: Tensor | None = None  # (d,) unit-norm student output S of the last visible frame
    # The decoder's anchor for the next frame: ``anchor``, moved by the model's motion prior if it has one
    # (model.tracking.motion; set at the end of every frame the track is visible), and the prior's state.
    query_anchor: Tensor | None = None
    motion: MotionState | None = None

    def back(self, frame_index: int, momentum: float | None) -> None:
        """A proposal backs the current box: remember it, and update the velocity (motion prior)."""
        if self.backed_box is not None and momentum is not None and frame_index > self.backed_at:
            step = (_centre(self.box) - _centre(self.backed_box)) / (frame_index - self.backed_at)
            self.velocity = step if self.velocity is None else momentum * self.velocity + (1 - momentum) * step
        self.backed_box, self.backed_at = self.box.copy(), frame_index


def _centre(box: np.ndarray) -> np.ndarray:
    return np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2], dtype=np.float64)


@dataclass
class _Retired:
    """A retired track's identity, kept for ``recover_frames`` frames for identity recovery."""

    track_id: int
    box: np.ndarray  # (4,) xyxy pixels, last backed box
    retired_at: int  # frame index
    semantics: Tensor | None = None  # (d,) unit-norm S when the track was last visible
    backed_at: int = 0  # frame index of box
    velocity: np.ndarray | None = None  # (2,) pixels per frame (the motion prior), None: standing still

    def box_at(self, frame_index: int) -> np.ndarray:
        """Where the motion prior expects the person now: the last backed box moved by velocity."""
        if self.velocity is None:
            return self.box
        dx, dy = self.velocity * (frame_index - self.backed_at)
        return (self.box + np.array([dx, dy, dx, dy])).astype(np.float32)


@dataclass
class FrameInfo:
    """What happened in the last ``update``: for plots, the API and benchmarks."""

    frame_index: int
    num_proposals: int
    num_visible: int
    quality: QualityScores | None
    semantic_weight: float | None
    tracker_ms: float


class Tracker:
    """Stateful tracker for one video at a time: ``update(frame) -> Tracks``, ``reset()`` between videos.

    ``switches`` (student / DSWR / fixed ratio) are this tracker's own, resolved against what the
    checkpoint was trained with; several trackers may share one ``model`` with different switches.
    ``teacher`` is needed only by direct teacher integration (Fig. 1a), which runs it on every frame.
    """

    def __init__(self, model: QueryTrackerModel, detector: Detector | None = None,
                 quality: QualityAssessor | None = None, teacher: Teacher | None = None,
                 runtime: RuntimeConfig | None = None, switches: HookSwitches | None = None) -> None:
        self.model = model.eval()
        # The model's device is the tracker's (model.core.device chose it); inputs follow, outputs come back.
        self.device = next(model.parameters()).device
        self.detector = detector
        self.switches = model.hook.resolve(switches)
        self.needs: HookNeeds = model.hook.needs(self.switches)
        self.runtime = runtime or RuntimeConfig()
        if self.needs.teacher is not None and teacher is not None:
            if teacher.name != self.needs.teacher:
                raise ValueError(f"this checkpoint was trained with the {self.needs.teacher} teacher, not {teacher.name}")
        self.teacher = teacher
        self._assess = quality
        self.reset()

    @property
    def runtime(self) -> RuntimeConfig:
        return self._runtime

    @runtime.setter
    def runtime(self, runtime: RuntimeConfig) -> None:
        """Rules may be swapped between videos (benchmarks do); refused where this tracker cannot apply them."""
        if runtime.recover_cosine is not None and not self.switches.student:
            raise ValueError("recover_cosine (appearance recovery) compares the student's outputs S: it needs a "
                             "VSD-MOT checkpoint with the student on")
        self._runtime = runtime

    def reset(self) -> None:
        self._tracks: list[_Track] = []
        self._retired: list[_Retired] = []
        self._next_id = 1
        self._frame_index = 0
        self.last: FrameInfo | None = None

    @torch.no_grad()
    def update(self, frame: np.ndarray | None = None, detections: DetectorOutput | None = None,
               quality: QualityScores | None = None, teacher_embedding: np.ndarray | None = None) -> Tracks:
        """Track one frame. Pass ``frame`` (BGR uint8) and let the detector run, or a precomputed
        ``DetectorOutput`` as ``detections``; ``quality`` skips re-assessing the frame, and
        ``teacher_embedding`` (D,) running the teacher (direct integration only, e.g. from a cache)."""
        if detections is None:
            if self.detector is None or frame is None:
                raise ValueError("update() needs a frame and a detector, or precomputed detections")
            detections = self.detector(frame)
        start = time.perf_counter()
        self._frame_index += 1
        if quality is None and frame is not None and (self.needs.quality or self._assess is not None):
            quality = (self._assess or assess_frame)(frame)
        cfg = self.runtime
        device = self.device
        proposals = proposal_inputs(detections, self.model.config.max_proposals).to(device)
        d = self.model.config.decoder.d_model
        track_content = (torch.stack([t.content for t in self._tracks])[None] if self._tracks
                         else torch.zeros(1, 0, d, device=device))
        track_anchors = (torch.stack([t.query_anchor for t in self._tracks])[None] if self._tracks
                         else torch.zeros(1, 0, 4, device=device))
        hook_inputs = HookInputs(quality=None if quality is None else torch.tensor([float(quality.q)], device=device))
        if self.needs.teacher is not None:
            if teacher_embedding is not None:
                hook_inputs.teacher_embedding = torch.as_tensor(np.asarray(teacher_embedding, np.float32))[None].to(device)
            elif frame is not None and self.teacher is not None:
                hook_inputs.teacher_embedding = self.teacher.embed([frame]).to(device)
            else:
                raise ValueError(f"this checkpoint fuses the {self.needs.teacher} teacher's embedding of every frame: "
                                 "build the Tracker with teacher= and pass frames, or pass teacher_embedding=")
        out = self.model(track_content, track_anchors, proposals, hook_inputs, self.switches)
        scale, input_size, image_size = detections.scale, int(detections.input_size), detections.image_size
        scores = out.decoder.logits[-1, 0].sigmoid().cpu().numpy()
        boxes = to_pixel_boxes(out.decoder.boxes[-1, 0], scale, input_size, image_size)
        anchors = out.decoder.boxes[-1, 0]
        next_content = self.model.next_track_queries(out.decoder.hidden[0])
        nt = out.num_track_queries
        semantics = (torch.nn.functional.normalize(out.hook.student[0], dim=-1)
                     if cfg.recover_cosine is not None else None)  # (n, d), only where it is used

        survivors: list[_Track] = []
        for i, track in enumerate(self._tracks):
            if scores[i] >= cfg.keep_threshold:
                track.content, track.anchor, track.box, track.score, track.misses = (
                    next_content[i], anchors[i], boxes[i], float(scores[i]), 0,
                )
                if semantics is not None:
                    track.semantics = semantics[i]
                survivors.append(track)
            else:
                track.misses += 1
                if track.misses <= cfg.miss_tolerance:
                    survivors.append(track)
                else:  # lost for too long: retired, its identity recoverable for a while
                    self._retire(track)
        self._suppress_duplicate_tracks([t for t in survivors if t.misses == 0])
        for track in survivors:
            if track.misses > cfg.miss_tolerance and cfg.recover_suppressed:
                self._retire(track)
        survivors = [t for t in survivors if t.misses <= cfg.miss_tolerance]
        self._snap_to_proposals([t for t in survivors if t.misses == 0], proposals.detections, scale, input_size)
        survivors = self._check_support(survivors, proposals.detections)
        visible_boxes = np.array([t.box for t in survivors if t.misses == 0]).reshape(-1, 4)
        newborn = [j for j in range(nt, len(scores)) if scores[j] >= cfg.new_track_threshold]
        newborn.sort(key=lambda j: -scores[j])
        born: list[_Track] = []
        for j in newborn:
            if cfg.duplicate_iou is not None and len(visible_boxes):
                if box_iou_numpy(boxes[j : j + 1], visible_boxes).max() >= cfg.duplicate_iou:
                    continue
            born.append(_Track(0, next_content[j], anchors[j], boxes[j], float(scores[j]), backed_box=boxes[j].copy(),
                               backed_at=self._frame_index, semantics=None if semantics is None else semantics[j]))
            visible_boxes = np.concatenate((visible_boxes, boxes[j : j + 1]))
        self._retired = [r for r in self._retired if self._frame_index - r.retired_at <= cfg.recover_frames]
        lost = [t for t in survivors if t.misses > 0] if cfg.recover_lost else []
        taken_lost = self._recover_identities(born, lost)
        survivors = [t for t in survivors if t.track_id not in taken_lost]
        for track in born:
            if track.track_id == 0:
                track.track_id = self._next_id
                self._next_id += 1
        survivors += born
        self._tracks = survivors
        visible = [t for t in survivors if t.misses == 0]
        self._next_anchors(visible)
        weight = out.hook.semantic_weight
        self.last = FrameInfo(
            frame_index=self._frame_index,
            num_proposals=len(proposals.detections),
            num_visible=len(visible),
            quality=quality,
            semantic_weight=None if weight is None else float(weight.reshape(-1)[0]),
            tracker_ms=(time.perf_counter() - start) * 1000,
        )
        if not visible:
            return Tracks.empty()
        return Tracks(
            xyxy=np.stack([t.box for t in visible]),
            scores=np.array([t.score for t in visible]),
            ids=np.array([t.track_id for t in visible]),
        )

    def _next_anchors(self, visible: list[_Track]) -> None:
        """Each visible track's anchor for the next frame: its box, moved by the motion prior where the
        model was trained with one (the step training takes, model.tracking.motion). Lost tracks keep theirs."""
        momentum = self.model.config.track_motion_momentum
        if momentum is None or not visible:
            for track in visible:
                track.query_anchor = track.anchor
            return
        state = MotionState.cat([t.motion if t.motion is not None else MotionState.start(t.anchor[None]) for t in visible])
        anchors, state = advance_anchors(state, torch.stack([t.anchor for t in visible]), momentum)
        for k, track in enumerate(visible):
            track.query_anchor, track.motion = anchors[k], state.take(torch.tensor([k], device=anchors.device))

    def _retire(self, track: _Track) -> None:
        if self.runtime.recover_iou is not None and track.backed_box is not None:
            self._retired.append(self._recoverable(track))

    def _recoverable(self, track: _Track) -> _Retired:
        return _Retired(track.track_id, track.backed_box.copy(), self._frame_index, track.semantics,
                        backed_at=track.backed_at, velocity=track.velocity)

    def _check_support(self, tracks: list[_Track], proposals: Detections) -> list[_Track]:
        """Proposal support: count each visible track's frames without a backing proposal; retire
        the tracks past ``max_unsupported`` (their queries follow nothing the detector sees)."""
        cfg = self.runtime
        visible = [t for t in tracks if t.misses == 0]
        if cfg.support_iou is None or not visible:
            for t in visible:
                t.back(self._frame_index, cfg.recover_velocity_momentum)
            return tracks
        strong = proposals.xyxy[proposals.scores >= cfg.support_min_score]
        best = (box_iou_numpy(np.stack([t.box for t in visible]), strong).max(axis=1) if len(strong)
                else np.zeros(len(visible)))
        retired: set[int] = set()
        for track, iou in zip(visible, best):
            if iou >= cfg.support_iou:
                track.unsupported = 0
                track.back(self._frame_index, cfg.recover_velocity_momentum)
            else:
                track.unsupported += 1
                if track.unsupported > cfg.max_unsupported:
                    self._retire(track)
                    retired.add(track.track_id)
        return [t for t in tracks if t.track_id not in retired]

    def _recover_identities(self, born: list[_Track], lost: list[_Track]) -> set[int]:
        """Identity recovery: new-born tracks over a recoverable track's expected box (its last backed
        box, moved by the motion prior) take its id -- retired tracks, and with ``recover_lost`` lost
        ones, whose queries the new-born's replace; then, with ``recover_cosine``, those left take the id
        of the retired track whose S is most alike. Returns the ids of the lost tracks taken over."""
        cfg = self.runtime
        if cfg.recover_iou is None or not born:
            return set()
        candidates = self._retired + [self._recoverable(t) for t in lost if t.backed_box is not None]
        if not candidates:
            return set()
        lost_ids = {c.track_id for c in candidates[len(self._retired):]}
        expected = np.stack([c.box_at(self._frame_index) for c in candidates])
        taken = self._take_identities(born, candidates, box_iou_numpy(np.stack([t.box for t in born]), expected),
                                      cfg.recover_iou)
        self._retired = [r for r in self._retired if r.track_id not in taken]
        if cfg.recover_cosine is None:
            return taken & lost_ids
        open_born = [t for t in born if t.track_id == 0]
        if open_born and self._retired:
            cosine = (torch.stack([t.semantics for t in open_born]) @ torch.stack([r.semantics for r in self._retired]).T)
            taken_by_look = self._take_identities(open_born, self._retired, cosine.cpu().numpy(), cfg.recover_cosine)
            self._retired = [r for r in self._retired if r.track_id not in taken_by_look]
        return taken & lost_ids

    @staticmethod
    def _take_identities(born: list[_Track], candidates: list[_Retired], similarity: np.ndarray,
                         threshold: float) -> set[int]:
        """One-to-one assignment of recoverable identities to new-born tracks, most similar first; a pair
        below ``threshold`` keeps its new-born track new. Returns the identities taken."""
        rows, cols = linear_sum_assignment(-similarity)
        taken = set()
        for r, c in zip(rows, cols):
            if similarity[r, c] >= threshold:
                born[r].track_id = candidates[c].track_id
                taken.add(candidates[c].track_id)
        return taken

    def _snap_to_proposals(self, visible: list[_Track], proposals: Detections, scale: float, input_size: int) -> None:
        """Optional box refinement: the decoder keeps identity and score, but where a confident
        detector box overlaps a track one-to-one above ``snap_iou``, the track takes that box (the
        detector localises better than our small CPU-trained decoder)."""
        cfg = self.runtime
        if cfg.snap_iou is None or not visible or not len(proposals):
            return
        strong = proposals[proposals.scores >= cfg.snap_min_score]
        if not len(strong):
            return
        iou = box_iou_numpy(np.stack([t.box for t in visible]), strong.xyxy)
        rows, cols = linear_sum_assignment(-iou)
        model_boxes = to_model_boxes(strong.xyxy, scale, input_size).to(self.device)
        for r, c in zip(rows, cols):
            if iou[r, c] >= cfg.snap_iou:
                visible[r].box = strong.xyxy[c].copy()
                visible[r].anchor = model_boxes[c]

    def _suppress_duplicate_tracks(self, visible: list[_Track]) -> None:
        """Greedy NMS over visible tracks: when two track queries converge on one person, the one
        with the lower score (ties: the younger track) counts as a miss this frame."""
        iou_limit = self.runtime.track_nms_iou
        if iou_limit is None or len(visible) < 2:
            return
        order = sorted(visible, key=lambda t: (-t.score, t.track_id))
        boxes = np.stack([t.box for t in order])
        iou = box_iou_numpy(boxes, boxes)
        kept: list[int] = []
        for i, track in enumerate(order):
            if any(iou[i, k] >= iou_limit for k in kept):
                # A query that collapsed onto another track's person has lost its own identity.
                track.misses = self.runtime.miss_tolerance + 1 if self.runtime.track_nms_removes else 1
            else:
                kept.append(i)

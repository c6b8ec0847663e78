"""One training step's forward: a clip run frame by frame through the query tracker, eq. 15's loss.

The frame's inputs are built by the same :func:`model.tracking.proposals.proposal_inputs` the
tracker uses at run time, from the cache's :class:`DetectorOutput`, so training and inference see
identical proposals. Track queries are carried from frame to frame with MOTR's augmentations
(random drop, an inserted false positive), their anchors moved by the motion prior where the model has
one (:mod:`model.tracking.motion`, the tracker's own step). Inputs are moved to the model's device (CPU, or a
CUDA device under ``--device``), so one code path trains on either.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from model.data.augment import SHIFT_UNIT, shift_boxes, shift_features
from model.data.clips import FrameTargets, TrainingSequence
from model.tracking.hooks import HookInputs
from model.tracking.motion import MotionState, advance_anchors
from model.tracking.query_model import QueryTrackerModel
from model.tracking.proposals import ProposalInputs, proposal_inputs
from model.training.run_config import TrainConfig
from model.training.losses import LossWeights, assign, frame_loss


class ClipObjective(nn.Module):
    """Runs one clip frame by frame and returns its losses: one forward per optimiser step, so the
    recurrent track queries and DistributedDataParallel get along."""

    def __init__(self, model: QueryTrackerModel, distill_loss: nn.Module | None, cfg: TrainConfig) -> None:
        super().__init__()
        self.model = model
        self.distill_loss = distill_loss
        self.cfg = cfg
        self.weights = LossWeights()
        self.switches = model.hook.resolve()  # what the hook was built to train with (TrainConfig.student/dswr)
        self.needs = model.hook.needs(self.switches)

    def forward(self, seq: TrainingSequence, frames: list[int], rng: np.random.Generator) -> dict[str, Tensor]:
        cfg, model = self.cfg, self.model
        device = next(model.parameters()).device
        d = model.config.decoder.d_model
        content, anchors = torch.zeros(1, 0, d, device=device), torch.zeros(1, 0, 4, device=device)
        ids = torch.zeros(0, dtype=torch.long, device=device)
        momentum = model.config.track_motion_momentum  # the motion prior of the track anchors (ours), None: off
        motion = MotionState.start(anchors[0])
        totals: dict[str, Tensor] = {}
        shifts = [(0, 0)] * len(frames)
        one_image = len(frames) > 1 and len(set(frames)) == 1  # a one-image sequence's clip (CrowdHuman)
        if one_image or (cfg.pseudo_clip and rng.random() < cfg.pseudo_clip):  # one image, moved: known motion
            frames = [frames[0]] * len(frames)
            steps = rng.integers(-1, 2, size=(len(frames), 2)) * SHIFT_UNIT
            steps[0] = 0
            shifts = [tuple(int(v) for v in row) for row in np.cumsum(steps, axis=0)]
        for frame, (dx, dy) in zip(frames, shifts):
            det = seq.cache.detections(frame)
            target = seq.targets[frame]
            proposals = proposal_inputs(det, model.config.max_proposals)
            if dx or dy:
                extent = (det.image_size[1] * det.scale / det.input_size, det.image_size[0] * det.scale / det.input_size)
                moved, keep = shift_boxes(proposals.anchors[0], dx, dy, det.input_size, extent)
                proposals = ProposalInputs(proposals.detections[keep.numpy()], moved[keep][None],
                                           proposals.scores[:, keep], shift_features(proposals.features, det.strides, dx, dy),
                                           proposals.index[keep.numpy()])
                moved, keep = shift_boxes(target.boxes, dx, dy, det.input_size, extent)
                target = FrameTargets(moved[keep], target.ids[keep])
            proposals, target = proposals.to(device), FrameTargets(target.boxes.to(device), target.ids.to(device))
            inputs = HookInputs(quality=torch.tensor([seq.cache.quality_scores(frame).q], device=device))
            if self.needs.teacher is not None:
                inputs.teacher_embedding = torch.from_numpy(
                    seq.cache.teacher(self.needs.teacher)[seq.cache.position(frame)])[None].to(device)
            out = model(content, anchors, proposals, inputs, self.switches)
            nt = out.num_track_queries
            logits, boxes = out.decoder.logits[:, 0], out.decoder.boxes[:, 0]
            assignment = assign(logits[-1], boxes[-1], nt, ids, target.boxes, target.ids, self.weights)
            losses = frame_loss(logits, boxes, assignment, target.boxes, self.weights)
            if self.distill_loss is not None and out.hook.student is not None:
                if cfg.teacher_tokens == "regions":
                    distill = self._region_distill(seq, frame, out.hook.student, ids, proposals.index)
                else:
                    teacher = torch.from_numpy(seq.teacher_embedding(cfg.teacher, frame))[None].to(device)
                    distill = self.distill_loss(out.hook.student, teacher).loss
                losses["loss_distill"] = distill
                losses["loss"] = cfg.alpha * distill + (1 - cfg.alpha) * losses["loss_mot"]
            else:
                losses["loss"] = losses["loss_mot"]
            for k, v in losses.items():
                totals[k] = totals.get(k, 0) + v / len(frames)
            # Next frame's track queries: the matched ones, with MOTR's drop / false-positive augmentation.
            keep = [q for q in assignment.query_index.tolist() if rng.random() >= cfg.track_drop]
            keep_ids = [int(i) for q, i in zip(assignment.query_index.tolist(), assignment.target_ids.tolist()) if q in keep]
            unmatched = sorted(
                set(range(nt, logits.shape[1])) - set(assignment.query_index.tolist()),
                key=lambda q: -float(logits[-1, q].detach()),
            )
            if unmatched and rng.random() < cfg.fp_insert:
                keep.append(unmatched[0])
                keep_ids.append(-1)
            index = torch.as_tensor(keep, dtype=torch.long, device=device)
            content = model.next_track_queries(out.decoder.hidden[0, index])[None]
            kept_boxes = boxes[-1, index].detach()
            if momentum is None:
                anchors = kept_boxes[None]
            else:  # the same step as the tracker's (model.tracking.motion)
                next_anchors, motion = advance_anchors(motion.carry(index, nt, kept_boxes), kept_boxes, momentum)
                anchors = next_anchors[None]
            ids = torch.as_tensor(keep_ids, dtype=torch.long, device=device)
        return totals

    def _region_distill(self, seq: TrainingSequence, frame: int, student: Tensor, track_ids: Tensor,
                        proposal_index: np.ndarray) -> Tensor:
        """L_distill with one region token per query (ours, issue 13): a track query's token is its
        supervised object's box, a proposal query's its proposal box. Queries without a token (an
        inserted false positive, an object that left, a box too small) are left out, so T (m, D) and
        S (m, 256) are aligned row by row: eq. 5 is the identity and eqs. 4, 6-12 apply as written.
        ``student`` (1, t + p, 256) with the t track queries first."""
        if seq.regions is None:
            raise ValueError(f"{seq.name}: teacher_tokens='regions' needs its region tokens (model.data.region_cache)")
        tracks, track_ok = seq.regions.for_objects(frame, track_ids.cpu().numpy())
        props, prop_ok = seq.regions.for_proposals(frame, proposal_index)
        rows = np.flatnonzero(np.concatenate([track_ok, prop_ok]))
        if len(rows) == 0:
            return student.sum() * 0.0  # nothing to distil in this frame; keeps eq. 15's weighting
        tokens = torch.from_numpy(np.concatenate([tracks, props])[rows]).to(student.device)
        index = torch.as_tensor(rows, dtype=torch.long, device=student.device)
        return self.distill_loss(student[:, index], tokens[None]).loss

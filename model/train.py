"""Training CLI: ``python -m model.train --variant baseline|vsd-mot ...`` (thin over the library).

CPU-practical MOTRv2 training: the detector (and the teacher) are frozen and cached once per
(sequence, degradation) by :mod:`model.cache`; each step runs one 5-frame clip through the query
tracker with track queries carried from frame to frame, and optimises eq. 15:
``loss = alpha * L_distill + (1 - alpha) * L_mot`` (``alpha`` only matters for VSD-MOT).

Runs as one process, or under ``torchrun --nproc_per_node N -m model.train ...`` with
DistributedDataParallel (gloo on CPU, nccl on GPU): each rank takes its share of every epoch's clips.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor, nn
from tqdm import tqdm

from model import settings
from model.augment import SHIFT_UNIT, shift_boxes, shift_features
from model.data import HSV_RENDITION, TRAIN_SPANS, VAL_SPAN, FrameTargets, TrainingSequence, load_sequence, mix_renditions, sample_clips
from model.losses import LossWeights, assign, frame_loss
from model.student import StudentConfig
from model.tracker import QueryTrackerModel, TrackerConfig, load_checkpoint, save_checkpoint, to_model_boxes


@dataclass
class TrainConfig:
    """Defaults follow the paper where it says (alpha, tau, lr, clip length, interval); CPU-sized otherwise."""

    variant: str = "baseline"  # "baseline" | "vsd-mot" | "direct" (teacher at inference, Fig. 1a)
    student: bool = True
    dswr: bool = True
    fixed_semantic_weight: float = 0.5  # fusion ratio when DSWR is off
    distill: str = "dcsd"  # "dcsd" | "plain" | "none"
    alpha: float = 0.4  # eq. 15, paper Table VII best
    tau: float = 2.0  # eq. 8
    teacher: str = "effnet-lite0"
    # "degraded": the teacher embeds the frame the student sees (the paper). "clean": on degraded
    # renditions it embeds the clean original instead -- privileged distillation, ours, not the paper's.
    teacher_view: str = "degraded"
    lq_per_hq: float = 2.0  # paper Table VI best: LQ:HQ = 2:1
    epochs: int = 8
    clips_per_epoch: int = 400
    lr: float = 2e-4
    lr_drop_epoch: int = 6  # x0.1 from this epoch on (paper: 40 of 60)
    weight_decay: float = 1e-4
    clip_len: int = 5
    max_interval: int = 10
    grad_clip: float = 0.1
    track_drop: float = 0.1  # MOTR: randomly drop a track query (object must be re-born from a proposal)
    fp_insert: float = 0.3  # MOTR: insert a false-positive track query that must learn to die
    pseudo_clip: float = 0.0  # share of clips made from one frame shifted by multiples of 32 px (MOTRv2)
    hsv: bool = False  # add an HSV-jittered copy of every clean training sequence (YOLOX augment_hsv)
    seed: int = 0
    init: str | None = None  # start from this checkpoint (e.g. the baseline for VSD-MOT)
    output: str = "runs/baseline"
    num_threads: int = 2
    spans: tuple[tuple[str, int, int], ...] = TRAIN_SPANS  # (sequence, first, last) to train on
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    student_size: StudentConfig = field(default_factory=StudentConfig)  # the paper leaves hidden_dim open


class ClipObjective(nn.Module):
    """Runs one clip frame by frame and returns its losses: one forward per optimiser step, so the
    recurrent track queries and DistributedDataParallel get along."""

    def __init__(self, model: QueryTrackerModel, distill_loss: nn.Module | None, cfg: TrainConfig) -> None:
        super().__init__()
        self.model = model
        self.distill_loss = distill_loss
        self.cfg = cfg
        self.weights = LossWeights()

    def forward(self, seq: TrainingSequence, frames: list[int], rng: np.random.Generator) -> dict[str, Tensor]:
        cfg, model = self.cfg, self.model
        d = model.config.decoder.d_model
        content, anchors, ids = torch.zeros(1, 0, d), torch.zeros(1, 0, 4), torch.zeros(0, dtype=torch.long)
        totals: dict[str, Tensor] = {}
        shifts = [(0, 0)] * len(frames)
        if cfg.pseudo_clip and rng.random() < cfg.pseudo_clip:  # one image, moved: a clip with known motion
            frames = [frames[0]] * len(frames)
            steps = rng.integers(-1, 2, size=(len(frames), 2)) * SHIFT_UNIT
            steps[0] = 0
            shifts = [tuple(int(v) for v in row) for row in np.cumsum(steps, axis=0)]
        for frame, (dx, dy) in zip(frames, shifts):
            det = seq.cache.detections(frame)
            target = seq.targets[frame]
            props = det.detections
            if len(props) > model.config.max_proposals:
                props = props[np.argsort(-props.scores)[: model.config.max_proposals]]
            prop_anchors = to_model_boxes(props.xyxy, det.scale, det.input_size)[None]
            prop_scores = torch.as_tensor(props.scores)[None]
            features = [torch.from_numpy(f)[None] for f in det.features]
            if dx or dy:
                extent = (det.image_size[1] * det.scale / det.input_size, det.image_size[0] * det.scale / det.input_size)
                features = shift_features(features, det.strides, dx, dy)
                moved, keep = shift_boxes(prop_anchors[0], dx, dy, det.input_size, extent)
                prop_anchors, prop_scores = moved[keep][None], prop_scores[:, keep]
                moved, keep = shift_boxes(target.boxes, dx, dy, det.input_size, extent)
                target = FrameTargets(moved[keep], target.ids[keep])
            quality = torch.tensor([float(seq.cache.quality[seq.cache.position(frame), 3])])
            teacher_embedding = None
            if getattr(model.hook, "needs_teacher", False):
                teacher_embedding = torch.from_numpy(seq.cache.teacher(cfg.teacher)[seq.cache.position(frame)])[None]
            out = model(content, anchors, prop_anchors, prop_scores, features, quality=quality,
                        teacher_embedding=teacher_embedding)
            nt = out.num_track_queries
            logits, boxes = out.decoder.logits[:, 0], out.decoder.boxes[:, 0]
            assignment = assign(logits[-1], boxes[-1], nt, ids, target.boxes, target.ids, self.weights)
            losses = frame_loss(logits, boxes, assignment, target.boxes, self.weights)
            if self.distill_loss is not None and out.hook.student is not None:
                teacher = torch.from_numpy(seq.teacher_embedding(cfg.teacher, frame))[None]
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
            index = torch.as_tensor(keep, dtype=torch.long)
            content = model.next_track_queries(out.decoder.hidden[0, index])[None]
            anchors = boxes[-1, index].detach()[None]
            ids = torch.as_tensor(keep_ids, dtype=torch.long)
        return totals


def build_model(cfg: TrainConfig, teacher_dim: int | None) -> tuple[QueryTrackerModel, nn.Module | None]:
    hook = None
    if cfg.variant == "vsd-mot":
        from model.vsd import VSDHook

        hook = VSDHook(cfg.student_size, fixed_weight=cfg.fixed_semantic_weight, use_student=cfg.student, use_dswr=cfg.dswr)
    elif cfg.variant == "direct":
        from model.vsd import DirectTeacherHook

        hook = DirectTeacherHook(cfg.teacher, teacher_dim, use_dswr=cfg.dswr, fixed_weight=cfg.fixed_semantic_weight)
    elif cfg.variant != "baseline":
        raise ValueError(f"unknown variant {cfg.variant!r}: use 'baseline', 'vsd-mot' or 'direct'")
    model = QueryTrackerModel(cfg.tracker, hook=hook)
    if cfg.init:
        init_model, _ = load_checkpoint(cfg.init)
        missing, unexpected = model.load_state_dict(init_model.state_dict(), strict=False)
        unexpected = [k for k in unexpected if not k.startswith("hook.")]
        if unexpected:
            raise ValueError(f"--init checkpoint does not fit this model: unexpected {unexpected[:5]}")
    distill = None
    if cfg.variant == "vsd-mot" and cfg.student and cfg.distill != "none":
        from model.dcsd import DCSDConfig, DCSDLoss, PlainDistillLoss

        dcfg = DCSDConfig(teacher_dim=teacher_dim, tau=cfg.tau)
        distill = DCSDLoss(dcfg) if cfg.distill == "dcsd" else PlainDistillLoss(dcfg)
    return model, distill


def load_training_data(cfg: TrainConfig, data_dir: Path, detector: Any, teacher: Any | None) -> list[TrainingSequence]:
    from model.cache import build_teacher_cache

    sequences = []
    for name, first, last in cfg.spans:
        seq_dir = data_dir / name
        if not seq_dir.is_dir():
            raise FileNotFoundError(f"training sequence {name} not found in {data_dir}")
        renditions = mix_renditions(cfg.lq_per_hq) + ([HSV_RENDITION] if cfg.hsv else [])
        clean = None
        if teacher is not None and cfg.teacher_view == "clean":
            clean = load_sequence(seq_dir, first, last, None, detector).cache
            build_teacher_cache(clean, seq_dir, teacher)
        for rendition in renditions:
            seq = load_sequence(seq_dir, first, last, rendition, detector)
            if teacher is not None:
                build_teacher_cache(seq.cache, seq_dir, teacher)
                if clean is not None and clean.frames != seq.cache.frames:
                    raise ValueError(f"clean and degraded caches of {name} {first}-{last} hold different frames")
                seq.teacher_source = clean
            sequences.append(seq)
    return sequences


def _is_main() -> bool:
    return not dist.is_initialized() or dist.get_rank() == 0


def train(cfg: TrainConfig, data_dir: Path | None = None) -> Path:
    """Train and write ``<output>/checkpoint.pt`` (+ ``last.pt`` for resuming and a JSON log)."""
    torch.set_num_threads(cfg.num_threads)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    rank = dist.get_rank() if dist.is_initialized() else 0
    torch.manual_seed(cfg.seed)
    data_dir = data_dir or settings.data_dir()
    if data_dir is None:
        raise FileNotFoundError("no training data: set VSDMOT_DATA_DIR to a folder of MOTChallenge sequences")

    from model.detector import YoloxDetector

    detector = YoloxDetector()
    teacher = None
    needs_teacher = (cfg.variant == "vsd-mot" and cfg.student and cfg.distill != "none") or cfg.variant == "direct"
    if needs_teacher:
        from model.teacher import build_teacher

        teacher = build_teacher(cfg.teacher)
    if rank != 0:  # let rank 0 build the frozen-feature caches once, then read them
        dist.barrier()
    sequences = load_training_data(cfg, Path(data_dir), detector, teacher)
    if rank == 0 and dist.is_initialized():
        dist.barrier()
    model, distill = build_model(cfg, teacher.dim if teacher is not None else None)
    objective: nn.Module = ClipObjective(model, distill, cfg)
    if dist.is_initialized():
        objective = nn.parallel.DistributedDataParallel(objective, find_unused_parameters=True)
    params = [p for p in objective.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=cfg.lr_drop_epoch, gamma=0.1)

    out_dir = Path(cfg.output)
    out_dir.mkdir(parents=True, exist_ok=True)
    last_path = out_dir / "last.pt"
    start_epoch, log = 0, []
    if last_path.exists():  # resume
        state = torch.load(last_path, map_location="cpu", weights_only=False)
        _unwrap(objective).load_state_dict(state["objective"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        start_epoch, log = state["epoch"], state["log"]
        if rank == 0:
            print(f"resumed from {last_path} at epoch {start_epoch}", file=sys.stderr)

    started = time.time()
    for epoch in range(start_epoch, cfg.epochs):
        rng = np.random.default_rng(cfg.seed * 1000 + epoch)
        clips = sample_clips(sequences, cfg.clips_per_epoch, cfg.clip_len, cfg.max_interval, rng)[rank::world]
        aug_rng = np.random.default_rng((cfg.seed * 1000 + epoch) * 64 + rank)
        objective.train()
        sums: dict[str, float] = {}
        bar = tqdm(clips, desc=f"epoch {epoch + 1}/{cfg.epochs}", disable=rank != 0, mininterval=2)
        for s, frames in bar:
            losses = objective(sequences[s], frames, aug_rng)
            optimizer.zero_grad(set_to_none=True)
            losses["loss"].backward()
            if cfg.grad_clip:
                torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
            optimizer.step()
            for k, v in losses.items():
                sums[k] = sums.get(k, 0.0) + float(v)
            bar.set_postfix(loss=f"{float(losses['loss']):.3f}")
        scheduler.step()
        entry = {"epoch": epoch + 1, **{k: v / max(len(clips), 1) for k, v in sums.items()}, "elapsed_s": time.time() - started}
        log.append(entry)
        if _is_main():
            print(json.dumps(entry), file=sys.stderr)
            torch.save(
                {"objective": _unwrap(objective).state_dict(), "optimizer": optimizer.state_dict(),
                 "scheduler": scheduler.state_dict(), "epoch": epoch + 1, "log": log},
                last_path,
            )
        if _is_main():
            _write_checkpoint(cfg, model, log, started, needs_teacher, out_dir)
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
    return out_dir / "checkpoint.pt"


def _write_checkpoint(cfg: TrainConfig, model: QueryTrackerModel, log: list, started: float, needs_teacher: bool,
                      out_dir: Path) -> None:
    """The deployable checkpoint (fp16 weights + config + model-card metadata), rewritten every epoch."""
    meta = {
        "variant": cfg.variant,
        "train_config": _jsonable(asdict(cfg)),
        "teacher": cfg.teacher if needs_teacher else None,
        "detector": "yolox_nano",
        "train_spans": cfg.spans,
        "log": log,
        "train_hours": round((time.time() - started) / 3600, 3),
    }
    sha = save_checkpoint(out_dir / "checkpoint.pt", model, meta)
    (out_dir / "train_log.json").write_text(json.dumps({"sha256": sha, **meta}, indent=1))


def _unwrap(module: nn.Module) -> nn.Module:
    return module.module if isinstance(module, nn.parallel.DistributedDataParallel) else module


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and math.isinf(value):
        return "inf"
    return value


def parse_args(argv: list[str] | None = None) -> TrainConfig:
    defaults = TrainConfig()
    p = argparse.ArgumentParser(prog="python -m model.train", description=__doc__.split("\n\n")[0])
    p.add_argument("--variant", choices=["baseline", "vsd-mot", "direct"], default=defaults.variant,
                   help="direct = the frozen teacher runs at inference (paper Fig. 1a), for the cost comparison")
    p.add_argument("--student", action=argparse.BooleanOptionalAction, default=defaults.student)
    p.add_argument("--dswr", action=argparse.BooleanOptionalAction, default=defaults.dswr)
    p.add_argument("--fixed-semantic-weight", type=float, default=defaults.fixed_semantic_weight)
    p.add_argument("--distill", choices=["dcsd", "plain", "none"], default=defaults.distill)
    p.add_argument("--alpha", type=float, default=defaults.alpha, help="eq. 15 weight of L_distill (0..1)")
    p.add_argument("--tau", type=float, default=defaults.tau)
    p.add_argument("--teacher", choices=("clip-rn50", "effnet-lite0"), default=defaults.teacher,
                   help="frozen teacher for distillation (clip-rn50 needs the hub or VSDMOT_CLIP_CHECKPOINT)")
    p.add_argument("--teacher-view", choices=("degraded", "clean"), default=defaults.teacher_view,
                   help="what the teacher embeds for a degraded frame: that frame (paper) or its clean original (ours)")
    p.add_argument("--lq-per-hq", type=float, default=defaults.lq_per_hq, help="0 = all HQ, 1, 2, inf = all LQ")
    for name in ("epochs", "clips_per_epoch", "lr_drop_epoch", "clip_len", "max_interval", "seed", "num_threads"):
        p.add_argument("--" + name.replace("_", "-"), type=int, default=getattr(defaults, name))
    p.add_argument("--hsv", action=argparse.BooleanOptionalAction, default=defaults.hsv,
                   help="add an HSV-jittered copy of each clean training sequence")
    for name in ("lr", "weight_decay", "grad_clip", "track_drop", "fp_insert", "pseudo_clip"):
        p.add_argument("--" + name.replace("_", "-"), type=float, default=getattr(defaults, name))
    size = defaults.student_size
    p.add_argument("--student-hidden-dim", type=int, default=size.hidden_dim, help="hidden_dim of eqs. 1-3")
    p.add_argument("--student-heads", type=int, default=size.num_heads)
    p.add_argument("--student-ffn-dim", type=int, default=size.ffn_dim)
    p.add_argument("--student-layers", type=int, default=size.num_layers, help="the paper uses 3")
    p.add_argument("--span", action="append", default=None, metavar="SEQ:FIRST:LAST",
                   help="train on this span instead of the default split (repeatable)")
    p.add_argument("--init", default=None, help="initialise from a checkpoint (e.g. the trained baseline)")
    p.add_argument("--output", default=defaults.output)
    args = p.parse_args(argv)
    if not 0 < args.alpha < 1:
        p.error("--alpha must be in (0, 1) (eq. 15)")
    values = vars(args)
    try:
        values["student_size"] = StudentConfig(
            hidden_dim=values.pop("student_hidden_dim"), num_heads=values.pop("student_heads"),
            ffn_dim=values.pop("student_ffn_dim"), num_layers=values.pop("student_layers"))
    except ValueError as exc:
        p.error(str(exc))
    spans = values.pop("span")
    if spans:
        try:
            values["spans"] = tuple((n, int(a), int(b)) for n, a, b in (s.rsplit(":", 2) for s in spans))
        except ValueError:
            p.error("--span takes SEQUENCE:FIRST:LAST, e.g. TUD-Stadtmitte:1:50")
        if any(n == VAL_SPAN[0] and b >= VAL_SPAN[1] for n, a, b in values["spans"]):
            p.error(f"--span overlaps the validation frames {VAL_SPAN}: never train on them")
    return TrainConfig(**values)


def main(argv: list[str] | None = None) -> None:
    cfg = parse_args(argv)
    try:
        path = train(cfg)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    if _is_main():
        print(path)


if __name__ == "__main__":
    main()

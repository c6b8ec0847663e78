"""The training loop behind ``vsdmot train`` (library code; the CLI only parses arguments).

CPU-practical MOTRv2 training: the detector (and the teacher) are frozen and cached once per
(sequence, degradation) by :mod:`model.data.cache`; each step runs one 5-frame clip through the query
tracker with track queries carried from frame to frame (:mod:`model.training.objective`), and
optimises eq. 15: ``loss = alpha * L_distill + (1 - alpha) * L_mot`` (``alpha`` only matters for VSD-MOT).

Runs as one process, or under ``torchrun --nproc_per_node N -m model train ...`` with
DistributedDataParallel (gloo between CPU processes, NCCL between GPUs, one GPU per rank by its
``LOCAL_RANK``; ``--device``, model.core.device): each rank takes its share of every epoch's clips.
The recipe at the paper's scale (MOT17 / DanceTrack / CrowdHuman on GPUs) is in docs/training-gpu.md.
Resumable: ``<output>/last.pt`` holds the optimiser state after every epoch.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from tqdm import tqdm

from model.core import settings
from model.data.clips import HSV_RENDITION, TrainingSequence, load_sequence, mix_renditions, sample_clips
from model.tracking.checkpoint import load_checkpoint, save_checkpoint
from model.tracking.hooks import DirectTeacherHook, QueryHook, VSDHook
from model.tracking.query_model import QueryTrackerModel
from model.training.run_config import TrainConfig
from model.training.averaging import WeightAverage
from model.training.objective import ClipObjective

CHECKPOINT = "checkpoint.pt"  # what the run deploys (the averaged weights with --weight-average)
RAW_CHECKPOINT = "checkpoint-last.pt"  # with --weight-average: the last weights, as the run without averaging


def build_model(cfg: TrainConfig, teacher_dim: int | None) -> tuple[QueryTrackerModel, nn.Module | None]:
    hook: QueryHook | None = None
    if cfg.variant == "vsd-mot":
        hook = VSDHook(cfg.student_size, fixed_weight=cfg.fixed_semantic_weight, trained_student=cfg.student,
                       trained_dswr=cfg.dswr)
    elif cfg.variant == "direct":
        hook = DirectTeacherHook(cfg.teacher, teacher_dim, trained_dswr=cfg.dswr, fixed_weight=cfg.fixed_semantic_weight)
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
        from model.vsd.dcsd import DCSDConfig, DCSDLoss, PlainDistillLoss

        dcfg = DCSDConfig(teacher_dim=teacher_dim, tau=cfg.tau)
        distill = DCSDLoss(dcfg) if cfg.distill == "dcsd" else PlainDistillLoss(dcfg)
    return model, distill


def load_training_data(cfg: TrainConfig, data_dir: Path | None, detector: Any, teacher: Any | None) -> list[TrainingSequence]:
    """Every training rendition with its cached detector outputs and, when distilling, its teacher
    tokens: the frame's global embedding (``teacher`` a :class:`model.vsd.teacher.Teacher`) or the
    region tokens of its boxes (``teacher`` a :class:`model.vsd.regions.RegionTeacher`)."""
    from model.data.cache import build_teacher_cache
    from model.data.region_cache import build_region_cache

    sequences = []
    regions = cfg.teacher_tokens == "regions"
    for seq_dir, first, last in _training_spans(cfg, data_dir):
        name = seq_dir.name
        renditions = mix_renditions(cfg.lq_per_hq, cfg.lq_recipes) + ([HSV_RENDITION] if cfg.hsv else [])
        clean = None
        if teacher is not None and cfg.teacher_view == "clean" and not regions:
            clean = load_sequence(seq_dir, first, last, None, detector).cache
            build_teacher_cache(clean, seq_dir, teacher)
        for rendition in renditions:
            seq = load_sequence(seq_dir, first, last, rendition, detector)
            if teacher is not None and regions:
                seq.regions = build_region_cache(seq.cache, seq_dir, teacher, cfg.teacher_view)
            elif teacher is not None:
                build_teacher_cache(seq.cache, seq_dir, teacher)
                if clean is not None and clean.frames != seq.cache.frames:
                    raise ValueError(f"clean and degraded caches of {name} {first}-{last} hold different frames")
                seq.teacher_source = clean
            sequences.append(seq)
    return sequences


def _training_spans(cfg: TrainConfig, data_dir: Path | None) -> list[tuple[Path, int, int]]:
    """(folder, first, last) of every span, then every extra sequence whole."""
    from model.data.mot_io import sequence_length

    spans = []
    for name, first, last in cfg.spans:
        if data_dir is None:
            raise FileNotFoundError("no training data: set VSDMOT_DATA_DIR to a folder of MOTChallenge sequences")
        if not (data_dir / name).is_dir():
            raise FileNotFoundError(f"training sequence {name} not found in {data_dir}")
        spans.append((data_dir / name, first, last))
    for folder in map(Path, cfg.extra_sequences):
        if not (folder / "img1").is_dir() or not (folder / "gt" / "gt.txt").is_file():
            raise FileNotFoundError(f"extra training sequence {folder} needs img1/ and gt/gt.txt")
        spans.append((folder, 1, sequence_length(folder)))
    return spans


def is_main_process() -> bool:
    return not dist.is_initialized() or dist.get_rank() == 0


def train(cfg: TrainConfig, data_dir: Path | None = None) -> Path:
    """Train and write ``<output>/checkpoint.pt`` (+ ``last.pt`` for resuming and a JSON log)."""
    from model.core.device import distributed_backend, resolve_device

    torch.set_num_threads(cfg.num_threads)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    plan = resolve_device(cfg.device, index=int(os.environ.get("LOCAL_RANK", "0")))  # before any data is read
    if plan.on_cuda:
        torch.cuda.set_device(plan.tracker)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(distributed_backend(plan))
    rank = dist.get_rank() if dist.is_initialized() else 0
    torch.manual_seed(cfg.seed)
    data_dir = data_dir or settings.data_dir()
    if data_dir is None and cfg.spans:
        raise FileNotFoundError("no training data: set VSDMOT_DATA_DIR to a folder of MOTChallenge sequences")

    from model.tracking.detector import DetectorConfig, YoloxDetector

    detector = YoloxDetector(DetectorConfig(providers=plan.detector_providers))
    teacher = None
    needs_teacher = cfg.needs_teacher
    if needs_teacher and cfg.teacher_tokens == "regions":
        from model.vsd.regions import build_region_teacher

        teacher = build_region_teacher(cfg.teacher)
    elif needs_teacher:
        from model.vsd.teacher import build_teacher

        teacher = build_teacher(cfg.teacher)
    if rank != 0:  # let rank 0 build the frozen-feature caches once, then read them
        dist.barrier()
    sequences = load_training_data(cfg, Path(data_dir) if data_dir is not None else None, detector, teacher)
    if rank == 0 and dist.is_initialized():
        dist.barrier()
    model, distill = build_model(cfg, teacher.dim if teacher is not None else None)
    model.to(plan.tracker)
    objective: nn.Module = ClipObjective(model, distill, cfg).to(plan.tracker)
    if dist.is_initialized():
        objective = nn.parallel.DistributedDataParallel(
            objective, device_ids=[torch.device(plan.tracker).index] if plan.on_cuda else None,
            find_unused_parameters=True)
    params = [p for p in objective.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=cfg.lr_drop_epoch, gamma=0.1)
    average = WeightAverage(model, cfg.weight_average) if cfg.weight_average is not None else None

    out_dir = Path(cfg.output)
    out_dir.mkdir(parents=True, exist_ok=True)
    last_path = out_dir / "last.pt"
    start_epoch, log = 0, []
    if last_path.exists():  # resume
        state = torch.load(last_path, map_location=plan.tracker, weights_only=False)
        _unwrap(objective).load_state_dict(state["objective"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        start_epoch, log = state["epoch"], state["log"]
        if average is not None:
            saved = state.get("weight_average")
            if saved is None:
                raise ValueError(f"{last_path} was written by a run without --weight-average: resume it without "
                                 "the option, or train into a new --output")
            average.load_state_dict(saved)
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
            if not losses["loss"].requires_grad:
                # A clip with no proposal and no track in any frame (a pseudo-labelled clip's empty
                # stretch) has nothing to learn; every rank must still step together under DDP.
                losses["loss"] = losses["loss"] + sum(0.0 * p.sum() for p in params)
                sums["empty_clips"] = sums.get("empty_clips", 0.0) + 1.0
            losses["loss"].backward()
            if cfg.grad_clip:
                torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
            optimizer.step()
            if average is not None:
                average.update(model)
            for k, v in losses.items():
                sums[k] = sums.get(k, 0.0) + float(v.detach())
            bar.set_postfix(loss=f"{float(losses['loss']):.3f}")
        scheduler.step()
        entry = {"epoch": epoch + 1, **{k: v / max(len(clips), 1) for k, v in sums.items()}, "elapsed_s": time.time() - started}
        log.append(entry)
        if is_main_process():
            print(json.dumps(entry), file=sys.stderr)
            torch.save(
                {"objective": _unwrap(objective).state_dict(), "optimizer": optimizer.state_dict(),
                 "scheduler": scheduler.state_dict(), "epoch": epoch + 1, "log": log,
                 "weight_average": average.state_dict() if average is not None else None},
                last_path,
            )
            if average is None:
                _write_checkpoint(cfg, model, log, started, needs_teacher, detector.name, out_dir / CHECKPOINT, "last")
            else:  # averaging leaves the trajectory alone: the raw file is what the same run without it deploys
                _write_checkpoint(cfg, average.averaged(model), log, started, needs_teacher, detector.name,
                                  out_dir / CHECKPOINT, "ema")
                _write_checkpoint(cfg, model, log, started, needs_teacher, detector.name, out_dir / RAW_CHECKPOINT, "last")
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
    return out_dir / CHECKPOINT


def _write_checkpoint(cfg: TrainConfig, model: QueryTrackerModel, log: list, started: float, needs_teacher: bool,
                      detector_name: str, path: Path, weights: str) -> None:
    """A deployable checkpoint (fp16 weights + config + model-card metadata), rewritten every epoch;
    ``weights`` says which: the last weights or their average."""
    meta = {
        "variant": cfg.variant,
        "train_config": _jsonable(asdict(cfg)),
        "teacher": cfg.teacher if needs_teacher else None,
        "teacher_tokens": cfg.teacher_tokens if needs_teacher else None,
        "teacher_view": cfg.teacher_view if needs_teacher else None,
        "detector": detector_name,
        "train_spans": cfg.spans,
        "extra_sequences": cfg.extra_sequences,
        "log": log,
        "train_hours": round((time.time() - started) / 3600, 3),
        "weights": weights,
    }
    sha = save_checkpoint(path, model, meta)
    if path.name == CHECKPOINT:
        (path.parent / "train_log.json").write_text(json.dumps({"sha256": sha, **meta}, indent=1))


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

"""What one training run is: every knob of ``vsdmot train``, with the paper's values where it gives them."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from model.core.choices import (
    DEGRADE_PRESETS, DEVICE_AUTO, DEVICE_CHOICES, DISTILL_MODES, REGION_TEACHERS, TEACHER_TOKENS, TEACHER_VIEWS, TEACHERS,
    TRAIN_VARIANTS,
)
from model.data.clips import LQ_TRAIN_RENDITIONS, TRAIN_SPANS, VAL_SPAN, mix_renditions
from model.data.pseudo_labels import PROVENANCE_NAME, VALIDATION_SEQUENCES, VALIDATION_SOURCES
from model.tracking.query_model import TrackerConfig
from model.vsd.student import StudentConfig


@dataclass
class TrainConfig:
    """Defaults follow the paper where it says (alpha, tau, lr, clip length, interval); CPU-sized otherwise."""

    variant: str = "baseline"  # model.core.choices.TRAIN_VARIANTS; "direct" = teacher at inference (Fig. 1a)
    student: bool = True
    dswr: bool = True
    fixed_semantic_weight: float = 0.5  # fusion ratio when DSWR is off
    distill: str = "dcsd"  # model.core.choices.DISTILL_MODES
    alpha: float = 0.4  # eq. 15, paper Table VII best
    tau: float = 2.0  # eq. 8
    teacher: str = "effnet-lite0"
    # model.core.choices.TEACHER_VIEWS: "degraded" = the frame the student sees (the paper); "clean" =
    # on degraded renditions the clean original instead -- privileged distillation, ours, not the paper's.
    teacher_view: str = "degraded"
    # model.core.choices.TEACHER_TOKENS: "global" = one token per frame (the paper); "regions" = the teacher's
    # embedding of each query's box (ours, model.vsd.regions), with image or person re-ID teachers.
    teacher_tokens: str = "global"
    lq_per_hq: float = 2.0  # paper Table VI best: LQ:HQ = 2:1
    # The degraded training copies of every sequence, (preset, seed); lq_per_hq counts into them. Ours
    # (issue 12): more than the default medium + severe pair, e.g. a realesrgan copy or a second seed.
    lq_recipes: tuple[tuple[str, int], ...] = LQ_TRAIN_RENDITIONS
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
    # Ours (model.training.averaging): deploy an EMA of the weights with this decay; None = the last weights.
    weight_average: float | None = None
    init: str | None = None  # start from this checkpoint (e.g. the baseline for VSD-MOT)
    output: str = "runs/baseline"
    num_threads: int = 2
    # model.core.device: auto = CUDA when there is one (one GPU per torchrun rank), else the CPU.
    device: str = DEVICE_AUTO
    spans: tuple[tuple[str, int, int], ...] = TRAIN_SPANS  # (sequence, first, last) to train on
    # Ours: whole MOTChallenge sequence folders trained on beside the spans, with the same renditions --
    # e.g. unlabelled clips of new scenes pseudo-labelled by `vsdmot pseudo-label` (model.data.pseudo_labels).
    # e.g. MOT17 / DanceTrack / CrowdHuman at the paper's scale (`--dataset`, model.data.benchmark_sets).
    extra_sequences: tuple[str, ...] = ()
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    student_size: StudentConfig = field(default_factory=StudentConfig)  # the paper leaves hidden_dim open

    def __post_init__(self) -> None:
        for name, allowed in (("variant", TRAIN_VARIANTS), ("distill", DISTILL_MODES), ("teacher", REGION_TEACHERS),
                              ("teacher_view", TEACHER_VIEWS), ("teacher_tokens", TEACHER_TOKENS),
                              ("device", DEVICE_CHOICES)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}, got {getattr(self, name)!r}")
        if self.teacher_tokens == "global" and self.teacher not in TEACHERS:
            raise ValueError(f"teacher {self.teacher!r} embeds person boxes, not whole frames: use it with "
                             f"teacher_tokens='regions', or a frame teacher ({', '.join(TEACHERS)})")
        if self.teacher_tokens == "regions" and self.variant == "direct":
            raise ValueError("the direct variant feeds the frame's global teacher embedding at inference: "
                             "it takes teacher_tokens='global'")
        if self.weight_average is not None and not 0.0 < self.weight_average < 1.0:
            raise ValueError(f"weight_average is an EMA decay in (0, 1), got {self.weight_average}")
        self.extra_sequences = tuple(str(p) for p in self.extra_sequences)
        self.spans = tuple(tuple(s) for s in self.spans)
        self.lq_recipes = tuple((str(preset), int(seed)) for preset, seed in self.lq_recipes)
        for preset, seed in self.lq_recipes:
            if preset not in DEGRADE_PRESETS:
                raise ValueError(f"lq recipe preset must be one of {', '.join(DEGRADE_PRESETS)}, got {preset!r}")
        if len(set(self.lq_recipes)) != len(self.lq_recipes):
            raise ValueError(f"lq recipes repeat a (preset, seed): {self.lq_recipes}")
        mix_renditions(self.lq_per_hq, self.lq_recipes)  # refuses a mix the recipes cannot give
        if not self.spans and not self.extra_sequences:
            raise ValueError("nothing to train on: give spans, extra sequences or a --dataset")
        check_trainable(self.spans, self.extra_sequences)

    @property
    def needs_teacher(self) -> bool:
        """Whether training reads teacher embeddings (distillation, or direct integration's inputs)."""
        return (self.variant == "vsd-mot" and self.student and self.distill != "none") or self.variant == "direct"


def check_trainable(spans: tuple[tuple[str, int, int], ...], extra_sequences: tuple[str, ...]) -> None:
    """Refuse validation data: PETS09's validation frames, a validation sequence, or a clip made from one."""
    for name, first, last in spans:
        if name == VAL_SPAN[0] and last >= VAL_SPAN[1]:
            raise ValueError(f"span {name}:{first}:{last} overlaps the validation frames {VAL_SPAN}: never train on them")
        if name in VALIDATION_SEQUENCES:
            raise ValueError(f"{name} is validation data: never train on it")
    for folder in map(Path, extra_sequences):
        if folder.name in VALIDATION_SEQUENCES:
            raise ValueError(f"{folder} is validation data: never train on it")
        provenance = folder / PROVENANCE_NAME
        if provenance.is_file():
            meta = json.loads(provenance.read_text())
            if meta.get("source") in VALIDATION_SOURCES or meta.get("source_sha256") in VALIDATION_SOURCES.values():
                raise ValueError(f"{folder} was made from validation data ({meta.get('source')}): never train on it")

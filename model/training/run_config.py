"""What one training run is: every knob of ``vsdmot train``, with the paper's values where it gives them."""

from __future__ import annotations

from dataclasses import dataclass, field

from model.core.choices import DISTILL_MODES, TEACHER_VIEWS, TEACHERS, TRAIN_VARIANTS
from model.data.clips import TRAIN_SPANS
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
    # Ours (model.training.averaging): deploy an EMA of the weights with this decay; None = the last weights.
    weight_average: float | None = None
    init: str | None = None  # start from this checkpoint (e.g. the baseline for VSD-MOT)
    output: str = "runs/baseline"
    num_threads: int = 2
    spans: tuple[tuple[str, int, int], ...] = TRAIN_SPANS  # (sequence, first, last) to train on
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    student_size: StudentConfig = field(default_factory=StudentConfig)  # the paper leaves hidden_dim open

    def __post_init__(self) -> None:
        for name, allowed in (("variant", TRAIN_VARIANTS), ("distill", DISTILL_MODES), ("teacher", TEACHERS),
                              ("teacher_view", TEACHER_VIEWS)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}, got {getattr(self, name)!r}")
        if self.weight_average is not None and not 0.0 < self.weight_average < 1.0:
            raise ValueError(f"weight_average is an EMA decay in (0, 1), got {self.weight_average}")

    @property
    def needs_teacher(self) -> bool:
        """Whether training reads teacher embeddings (distillation, or direct integration's inputs)."""
        return (self.variant == "vsd-mot" and self.student and self.distill != "none") or self.variant == "direct"

"""Dual-Constrained Semantic Distillation, paper Sec. III-B (eqs. 4-12), and the plain ablation.

The frozen teacher sees the whole frame and gives one embedding T; the student gives one vector
per query, S (n x 256). DCSD pulls S towards the teacher's semantics with two complementary terms:

    T_proj     = Linear_teacher(T)                         (4)   teacher_dim -> 256
    T_align    = Interpolate(T_proj)  to length n          (5)   linear, align_corners=True
    S_norm     = Normalize(S),  T_norm = Normalize(T_align) (6, 7)   L2 over features
    A          = Softmax(S_norm T_norm^T / tau)            (8)   tau = 2.0, over teacher positions
    T_weighted = A T_align                                 (9)
    L_local    = MSE(S, T_weighted)                        (10)  per position
    L_global   = L1(Mean_n(S), Mean_n(T_align))            (11)  sequence statistics
    L_distill  = w1 L_local + w2 L_global,  (w1, w2) = softmax(two learnable logits)   (12)

Batches hold frames with different query counts, so S comes padded with a mask. Every term is
computed per frame over its valid positions only and then averaged over the frames that have at
least one query; a frame with no queries contributes nothing (the paper trains with one frame
per GPU, so the per-frame definition is the faithful one).

The teacher features are detached: gradients reach the student and Linear_teacher, never the
teacher.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass
class DCSDConfig:
    """Paper defaults: a 1024-d CLIP RN50 teacher (pass 1280 for EfficientNet-Lite0), tau = 2.0."""

    teacher_dim: int
    d_model: int = 256
    tau: float = 2.0

    def __post_init__(self) -> None:
        if self.teacher_dim < 1 or self.d_model < 1:
            raise ValueError("teacher_dim and d_model must be positive (e.g. teacher.dim and 256)")
        if self.tau <= 0:
            raise ValueError(f"tau is a softmax temperature and must be > 0, got {self.tau}")


@dataclass
class DCSDOutput:
    """The distillation loss and its parts, for the optimiser, the tests and the logs.

    Attributes:
        loss: () L_distill, eq. 12.
        local: () L_local, eq. 10, averaged over non-empty frames.
        global_: () L_global, eq. 11, averaged over non-empty frames.
        w1: () softmax weight of L_local.
        w2: () softmax weight of L_global (w1 + w2 = 1).
        attention: A, (B, n, n); rows of padded queries and columns of padded keys are 0.
        t_weighted: T_weighted, (B, n, d_model); 0 at padded positions.
        t_align: T_align, (B, n, d_model); 0 at padded positions.
    """

    loss: Tensor
    local: Tensor
    global_: Tensor
    w1: Tensor
    w2: Tensor
    attention: Tensor
    t_weighted: Tensor
    t_align: Tensor


@dataclass
class PlainDistillOutput:
    """The Table V "CLIP Distillation" row: one MSE between sequence means.

    Attributes:
        loss: () MSE(Mean_n(S), T_proj), averaged over non-empty frames.
        student_mean: (B, d_model) Mean_n(S) over valid positions (0 for empty frames).
        t_proj: (B, d_model) T_proj (averaged over teacher tokens when there are several).
    """

    loss: Tensor
    student_mean: Tensor
    t_proj: Tensor


def interpolate_sequence(tokens: Tensor, lengths: Tensor) -> Tensor:
    """Eq. 5: resample (B, m, d) teacher tokens to each frame's length along the sequence axis.

    Linear interpolation with aligned end points (``F.interpolate(mode="linear",
    align_corners=True)``), done per frame because frames in a batch have different n. One
    token becomes n copies. Returns (B, max(lengths), d), zero beyond each frame's length.
    """
    batch, m, dim = tokens.shape
    n_max = int(lengths.max()) if lengths.numel() else 0
    if n_max == 0 or m == 0:
        return tokens.new_zeros(batch, n_max, dim)
    positions = torch.arange(n_max, device=tokens.device, dtype=tokens.dtype).unsqueeze(0)  # (1, n)
    n = lengths.to(tokens.dtype).unsqueeze(1)  # (B, 1)
    # align_corners=True maps output i to input i * (m - 1) / (n - 1); a length-1 output reads input 0.
    scale = torch.where(n > 1, (m - 1) / (n - 1).clamp(min=1), torch.zeros_like(n))
    source = (positions * scale).clamp(max=m - 1)  # (B, n)
    left = source.floor().long().clamp(max=m - 1)
    right = (left + 1).clamp(max=m - 1)
    frac = (source - left.to(tokens.dtype)).unsqueeze(-1)
    left_tokens = torch.gather(tokens, 1, left.unsqueeze(-1).expand(-1, -1, dim))
    right_tokens = torch.gather(tokens, 1, right.unsqueeze(-1).expand(-1, -1, dim))
    out = left_tokens * (1 - frac) + right_tokens * frac
    valid = positions < n
    return out * valid.unsqueeze(-1).to(out.dtype)


class DCSDLoss(nn.Module):
    """Eqs. 4-12. Holds the learnable Linear_teacher and the two loss-weight logits."""

    def __init__(self, config: DCSDConfig) -> None:
        super().__init__()
        self.config = config
        self.teacher_proj = nn.Linear(config.teacher_dim, config.d_model)  # eq. 4
        self.weight_logits = nn.Parameter(torch.zeros(2))  # equal logits: w1 = w2 = 0.5 at start

    def forward(self, student: Tensor, teacher: Tensor, padding_mask: Tensor | None = None) -> DCSDOutput:
        """``student`` S (B, n, d) or (n, d); ``teacher`` T (B, teacher_dim) or (B, m, teacher_dim)
        (for an unbatched S: (teacher_dim,) or (m, teacher_dim)); ``padding_mask`` (B, n), True
        at padding. Outputs always carry the batch axis."""
        s, t, valid = _batched_inputs(student, teacher, padding_mask, self.config)
        lengths = valid.sum(dim=1)
        t_proj = self.teacher_proj(t)  # (4)  (B, m, d)
        t_align = interpolate_sequence(t_proj, lengths)  # (5)  (B, n, d)
        s_norm = F.normalize(s, dim=-1)  # (6)
        t_norm = F.normalize(t_align, dim=-1)  # (7)
        logits = s_norm @ t_norm.transpose(1, 2) / self.config.tau
        # Padded teacher positions are not keys. A frame with no queries has no keys at all and
        # would give softmax over nothing (NaN): let it see every position; its rows are zeroed.
        key_mask = (valid | (lengths == 0).unsqueeze(1)).unsqueeze(1)  # (B, 1, n)
        attention = torch.softmax(logits.masked_fill(~key_mask, float("-inf")), dim=-1)  # (8)
        attention = attention * valid.unsqueeze(2).to(attention.dtype)  # rows of padded queries -> 0
        t_weighted = attention @ t_align  # (9)

        position_weight = valid.to(s.dtype).unsqueeze(-1)  # (B, n, 1)
        count = lengths.to(s.dtype).clamp(min=1)  # (B,)
        d = s.shape[-1]
        local_per_frame = (((s - t_weighted) ** 2) * position_weight).sum(dim=(1, 2)) / (count * d)  # (10)
        s_mean = (s * position_weight).sum(dim=1) / count.unsqueeze(-1)
        t_mean = (t_align * position_weight).sum(dim=1) / count.unsqueeze(-1)
        global_per_frame = (s_mean - t_mean).abs().mean(dim=-1)  # (11)

        non_empty = lengths > 0
        local = _mean_over(local_per_frame, non_empty, anchor=s)
        global_ = _mean_over(global_per_frame, non_empty, anchor=s)
        w1, w2 = torch.softmax(self.weight_logits, dim=0)
        loss = w1 * local + w2 * global_  # (12)
        return DCSDOutput(loss, local, global_, w1, w2, attention, t_weighted, t_align)


class PlainDistillLoss(nn.Module):
    """Table V's "CLIP Distillation" ablation: MSE(Mean_n(S), Linear_teacher(T)), no attention."""

    def __init__(self, config: DCSDConfig) -> None:
        super().__init__()
        self.config = config
        self.teacher_proj = nn.Linear(config.teacher_dim, config.d_model)  # same projection as eq. 4

    def forward(
        self, student: Tensor, teacher: Tensor, padding_mask: Tensor | None = None
    ) -> PlainDistillOutput:
        """Same inputs as :meth:`DCSDLoss.forward`."""
        s, t, valid = _batched_inputs(student, teacher, padding_mask, self.config)
        lengths = valid.sum(dim=1)
        t_proj = self.teacher_proj(t).mean(dim=1)  # (B, d); a no-op mean for one token
        position_weight = valid.to(s.dtype).unsqueeze(-1)
        s_mean = (s * position_weight).sum(dim=1) / lengths.to(s.dtype).clamp(min=1).unsqueeze(-1)
        per_frame = ((s_mean - t_proj) ** 2).mean(dim=-1)
        loss = _mean_over(per_frame, lengths > 0, anchor=s)
        return PlainDistillOutput(loss, s_mean, t_proj)


def _mean_over(per_frame: Tensor, keep: Tensor, anchor: Tensor) -> Tensor:
    """Average over the kept frames; 0 (still attached to the graph) when none is kept."""
    if bool(keep.any()):
        return per_frame[keep].mean()
    return anchor.sum() * 0.0 + per_frame.sum() * 0.0


def _batched_inputs(
    student: Tensor, teacher: Tensor, padding_mask: Tensor | None, config: DCSDConfig
) -> tuple[Tensor, Tensor, Tensor]:
    """Bring S to (B, n, d), T to (B, m, teacher_dim) detached, and return the valid mask (B, n)."""
    if student.dim() == 2:
        student = student.unsqueeze(0)
        teacher = teacher.unsqueeze(0)
        if padding_mask is not None and padding_mask.dim() == 1:
            padding_mask = padding_mask.unsqueeze(0)
    if student.dim() != 3 or student.shape[-1] != config.d_model:
        raise ValueError(
            f"student features must be (B, n, {config.d_model}) or (n, {config.d_model}), "
            f"got {tuple(student.shape)}"
        )
    if teacher.dim() == 2:
        teacher = teacher.unsqueeze(1)  # one global token per frame
    if teacher.dim() != 3 or teacher.shape[0] != student.shape[0] or teacher.shape[-1] != config.teacher_dim:
        raise ValueError(
            f"teacher features must be (B, {config.teacher_dim}) or (B, m, {config.teacher_dim}) with "
            f"B = {student.shape[0]} frames like the student; got {tuple(teacher.shape)} "
            "(is DCSDConfig.teacher_dim set to the teacher's .dim?)"
        )
    if teacher.shape[1] == 0:
        raise ValueError("the teacher gave no tokens for a frame; it must give at least one")
    batch, n, _ = student.shape
    if padding_mask is None:
        valid = torch.ones(batch, n, dtype=torch.bool, device=student.device)
    else:
        if padding_mask.shape != (batch, n):
            raise ValueError(f"padding_mask must be (B, n) = {(batch, n)}, got {tuple(padding_mask.shape)}")
        valid = ~padding_mask.to(device=student.device, dtype=torch.bool)
        if n and bool((valid[:, 1:] & ~valid[:, :-1]).any()):
            raise ValueError("padding must be at the end of each frame's queries (True after all False)")
    return student, teacher.detach().to(device=student.device, dtype=student.dtype), valid

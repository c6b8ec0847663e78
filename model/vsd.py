"""VSD-MOT's query hook: the student reads the frame's queries, DSWR fuses its output back in.

    S       = Student(F_query)                                  (eqs. 1-3)
    w       = sigmoid(W * Q + b)   (or a fixed ratio, "no DSWR") (eq. 13)
    F_fused = w * S + (1 - w) * F_query                          (eq. 14)

S is also what DCSD distils from the frozen teacher during training (``HookOutput.student``).
The student's output projection starts at zero, so a fresh hook is the identity and VSD-MOT can
start from a trained baseline without changing its predictions.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from torch import Tensor, nn

from model.dswr import DSWR, DSWRConfig
from model.query_hook import HookOutput
from model.student import StudentConfig, StudentModel


class VSDHook(nn.Module):
    """Student + DSWR between query construction and the decoder, with run-time switches."""

    def __init__(
        self,
        student_config: StudentConfig | None = None,
        dswr_config: DSWRConfig | None = None,
        fixed_weight: float = 0.5,
        use_student: bool = True,
        use_dswr: bool = True,
    ) -> None:
        super().__init__()
        self.student_config = student_config or StudentConfig()
        self.dswr_config = dswr_config or DSWRConfig()
        self.student = StudentModel(self.student_config)
        self.dswr = DSWR(self.dswr_config)
        self.fixed = DSWR(fixed_weight=fixed_weight)
        self.use_student, self.use_dswr = use_student, use_dswr

    @property
    def needs_quality(self) -> bool:
        return self.use_student and self.use_dswr

    def configure(self, student: bool | None = None, dswr: bool | None = None) -> None:
        """Switch parts on/off at run time (None keeps the trained setting)."""
        if student is not None:
            self.use_student = student
        if dswr is not None:
            self.use_dswr = dswr

    def forward(self, queries: Tensor, quality: Tensor | None = None, padding_mask: Tensor | None = None) -> HookOutput:
        if not self.use_student:
            return HookOutput(queries)
        semantic = self.student(queries, padding_mask=padding_mask).features
        if self.use_dswr:
            if quality is None:
                raise ValueError("DSWR needs the frame quality Q; pass quality= or switch DSWR off")
            fused = self.dswr(semantic, queries, quality)
        else:
            fused = self.fixed(semantic, queries, None)
        return HookOutput(fused.fused, semantic, fused.weight)

    def spec(self) -> dict[str, Any]:
        return {
            "kind": "vsd",
            "student_config": asdict(self.student_config),
            "dswr_config": asdict(self.dswr_config),
            "fixed_weight": self.fixed.fixed_weight,
            "use_student": self.use_student,
            "use_dswr": self.use_dswr,
        }

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> VSDHook:
        return cls(
            StudentConfig(**spec["student_config"]),
            DSWRConfig(**spec["dswr_config"]),
            fixed_weight=spec["fixed_weight"],
            use_student=spec["use_student"],
            use_dswr=spec["use_dswr"],
        )


class DirectTeacherHook(nn.Module):
    """The paper's Fig. 1(a) alternative: run the frozen teacher at inference and fuse its projected
    frame embedding into every query (no student). Exists to measure what distillation saves:
    the teacher's cost is paid on every frame.

        F_sem   = Linear_teacher(T)  (1 x 256, broadcast over the n queries)
        F_fused = w * F_sem + (1 - w) * F_query,  w from DSWR (or fixed)
    """

    needs_teacher = True

    def __init__(self, teacher_name: str, teacher_dim: int, dswr_config: DSWRConfig | None = None,
                 use_dswr: bool = True, fixed_weight: float = 0.5) -> None:
        super().__init__()
        self.teacher_name, self.teacher_dim = teacher_name, teacher_dim
        self.dswr_config = dswr_config or DSWRConfig()
        self.project = nn.Linear(teacher_dim, 256)
        self.dswr = DSWR(self.dswr_config)
        self.fixed = DSWR(fixed_weight=fixed_weight)
        self.use_dswr = use_dswr

    @property
    def needs_quality(self) -> bool:
        return self.use_dswr

    def configure(self, student: bool | None = None, dswr: bool | None = None) -> None:
        if student:
            raise ValueError("direct teacher integration has no student")
        if dswr is not None:
            self.use_dswr = dswr

    def forward(self, queries: Tensor, quality: Tensor | None = None, padding_mask: Tensor | None = None,
                teacher_embedding: Tensor | None = None) -> HookOutput:
        if teacher_embedding is None:
            raise ValueError("direct integration needs the teacher's embedding of the frame")
        semantic = self.project(teacher_embedding.reshape(queries.shape[0], 1, -1))
        fused = self.dswr(semantic, queries, quality) if self.use_dswr else self.fixed(semantic, queries, None)
        return HookOutput(fused.fused, None, fused.weight)

    def spec(self) -> dict[str, Any]:
        return {"kind": "direct", "teacher_name": self.teacher_name, "teacher_dim": self.teacher_dim,
                "dswr_config": asdict(self.dswr_config), "use_dswr": self.use_dswr,
                "fixed_weight": self.fixed.fixed_weight}

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> DirectTeacherHook:
        return cls(spec["teacher_name"], spec["teacher_dim"], DSWRConfig(**spec["dswr_config"]),
                   spec["use_dswr"], spec["fixed_weight"])

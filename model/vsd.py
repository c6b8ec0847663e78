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

    @classmethod
    def build(cls, student: bool = True, dswr: bool = True, fixed_weight: float = 0.5) -> VSDHook:
        return cls(fixed_weight=fixed_weight, use_student=student, use_dswr=dswr)

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

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

from torch import Tensor

from model.tracking.hooks.base import (
    HookInputs, HookNeeds, HookOutput, HookSwitches, QueryHook, fuse, register_hook,
)
from model.vsd.dswr import DSWR, DSWRConfig
from model.vsd.student import StudentConfig, StudentModel


@register_hook
class VSDHook(QueryHook):
    """Student + DSWR between query construction and the decoder; student/DSWR/ratio switch per call."""

    kind = "vsd"
    switch_names = frozenset({"student", "dswr", "fixed_weight"})

    def __init__(
        self,
        student_config: StudentConfig | None = None,
        dswr_config: DSWRConfig | None = None,
        fixed_weight: float = 0.5,
        trained_student: bool = True,
        trained_dswr: bool = True,
    ) -> None:
        super().__init__()
        self.student_config = student_config or StudentConfig()
        self.dswr_config = dswr_config or DSWRConfig()
        self.student = StudentModel(self.student_config)
        self.dswr = DSWR(self.dswr_config)
        if not 0.0 <= fixed_weight <= 1.0:
            raise ValueError(f"fixed_weight is a mixing ratio and must lie in [0, 1], got {fixed_weight}")
        self._trained = HookSwitches(student=trained_student, dswr=trained_dswr, fixed_weight=fixed_weight)

    def trained_switches(self) -> HookSwitches:
        return self._trained

    def needs(self, switches: HookSwitches) -> HookNeeds:
        return HookNeeds(quality=bool(switches.student and switches.dswr))

    def forward(self, queries: Tensor, inputs: HookInputs, switches: HookSwitches,
                padding_mask: Tensor | None = None) -> HookOutput:
        if not switches.student:
            return HookOutput(queries)
        semantic = self.student(queries, padding_mask=padding_mask).features
        fused = fuse(self.dswr, semantic, queries, inputs, switches)
        return HookOutput(fused.fused, semantic, fused.weight)

    def spec(self) -> dict[str, Any]:
        # Key names kept from the first checkpoints (use_student / use_dswr = the trained switches).
        return {
            "kind": self.kind,
            "student_config": asdict(self.student_config),
            "dswr_config": asdict(self.dswr_config),
            "fixed_weight": self._trained.fixed_weight,
            "use_student": self._trained.student,
            "use_dswr": self._trained.dswr,
        }

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> VSDHook:
        return cls(
            StudentConfig(**spec["student_config"]),
            DSWRConfig(**spec["dswr_config"]),
            fixed_weight=spec["fixed_weight"],
            trained_student=spec["use_student"],
            trained_dswr=spec["use_dswr"],
        )

"""The paper's Fig. 1(a) alternative: run the frozen teacher at inference and fuse its projected
frame embedding into every query (no student). It exists to measure what distillation saves: the
teacher's cost is paid on every frame.

    F_sem   = Linear_teacher(T)  (1 x 256, broadcast over the n queries)
    F_fused = w * F_sem + (1 - w) * F_query,  w from DSWR (or fixed)
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from torch import Tensor, nn

from model.tracking.hooks.base import (
    HookInputs, HookNeeds, HookOutput, HookSwitches, QueryHook, fuse, register_hook,
)
from model.vsd.dswr import DSWR, DSWRConfig


@register_hook
class DirectTeacherHook(QueryHook):
    kind = "direct"
    switch_names = frozenset({"dswr", "fixed_weight"})

    def __init__(self, teacher_name: str, teacher_dim: int, dswr_config: DSWRConfig | None = None,
                 trained_dswr: bool = True, fixed_weight: float = 0.5) -> None:
        super().__init__()
        self.teacher_name, self.teacher_dim = teacher_name, teacher_dim
        self.dswr_config = dswr_config or DSWRConfig()
        self.project = nn.Linear(teacher_dim, 256)
        self.dswr = DSWR(self.dswr_config)
        if not 0.0 <= fixed_weight <= 1.0:
            raise ValueError(f"fixed_weight is a mixing ratio and must lie in [0, 1], got {fixed_weight}")
        self._trained = HookSwitches(dswr=trained_dswr, fixed_weight=fixed_weight)

    def trained_switches(self) -> HookSwitches:
        return self._trained

    def needs(self, switches: HookSwitches) -> HookNeeds:
        return HookNeeds(quality=bool(switches.dswr), teacher=self.teacher_name)

    def forward(self, queries: Tensor, inputs: HookInputs, switches: HookSwitches,
                padding_mask: Tensor | None = None) -> HookOutput:
        if inputs.teacher_embedding is None:
            raise ValueError(f"direct integration needs the {self.teacher_name} teacher's embedding of the frame")
        semantic = self.project(inputs.teacher_embedding.reshape(queries.shape[0], 1, -1))
        fused = fuse(self.dswr, semantic, queries, inputs, switches)
        return HookOutput(fused.fused, None, fused.weight)

    def spec(self) -> dict[str, Any]:
        return {"kind": self.kind, "teacher_name": self.teacher_name, "teacher_dim": self.teacher_dim,
                "dswr_config": asdict(self.dswr_config), "use_dswr": self._trained.dswr,
                "fixed_weight": self._trained.fixed_weight}

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> DirectTeacherHook:
        return cls(spec["teacher_name"], spec["teacher_dim"], DSWRConfig(**spec["dswr_config"]),
                   spec["use_dswr"], spec["fixed_weight"])

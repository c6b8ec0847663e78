"""The baseline's hook: the decoder sees the proposal and track queries as built."""

from __future__ import annotations

from typing import Any

from torch import Tensor

from model.tracking.hooks.base import HookInputs, HookOutput, HookSwitches, QueryHook, register_hook


@register_hook
class IdentityHook(QueryHook):
    kind = "identity"

    def forward(self, queries: Tensor, inputs: HookInputs, switches: HookSwitches,
                padding_mask: Tensor | None = None) -> HookOutput:
        return HookOutput(queries)

    def spec(self) -> dict[str, Any]:
        return {"kind": self.kind}

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> IdentityHook:
        return cls()

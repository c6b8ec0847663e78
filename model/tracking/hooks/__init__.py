"""Query hooks by kind: ``identity`` (baseline), ``vsd`` (student + DSWR), ``direct`` (Fig. 1a).

Importing this package registers all three, so :func:`build_hook` can rebuild any checkpoint's hook.
"""

from __future__ import annotations

from typing import Any

from model.tracking.hooks.base import (
    HOOKS, HookInputs, HookNeeds, HookOutput, HookSwitches, QueryHook, register_hook,
)
from model.tracking.hooks.direct import DirectTeacherHook
from model.tracking.hooks.identity import IdentityHook
from model.tracking.hooks.student_dswr import VSDHook

__all__ = [
    "HOOKS", "DirectTeacherHook", "HookInputs", "HookNeeds", "HookOutput", "HookSwitches", "IdentityHook",
    "QueryHook", "VSDHook", "build_hook", "register_hook",
]


def build_hook(spec: dict[str, Any]) -> QueryHook:
    """The hook a checkpoint's ``hook`` entry describes (a checkpoint without one is a baseline)."""
    kind = spec.get("kind", IdentityHook.kind)
    if kind not in HOOKS:
        raise ValueError(f"unknown hook kind {kind!r} in the checkpoint; known: {', '.join(sorted(HOOKS))}")
    return HOOKS[kind].from_spec(spec)

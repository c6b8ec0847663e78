"""The seam between query construction and the decoder: the hook contract and its registry.

The baseline passes the queries through unchanged; VSD-MOT runs the student on them and fuses its
output back through DSWR; the paper's Fig. 1(a) alternative fuses the live teacher's embedding. One
seam is what makes the paper's ablations a switch.

The contract is explicit, never discovered by attribute name:
- a hook declares which run-time switches it has (:attr:`QueryHook.switch_names`) and what they
  were when it was trained (:meth:`QueryHook.trained_switches`);
- the switches come with every call (:class:`HookSwitches`), never as module state, so one loaded
  model serves every student/DSWR combination to concurrent callers at once;
- given its switches, a hook says what the caller must measure for it (:class:`HookNeeds`: the
  frame quality Q, a teacher's embedding of the frame), and receives it in :class:`HookInputs`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, fields, replace
from typing import Any, ClassVar

from torch import Tensor, nn

from model.vsd.dswr import DSWR, DSWROutput, fixed_ratio_fusion


@dataclass(frozen=True)
class HookSwitches:
    """Run-time choices for one call; ``None`` = as the checkpoint was trained.

    Attributes:
        student: run the student (VSD-MOT); off = the decoder sees the queries as built.
        dswr: weight the student's output by DSWR's w = sigmoid(W * Q + b) (eq. 13); off = a fixed ratio.
        fixed_weight: the ratio w used when DSWR is off (the paper's "no DSWR" ablation).
    """

    student: bool | None = None
    dswr: bool | None = None
    fixed_weight: float | None = None

    def set_fields(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}


@dataclass(frozen=True)
class HookNeeds:
    """What the caller must supply per frame for a hook under given switches.

    Attributes:
        quality: the frame quality Q (``HookInputs.quality``), for DSWR.
        teacher: name of the frozen teacher whose frame embedding must be passed
            (``HookInputs.teacher_embedding``), or None; only direct integration needs one at run time.
    """

    quality: bool = False
    teacher: str | None = None


@dataclass
class HookInputs:
    """Per-frame measurements a hook may read, for a batch of ``B`` frames.

    Attributes:
        quality: (B,) frame quality Q in [0, 1], or None.
        teacher_embedding: (B, D) the frozen teacher's embedding of each frame, or None.
    """

    quality: Tensor | None = None
    teacher_embedding: Tensor | None = None


@dataclass
class HookOutput:
    """What a hook returns for a batch of ``B`` frames with ``n`` queries each.

    Attributes:
        queries: (B, n, 256) the vectors the decoder consumes (F_fused for VSD-MOT).
        student: (B, n, 256) the student's output S (for the distillation loss), or None.
        semantic_weight: (B,) or (B, 1, 1) the fusion weight w per frame, or None where nothing is fused.
    """

    queries: Tensor
    student: Tensor | None = None
    semantic_weight: Tensor | None = None


class QueryHook(nn.Module, ABC):
    """Base of every hook. Subclasses set ``kind`` (the checkpoint's ``hook.kind``) and ``switch_names``."""

    kind: ClassVar[str]
    switch_names: ClassVar[frozenset[str]] = frozenset()

    def trained_switches(self) -> HookSwitches:
        """The switches this hook was trained with (every field in ``switch_names`` set)."""
        return HookSwitches()

    def resolve(self, switches: HookSwitches | None = None) -> HookSwitches:
        """Complete ``switches`` from the trained ones; refuse switching on what this hook does not have."""
        requested = (switches or HookSwitches()).set_fields()
        foreign = {name: value for name, value in requested.items() if name not in self.switch_names}
        turned_on = [name for name, value in foreign.items() if value is not False]
        if turned_on:
            has = ", ".join(sorted(self.switch_names)) or "none"
            raise ValueError(
                f"a {self.kind!r} hook has no {' / '.join(turned_on)} to switch on (its switches: {has})"
            )
        own = {name: value for name, value in requested.items() if name in self.switch_names}
        weight = own.get("fixed_weight")
        if weight is not None and not 0.0 <= weight <= 1.0:
            raise ValueError(f"fixed_weight is a mixing ratio and must lie in [0, 1], got {weight}")
        return replace(self.trained_switches(), **own)

    def needs(self, switches: HookSwitches) -> HookNeeds:
        """What the caller must measure per frame under resolved ``switches``."""
        return HookNeeds()

    @abstractmethod
    def forward(self, queries: Tensor, inputs: HookInputs, switches: HookSwitches,
                padding_mask: Tensor | None = None) -> HookOutput:
        """queries (B, n, 256) -> HookOutput; ``switches`` resolved, ``padding_mask`` (B, n) True = padding."""

    @abstractmethod
    def spec(self) -> dict[str, Any]:
        """JSON-able description stored in checkpoints (``kind`` plus the constructor's arguments)."""

    @classmethod
    @abstractmethod
    def from_spec(cls, spec: dict[str, Any]) -> QueryHook:
        """Rebuild the hook a checkpoint describes (weights are loaded afterwards)."""


def fuse(dswr: DSWR, semantic: Tensor, queries: Tensor, inputs: HookInputs, switches: HookSwitches) -> DSWROutput:
    """Eq. 14 for the hooks that fuse semantics into the queries: w from DSWR (eq. 13, needs Q) when it
    is switched on, else the fixed ratio (the paper's "no DSWR" ablation)."""
    if switches.dswr:
        if inputs.quality is None:
            raise ValueError("DSWR needs the frame quality Q; pass HookInputs(quality=...) or switch DSWR off")
        return dswr(semantic, queries, inputs.quality)
    return fixed_ratio_fusion(semantic, queries, float(switches.fixed_weight))


HOOKS: dict[str, type[QueryHook]] = {}


def register_hook(cls: type[QueryHook]) -> type[QueryHook]:
    """Class decorator: make a hook buildable from a checkpoint's ``hook.kind``."""
    if cls.kind in HOOKS:
        raise ValueError(f"two hooks registered as {cls.kind!r}")
    HOOKS[cls.kind] = cls
    return cls

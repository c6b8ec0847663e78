"""The hook contract, VSD-MOT's hook (student + DSWR) and the direct-teacher comparison hook."""

from __future__ import annotations

import pytest
import torch

from model.tracking.checkpoint import load_checkpoint, save_checkpoint
from model.tracking.hooks import (
    HOOKS, DirectTeacherHook, HookInputs, HookNeeds, HookSwitches, IdentityHook, VSDHook, build_hook,
)
from model.tracking.query_model import QueryTrackerModel

ON = HookSwitches(student=True, dswr=True, fixed_weight=0.5)


def test_registry_holds_the_three_kinds_and_refuses_others() -> None:
    assert {"identity": IdentityHook, "vsd": VSDHook, "direct": DirectTeacherHook}.items() <= HOOKS.items()
    assert isinstance(build_hook({}), IdentityHook)  # a checkpoint without a hook entry is a baseline
    with pytest.raises(ValueError, match="unknown hook kind 'magic'"):
        build_hook({"kind": "magic"})


def test_fresh_vsd_hook_is_the_identity_and_reports_w() -> None:
    torch.manual_seed(0)
    hook = VSDHook().eval()
    q = torch.randn(1, 6, 256)
    out = hook(q, HookInputs(quality=torch.tensor([0.0])), ON)
    assert torch.allclose(out.queries, q, atol=1e-5)  # zero-init student: S = X, so F_fused = X
    assert abs(float(out.semantic_weight) - torch.sigmoid(torch.tensor(1.0)).item()) < 1e-6  # w(Q=0) = sigmoid(b)
    assert out.student is not None and out.student.shape == (1, 6, 256)


def test_eq14_with_a_nonzero_student() -> None:
    hook = VSDHook().eval()
    with torch.no_grad():
        hook.student.output_proj.bias.fill_(1.0)
    q = torch.zeros(1, 2, 256)
    out = hook(q, HookInputs(quality=torch.tensor([1.0])), ON)
    s = out.student
    w = torch.sigmoid(torch.tensor(-2.0 + 1.0))
    assert torch.allclose(out.queries, w * s + (1 - w) * q, atol=1e-6)


def test_switches_come_with_each_call_and_leave_the_hook_unchanged() -> None:
    hook = VSDHook().eval()
    with torch.no_grad():
        hook.student.output_proj.bias.fill_(1.0)
    q = torch.randn(1, 3, 256)
    off = hook.resolve(HookSwitches(student=False))
    assert hook.needs(off) == HookNeeds() and hook(q, HookInputs(), off).semantic_weight is None
    fixed = hook.resolve(HookSwitches(dswr=False, fixed_weight=0.25))
    assert hook.needs(fixed) == HookNeeds(quality=False)
    out = hook(q, HookInputs(), fixed)  # a fixed ratio needs no quality
    assert float(out.semantic_weight) == 0.25
    assert torch.allclose(out.queries, 0.25 * out.student + 0.75 * q, atol=1e-6)
    # Interleaved calls with other switches: the hook keeps no state between them.
    full = hook(q, HookInputs(quality=torch.tensor([1.0])), hook.resolve())
    assert torch.allclose(hook(q, HookInputs(), fixed).queries, out.queries)
    assert not torch.allclose(full.queries, out.queries)
    assert hook.resolve() == HookSwitches(student=True, dswr=True, fixed_weight=0.5)


def test_dswr_without_quality_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="frame quality Q"):
        VSDHook()(torch.randn(1, 2, 256), HookInputs(), ON)


def test_resolve_refuses_switches_a_hook_does_not_have() -> None:
    assert IdentityHook().resolve(HookSwitches(student=False)) == HookSwitches()  # "off" is always fine
    with pytest.raises(ValueError, match="no student / dswr to switch on"):
        IdentityHook().resolve(HookSwitches(student=True, dswr=True))
    with pytest.raises(ValueError, match="no student"):
        DirectTeacherHook("effnet-lite0", 8).resolve(HookSwitches(student=True))


def test_specs_rebuild_the_same_hooks(tmp_path) -> None:
    for hook in (VSDHook(trained_dswr=False), DirectTeacherHook("effnet-lite0", 1280), IdentityHook()):
        rebuilt = build_hook(hook.spec())
        assert type(rebuilt) is type(hook) and rebuilt.spec() == hook.spec()
        assert rebuilt.trained_switches() == hook.trained_switches()
    model = QueryTrackerModel(hook=VSDHook(trained_dswr=False))
    save_checkpoint(tmp_path / "vsd.pt", model, {"teacher": "effnet-lite0"})
    loaded, meta = load_checkpoint(tmp_path / "vsd.pt")
    assert isinstance(loaded.hook, VSDHook) and meta["teacher"] == "effnet-lite0"
    assert loaded.hook.resolve().dswr is False  # the trained switches travel with the checkpoint


def test_direct_hook_broadcasts_the_projected_teacher_embedding() -> None:
    hook = DirectTeacherHook("effnet-lite0", 4, trained_dswr=False, fixed_weight=0.25).eval()
    assert hook.needs(hook.resolve()) == HookNeeds(quality=False, teacher="effnet-lite0")
    with torch.no_grad():
        hook.project.weight.zero_()
        hook.project.bias.fill_(2.0)
    q = torch.ones(1, 3, 256)
    out = hook(q, HookInputs(teacher_embedding=torch.randn(1, 4)), hook.resolve())
    assert torch.allclose(out.queries, torch.full((1, 3, 256), 0.25 * 2.0 + 0.75 * 1.0))
    with pytest.raises(ValueError, match="teacher's embedding"):
        hook(q, HookInputs(), hook.resolve())


def test_a_direct_hook_tracker_takes_a_precomputed_teacher_embedding_and_says_what_it_lacks() -> None:
    import numpy as np

    from model.core.types import Detections, DetectorOutput
    from model.tracking.runtime import Tracker

    model = QueryTrackerModel(hook=DirectTeacherHook("effnet-lite0", 8)).eval()
    features = [np.zeros((64, 52, 52), np.float32), np.zeros((128, 26, 26), np.float32), np.zeros((256, 13, 13), np.float32)]
    dets = DetectorOutput(Detections(np.array([[10, 10, 50, 100]], np.float32), np.array([0.9])), features,
                          (8, 16, 32), 1.0, (416, 416), 416)
    tracker = Tracker(model)
    from model.vsd.quality import QualityScores

    q = QualityScores(0.5, 0.0, 0.5, 0.5)
    tracker.update(detections=dets, quality=q, teacher_embedding=np.ones(8, np.float32))
    assert tracker.last.semantic_weight is not None
    with pytest.raises(ValueError, match="teacher_embedding="):
        tracker.update(detections=dets, quality=q)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        model.hook.resolve(HookSwitches(fixed_weight=1.5))


def test_the_model_resolves_unset_switches_itself() -> None:
    """HookSwitches() means "as trained": a VSD model never silently runs as the baseline."""
    torch.manual_seed(0)
    hook = VSDHook().eval()
    with torch.no_grad():
        hook.student.output_proj.bias.fill_(1.0)
    model = QueryTrackerModel(hook=hook).eval()
    from model.core.types import Detections, DetectorOutput
    from model.tracking.proposals import proposal_inputs
    import numpy as np

    features = [np.random.default_rng(0).random((c, s, s), dtype=np.float32) for c, s in ((64, 52), (128, 26), (256, 13))]
    inputs = proposal_inputs(DetectorOutput(Detections(np.array([[10, 10, 50, 100]], np.float32), np.array([0.9])),
                                            features, (8, 16, 32), 1.0, (416, 416), 416), 100)
    empty = torch.zeros(1, 0, 256), torch.zeros(1, 0, 4)
    q = HookInputs(quality=torch.tensor([0.5]))
    with torch.no_grad():
        unset = model(*empty, inputs, q, HookSwitches()).decoder.logits
        trained = model(*empty, inputs, q, hook.resolve()).decoder.logits
        off = model(*empty, inputs, q, HookSwitches(student=False)).decoder.logits
    assert torch.equal(unset, trained) and not torch.equal(unset, off)

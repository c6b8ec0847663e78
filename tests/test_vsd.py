"""VSD-MOT's hook (student + DSWR) and the direct-teacher comparison hook."""

from __future__ import annotations

import torch

from model.tracking.model import QueryTrackerModel, build_hook, hook_spec, load_checkpoint, save_checkpoint
from model.tracking.hooks.vsd import DirectTeacherHook, VSDHook


def test_fresh_vsd_hook_is_the_identity_and_reports_w() -> None:
    torch.manual_seed(0)
    hook = VSDHook().eval()
    q = torch.randn(1, 6, 256)
    out = hook(q, quality=torch.tensor([0.0]))
    assert torch.allclose(out.queries, q, atol=1e-5)  # zero-init student: S = X, so F_fused = X
    assert abs(float(out.semantic_weight) - torch.sigmoid(torch.tensor(1.0)).item()) < 1e-6  # w(Q=0) = sigmoid(b)
    assert out.student is not None and out.student.shape == (1, 6, 256)


def test_eq14_with_a_nonzero_student() -> None:
    hook = VSDHook().eval()
    with torch.no_grad():
        hook.student.output_proj.bias.fill_(1.0)
    q = torch.zeros(1, 2, 256)
    out = hook(q, quality=torch.tensor([1.0]))
    s = out.student
    w = torch.sigmoid(torch.tensor(-2.0 + 1.0))
    assert torch.allclose(out.queries, w * s + (1 - w) * q, atol=1e-6)


def test_switches() -> None:
    hook = VSDHook().eval()
    q = torch.randn(1, 3, 256)
    hook.configure(student=False)
    assert not hook.needs_quality and hook(q).semantic_weight is None
    hook.configure(student=True, dswr=False)
    out = hook(q)  # fixed ratio needs no quality
    assert float(out.semantic_weight) == 0.5


def test_specs_rebuild_the_same_hooks(tmp_path) -> None:
    for hook in (VSDHook(use_dswr=False), DirectTeacherHook("effnet-lite0", 1280)):
        rebuilt = build_hook(hook_spec(hook))
        assert type(rebuilt) is type(hook) and hook_spec(rebuilt) == hook_spec(hook)
    model = QueryTrackerModel(hook=VSDHook())
    save_checkpoint(tmp_path / "vsd.pt", model, {"teacher": "effnet-lite0"})
    loaded, meta = load_checkpoint(tmp_path / "vsd.pt")
    assert isinstance(loaded.hook, VSDHook) and meta["teacher"] == "effnet-lite0"


def test_direct_hook_broadcasts_the_projected_teacher_embedding() -> None:
    hook = DirectTeacherHook("effnet-lite0", 4, use_dswr=False, fixed_weight=0.25).eval()
    with torch.no_grad():
        hook.project.weight.zero_()
        hook.project.bias.fill_(2.0)
    q = torch.ones(1, 3, 256)
    out = hook(q, teacher_embedding=torch.randn(1, 4))
    assert torch.allclose(out.queries, torch.full((1, 3, 256), 0.25 * 2.0 + 0.75 * 1.0))

"""Weight averaging (ours): the EMA by hand, its warm-up, integer buffers, resume checks."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from model.cli import parse_train_config
from model.training.averaging import WeightAverage


def _set(module: nn.Linear, value: float) -> None:
    with torch.no_grad():
        module.weight.fill_(value)


def test_ema_by_hand() -> None:
    model = nn.Linear(1, 1, bias=False)
    _set(model, 0.0)
    average = WeightAverage(model, decay=0.5, warmup_steps=1e-9)  # warm-up negligible: d_t = 0.5
    _set(model, 1.0)
    average.update(model)  # 0.5 * 0 + 0.5 * 1
    assert average.state["weight"].item() == pytest.approx(0.5)
    _set(model, 2.0)
    average.update(model)  # 0.5 * 0.5 + 0.5 * 2
    assert average.state["weight"].item() == pytest.approx(1.25)
    deployed = average.averaged(model)
    assert deployed.weight.item() == pytest.approx(1.25) and model.weight.item() == 2.0  # model untouched


def test_warm_up_follows_the_weights_at_first() -> None:
    model = nn.Linear(1, 1, bias=False)
    _set(model, 1.0)
    average = WeightAverage(model, decay=0.999, warmup_steps=100)
    _set(model, 3.0)
    average.update(model)  # d_1 = 0.999 * (1 - e^-0.01) ~ 0.00994: the average jumps nearly all the way
    d1 = 0.999 * (1 - math.exp(-1 / 100))
    assert average.current_decay() == pytest.approx(d1)
    assert average.state["weight"].item() == pytest.approx(d1 * 1.0 + (1 - d1) * 3.0, rel=1e-6)


def test_integer_buffers_are_copied_and_resume_checks_the_settings() -> None:
    model = nn.BatchNorm1d(2)
    average = WeightAverage(model, decay=0.9)
    model.num_batches_tracked.fill_(7)
    average.update(model)
    assert average.state["num_batches_tracked"].item() == 7
    saved = average.state_dict()
    again = WeightAverage(model, decay=0.9)
    again.load_state_dict(saved)
    assert again.steps == 1 and torch.equal(again.state["running_mean"], average.state["running_mean"])
    with pytest.raises(ValueError, match="decay 0.9"):
        WeightAverage(model, decay=0.99).load_state_dict(saved)
    with pytest.raises(ValueError, match=r"\(0, 1\)"):
        WeightAverage(model, decay=1.0)


def test_the_cli_option_reaches_the_config() -> None:
    assert parse_train_config([]).weight_average is None
    assert parse_train_config(["--weight-average", "0.999"]).weight_average == 0.999

"""Bootstrap means and paired differences on synthetic numbers with a known answer."""

from __future__ import annotations

import numpy as np
import pytest

from model.evaluation.statistics import Estimate, bootstrap_mean, paired_difference, verdict


def test_a_single_unit_has_no_interval() -> None:
    e = bootstrap_mean([42.0])
    assert (e.mean, e.low, e.high, e.n) == (42.0, 42.0, 42.0, 1) and e.text() == "42.0"
    assert verdict(e) == "one unit: no interval"


def test_identical_values_have_a_zero_width_interval() -> None:
    e = bootstrap_mean([3.0] * 12)
    assert e.mean == e.low == e.high == 3.0


def test_interval_covers_the_mean_and_matches_the_normal_approximation() -> None:
    rng = np.random.default_rng(1)
    values = rng.normal(50.0, 2.0, size=400)
    e = bootstrap_mean(values)
    half = 1.96 * values.std(ddof=1) / np.sqrt(len(values))
    assert e.low < e.mean < e.high
    assert e.high - e.low == pytest.approx(2 * half, rel=0.1)
    assert bootstrap_mean(values) == e  # fixed seed: a table is reproducible


def test_paired_difference_finds_a_known_gain_that_unpaired_noise_would_hide() -> None:
    """B = A + 2 + small noise, while A's units spread by 10 HOTA: the paired interval excludes 0."""
    rng = np.random.default_rng(0)
    units = [(seed, recipe) for seed in range(4) for recipe in range(3)]
    a = {u: 40.0 + 10.0 * rng.standard_normal() for u in units}
    b = {u: a[u] + 2.0 + 0.3 * rng.standard_normal() for u in units}
    diff = paired_difference(b, a)
    assert diff.n == 12 and diff.mean == pytest.approx(2.0, abs=0.3)
    assert diff.low > 0 and verdict(diff) == "better"
    unpaired = bootstrap_mean(list(b.values())).low - bootstrap_mean(list(a.values())).high
    assert unpaired < 0  # the row intervals overlap: only pairing resolves the 2 HOTA


def test_no_difference_reads_within_noise() -> None:
    rng = np.random.default_rng(3)
    units = range(12)
    a = {u: 45.0 + rng.standard_normal() for u in units}
    b = {u: a[u] + rng.standard_normal() * 0.5 for u in units}
    diff = paired_difference(b, a)
    assert diff.contains_zero and verdict(diff) == "within noise"
    assert diff.text(signed=True).startswith(("+", "-"))


def test_pairing_uses_only_shared_units_and_refuses_none() -> None:
    assert paired_difference({1: 5.0, 2: 7.0}, {2: 6.0, 3: 0.0}) == Estimate(1.0, 1.0, 1.0, 1)
    with pytest.raises(ValueError, match="share no unit"):
        paired_difference({1: 1.0}, {2: 1.0})
    with pytest.raises(ValueError, match="non-empty"):
        bootstrap_mean([])
    with pytest.raises(ValueError, match="finite"):
        bootstrap_mean([1.0, float("nan")])

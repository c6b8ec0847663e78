"""Bootstrap means and paired differences on synthetic numbers with a known answer."""

from __future__ import annotations

import numpy as np
import pytest

from model.evaluation.statistics import (
    Estimate, bootstrap_mean, clustered_paired_difference, paired_difference, verdict,
)


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


def test_clustered_difference_keeps_a_training_seed_one_draw() -> None:
    """Four seeds, nine units each: each seed's units share one offset (its luck) plus tiny noise.
    Unit-wise resampling of the 36 units would call +1.0 a gain; resampling seeds reads it as noise."""
    rng = np.random.default_rng(2)
    offsets = {0: +3.5, 1: -1.5, 2: +3.0, 3: -1.0}  # mean +1.0
    units = [(seed, k) for seed in offsets for k in range(9)]
    b = {u: 40.0 + rng.standard_normal() for u in units}
    a = {u: b[u] + offsets[u[0]] + 0.05 * rng.standard_normal() for u in units}
    pooled = clustered_paired_difference(a, b, cluster=lambda u: u[0])
    assert pooled.n == 4 and pooled.mean == pytest.approx(1.0, abs=0.05)
    assert pooled.contains_zero and verdict(pooled) == "within noise"
    assert paired_difference(a, b).low > 0  # the unit-wise interval is fooled
    # hand-computed: two clusters, differences {1, 3} and {5}: mean over units 3.0; resamples are
    # {1,3}{1,3} -> 2, {5}{5} -> 5, mixed -> 3, so the interval spans [2, 5]
    two = clustered_paired_difference({1: 1.0, 2: 3.0, 3: 5.0}, {1: 0.0, 2: 0.0, 3: 0.0},
                                      cluster=lambda u: u == 3)
    assert (two.mean, two.low, two.high, two.n) == (3.0, 2.0, 5.0, 2)
    assert clustered_paired_difference({1: 2.0}, {1: 1.0}, cluster=lambda u: 0) == Estimate(1.0, 1.0, 1.0, 1)
    with pytest.raises(ValueError, match="share no unit"):
        clustered_paired_difference({1: 1.0}, {2: 1.0}, cluster=lambda u: 0)

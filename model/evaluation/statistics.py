"""Means with confidence intervals, and paired differences, over evaluation units.

A unit is one (training seed, degradation recipe, sequence) evaluation. A row's HOTA is the mean over
its units with a 95 % percentile-bootstrap interval; "A vs B" is the mean of the *paired* differences
A - B over the units both have (same seed, same recipe, same sequence), so the noise the two share
(a hard recipe, a lucky seed) cancels instead of widening the interval. An interval that contains 0
reads "within noise".

The bootstrap resamples units with replacement (``resamples`` times, a fixed seed, so a table is
reproducible). With few units the percentile interval is too narrow rather than too wide; the unit
count is printed beside every interval so a reader can judge it.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

CONFIDENCE = 0.95
RESAMPLES = 10_000


@dataclass(frozen=True)
class Estimate:
    """A mean and its bootstrap interval.

    Attributes:
        mean: the mean over the units.
        low, high: the (1 - confidence) / 2 and (1 + confidence) / 2 percentiles of the bootstrap means
            (both equal to ``mean`` with a single unit: no spread can be estimated from one).
        n: number of units.
    """

    mean: float
    low: float
    high: float
    n: int

    @property
    def contains_zero(self) -> bool:
        return self.low <= 0.0 <= self.high

    def text(self, signed: bool = False, decimals: int = 1) -> str:
        """``48.2 [46.1, 50.3]`` (``signed``: ``+1.2 [-0.5, +2.9]``); a single unit shows only the mean."""
        fmt = f"{{:+.{decimals}f}}" if signed else f"{{:.{decimals}f}}"
        if self.n < 2:
            return fmt.format(self.mean)
        return f"{fmt.format(self.mean)} [{fmt.format(self.low)}, {fmt.format(self.high)}]"


def bootstrap_mean(values: Sequence[float], confidence: float = CONFIDENCE, resamples: int = RESAMPLES,
                   seed: int = 0) -> Estimate:
    """The mean of ``values`` with a percentile-bootstrap interval over them."""
    data = np.asarray(values, dtype=np.float64)
    if data.ndim != 1 or len(data) == 0:
        raise ValueError("bootstrap_mean needs a non-empty list of numbers")
    if not np.isfinite(data).all():
        raise ValueError("bootstrap_mean got a value that is not a finite number")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    mean = float(data.mean())
    if len(data) == 1:
        return Estimate(mean, mean, mean, 1)
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, len(data), size=(resamples, len(data)))].mean(axis=1)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return Estimate(mean, float(low), float(high), len(data))


def paired_difference(a: Mapping[Hashable, float], b: Mapping[Hashable, float], confidence: float = CONFIDENCE,
                      resamples: int = RESAMPLES, seed: int = 0) -> Estimate:
    """Mean of ``a[u] - b[u]`` over the units ``u`` both have, with its bootstrap interval."""
    shared = [unit for unit in a if unit in b]
    if not shared:
        raise ValueError("the two rows share no unit (training seed, recipe, sequence) to pair")
    return bootstrap_mean([a[u] - b[u] for u in shared], confidence, resamples, seed)


def clustered_paired_difference(a: Mapping[Hashable, float], b: Mapping[Hashable, float],
                                cluster: Callable[[Hashable], Hashable], confidence: float = CONFIDENCE,
                                resamples: int = RESAMPLES, seed: int = 0) -> Estimate:
    """Mean of ``a[u] - b[u]`` over the shared units, with an interval that resamples whole clusters.

    Why: units that share a training seed share its training noise (one unlucky run is bad on every
    recipe and condition), so pooling many conditions and resampling units one by one would read
    that seed's luck as many independent draws. Resampling ``cluster(u)`` groups (e.g. training
    seeds) keeps it one draw. The mean is over units (equal weights); ``n`` counts the clusters, the
    number the interval rests on (with 4 clusters it is crude: see the module docstring).
    """
    shared = [unit for unit in a if unit in b]
    if not shared:
        raise ValueError("the two rows share no unit (training seed, recipe, sequence) to pair")
    groups: dict[Hashable, list[float]] = {}
    for unit in shared:
        groups.setdefault(cluster(unit), []).append(a[unit] - b[unit])
    values = [np.asarray(v, dtype=np.float64) for v in groups.values()]
    if not all(np.isfinite(v).all() for v in values):
        raise ValueError("clustered_paired_difference got a value that is not a finite number")
    mean = float(np.concatenate(values).mean())
    if len(values) == 1:
        return Estimate(mean, mean, mean, 1)
    sums = np.array([v.sum() for v in values])
    sizes = np.array([len(v) for v in values], dtype=np.float64)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(values), size=(resamples, len(values)))
    means = sums[picks].sum(axis=1) / sizes[picks].sum(axis=1)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return Estimate(mean, float(low), float(high), len(values))


def verdict(difference: Estimate) -> str:
    """How a table reads a paired difference."""
    if difference.n < 2:
        return "one unit: no interval"
    if difference.contains_zero:
        return "within noise"
    return "better" if difference.mean > 0 else "worse"

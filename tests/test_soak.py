"""The soak script's short version (benchmarks/soak.py): sequential jobs with a burst against a real
server; memory, descriptors and folders must level off, every client served (honouring Retry-After)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.soak import Sample, SoakReport, judge, run_soak
from tests.test_api import baseline_checkpoint_or_skip


def test_the_level_off_rule() -> None:
    flat = SoakReport([Sample(i, i, 500.0, 40, 1.0, 0.0) for i in range(6)])
    judge(flat, rss_growth_mb=60, fd_growth=8, job_mb=0.5)
    assert flat.levelled
    leaking = SoakReport([Sample(i, i, 500.0 + 30 * i, 40 + 5 * i, 1.0 + i, 0.0) for i in range(6)])
    judge(leaking, rss_growth_mb=60, fd_growth=8, job_mb=0.5)
    assert len(leaking.problems) == 3 and not leaking.levelled


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_short_soak_levels_off(videos_dir: Path, weights_dir: Path, tmp_path: Path) -> None:
    report = run_soak(jobs=30, burst_every=15, burst=6, sample_every=5, ttl_s=5,
                      checkpoint=baseline_checkpoint_or_skip(), videos_dir=videos_dir, work=tmp_path)
    assert report.problems == [], report.problems
    assert report.statuses == {200: 30 + 2 * 6}
    assert len(report.samples) == 7

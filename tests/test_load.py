"""20 concurrent clients against a 1-worker server (benchmarks/load.py, run as a test).

The server is a real ``python app.py`` subprocess on loopback with one worker and a queue of 4.
Every client must get a correct result or a clean refusal (429/503, JSON, Retry-After), none may
hang (each request has a timeout, the whole test too), clients that honour Retry-After must all be
served in the end, and the server's resident memory may grow only a bounded amount under load.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.load import run_load
from tests.test_api import baseline_checkpoint_or_skip

CLIENTS = 20
MAX_QUEUED = 4
# Under load the server may hold at most workers + MAX_QUEUED uploads (each spooled to disk past
# 1 MB) and decode one clip at a time: growth over idle stays far below this. Measured: ~25 MB.
RSS_GROWTH_BOUND_MB = 200


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_twenty_concurrent_clients_are_served_or_refused_cleanly(videos_dir: Path, tmp_path: Path) -> None:
    report = run_load(clients=CLIENTS, workers=1, max_queued=MAX_QUEUED, frames=3, timeout_s=120,
                      checkpoint=baseline_checkpoint_or_skip(), videos_dir=videos_dir, work=tmp_path)
    assert report.problems == []
    assert report.correct_results + report.clean_refusals == CLIENTS
    assert report.correct_results >= 1 + MAX_QUEUED or report.clean_refusals == 0  # the queue was used
    assert report.hung_or_5xx == 0 and report.wrong_results == 0
    assert report.retry_round == {"200": CLIENTS}  # honouring Retry-After, nobody is lost
    assert all(seconds >= 1 for seconds in report.retry_after_s)
    assert report.rss_peak_mb - report.rss_idle_mb < RSS_GROWTH_BOUND_MB
    assert report.leftover_uploads == 0 and report.health_after == 200

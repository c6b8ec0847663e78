"""No job can hang or crash the service: tracking runs in supervised worker processes with a deadline.

A test-only initializer (tests.helpers.faulty_tracking) makes clips named ``hang*`` never finish and
``crash*`` / ``oom*`` kill their worker; the worker processes, their supervisor, the job pool and the
HTTP layer are the production ones."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.config import AppConfig
from app.server import create_app
from tests.helpers import faulty_tracking
from tests.test_api import baseline_checkpoint_or_skip

CLIP = "intel-preview-people-detection.gif"


@pytest.fixture(scope="module")
def client(videos_dir: Path, weights_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("isolation")
    config = AppConfig(baseline_checkpoint=baseline_checkpoint_or_skip(), vsdmot_checkpoint=tmp / "none.pt",
                       jobs_dir=tmp / "jobs", max_frames=100, workers=1, job_deadline_base_s=4,
                       job_deadline_ms_per_frame=1, max_jobs_per_client=50, examples_dir=None)
    with TestClient(create_app(config, worker_initializer=faulty_tracking)) as test_client:
        yield test_client


def _track(client: TestClient, videos_dir: Path, name: str):
    data = (videos_dir / CLIP).read_bytes()
    return client.post("/track", files={"video": (name, data)}, data={"variant": "baseline", "max_frames": "3"})


def _still_serving(client: TestClient, videos_dir: Path) -> None:
    assert client.get("/health").json()["status"] == "ok"
    good = _track(client, videos_dir, "good.gif")
    assert good.status_code == 200, good.text
    assert good.json()["meta"]["frames_processed"] == 3


def test_a_normal_clip_tracks_in_a_worker_process(client: TestClient, videos_dir: Path) -> None:
    _still_serving(client, videos_dir)
    assert client.app.state.workers.replaced == 0


def test_a_hanging_decoder_is_stopped_at_its_deadline(client: TestClient, videos_dir: Path) -> None:
    started = time.monotonic()
    response = _track(client, videos_dir, "hang.gif")
    assert response.status_code == 504 and response.json()["error"] == "deadline_exceeded"
    assert "longer than the 4 s" in response.json()["detail"] and "hang.gif" in response.json()["detail"]
    assert time.monotonic() - started < 60
    _still_serving(client, videos_dir)


@pytest.mark.parametrize(("name", "how"), [("crash.gif", "SIGSEGV"), ("oom.gif", "SIGKILL")])
def test_a_crashing_worker_fails_its_job_and_is_replaced(client: TestClient, videos_dir: Path, name: str,
                                                         how: str) -> None:
    replaced = client.app.state.workers.replaced
    response = _track(client, videos_dir, name)
    assert response.status_code == 500 and response.json()["error"] == "worker_crashed"
    assert how in response.json()["detail"] and "other jobs are not affected" in response.json()["detail"]
    assert "Traceback" not in response.text
    assert client.app.state.workers.replaced == replaced + 1
    _still_serving(client, videos_dir)


def test_a_queued_job_survives_the_crash_of_the_one_before_it(client: TestClient, videos_dir: Path) -> None:
    data = (videos_dir / CLIP).read_bytes()
    crash = client.post("/jobs", files={"video": ("crash.gif", data)}, data={"variant": "baseline", "max_frames": "3"})
    after = client.post("/jobs", files={"video": ("after.gif", data)}, data={"variant": "baseline", "max_frames": "3"})
    jobs = client.app.state.jobs
    assert jobs.wait(crash.json()["id"], timeout=120).state == "failed"
    assert jobs.wait(after.json()["id"], timeout=120).state == "done"

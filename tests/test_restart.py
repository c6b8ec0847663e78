"""A real ``python app.py`` killed with SIGKILL in the middle of a job, then started again on the same
job folder: finished results stay readable, the interrupted job reads failed (never "running"), and
its upload is swept. Nothing here shuts down cleanly: that is the point."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from benchmarks.soak import children
from tests.test_api import baseline_checkpoint_or_skip

pytestmark = [pytest.mark.shared, pytest.mark.slow]
ROOT = Path(__file__).resolve().parent.parent
LONG_CLIP = "intel-one-by-one-person-detection.mp4"  # 1394 frames: still running when the kill comes
SHORT_CLIP = "intel-preview-people-detection.gif"
WAIT_S = 180


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(env: dict[str, str], log: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    handle = log.open("ab")
    process = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env={**env, "PORT": str(port)},
                               stdout=handle, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited with {process.returncode}: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/health", timeout=2).json()["ready"]:
                return process, url
        except (httpx.HTTPError, ValueError, KeyError):
            pass
        time.sleep(0.5)
    process.kill()
    pytest.fail(f"the server did not get ready: {log.read_text()[-2000:]}")


def _submit(url: str, clip: Path, **fields: str) -> str:
    with clip.open("rb") as handle:
        response = httpx.post(f"{url}/jobs", files={"video": (clip.name, handle)}, data=fields, timeout=60)
    assert response.status_code == 202, response.text
    return response.json()["id"]


def _wait(url: str, job_id: str, until) -> dict:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        status = httpx.get(f"{url}/jobs/{job_id}", timeout=10).json()
        if until(status):
            return status
        time.sleep(0.3)
    pytest.fail(f"job {job_id} never reached the expected state: {status}")


def test_sigkill_mid_job_then_restart_loses_nothing(videos_dir: Path, weights_dir: Path, tmp_path: Path) -> None:
    long_clip, short_clip = videos_dir / LONG_CLIP, videos_dir / SHORT_CLIP
    if not (long_clip.is_file() and short_clip.is_file()):
        pytest.skip(f"{LONG_CLIP} / {SHORT_CLIP} not in {videos_dir}")
    env = {**os.environ, "HOST": "127.0.0.1", "VSDMOT_JOBS_DIR": str(tmp_path / "jobs"),
           "VSDMOT_CACHE_DIR": str(tmp_path / "cache"), "VSDMOT_BASELINE_CHECKPOINT": str(baseline_checkpoint_or_skip()),
           "VSDMOT_TORCH_THREADS": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    log = tmp_path / "server.log"
    first, url = _start(env, log)
    try:
        done = _submit(url, short_clip, variant="baseline", max_frames="5")
        _wait(url, done, lambda s: s["state"] == "done")
        before = httpx.get(f"{url}/jobs/{done}/result", timeout=30).json()
        running = _submit(url, long_clip, variant="baseline")
        _wait(url, running, lambda s: s["state"] == "running" and s["progress"]["frames_done"] > 0)
        assert list((tmp_path / "jobs" / running).glob("upload*")), "the upload is there while the job runs"
        workers = children(first.pid)
        assert workers, "the job runs in a tracking worker process"
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.wait(30)
    assert first.returncode == -signal.SIGKILL
    deadline = time.monotonic() + 30  # the orphaned worker notices its server is gone and ends
    while any(Path(f"/proc/{pid}").exists() for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers), "a tracking worker outlived its server"

    second, url = _start(env, log)
    try:
        interrupted = httpx.get(f"{url}/jobs/{running}", timeout=10).json()
        assert interrupted["state"] == "failed" and "interrupted by a server restart" in interrupted["error"]
        assert not list((tmp_path / "jobs" / running).glob("upload*")), "the interrupted upload is swept"
        assert httpx.get(f"{url}/jobs/{done}", timeout=10).json()["state"] == "done"
        assert httpx.get(f"{url}/jobs/{done}/result", timeout=30).json() == before
        assert httpx.get(f"{url}/jobs/{done}/video", timeout=30).status_code == 200
        assert httpx.get(f"{url}/health", timeout=10).json()["jobs"] == {"queued": 0, "running": 0}
    finally:
        second.terminate()
        second.wait(30)

"""The job pool and store (app/jobs.py): queueing, progress, ETA, failures, expiry, restarts.

The work functions here are small real functions (they write files, raise the library's real
exceptions), so what is tested is the pool's own behaviour; the tracker runs in tests/test_api.py.
"""

from __future__ import annotations

import json
import time
import threading
from pathlib import Path

import pytest

from app.errors import JobNotFoundError, QueueFullError
from tests.helpers import Payload
from app.jobs import RESULT_FILE, STATUS_FILE, JobManager, eta_seconds
from model.tracking.checkpoint import CheckpointMissingError
from model.data.video import UnreadableVideoError


class FakeClock:
    """A wall clock the test moves by hand, so expiry and ETA are exact."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def manager(tmp_path: Path):
    jobs = JobManager(tmp_path / "jobs", workers=1, max_queued=2, ttl_s=60)
    yield jobs
    jobs.shutdown()


def blocking_work(gate: threading.Event, started: threading.Event | None = None):
    def work(folder: Path, progress) -> Payload:
        if started is not None:
            started.set()
        assert gate.wait(10), "test gate never opened"
        return Payload(folder=folder.name)

    return work


# ------------------------------------------------------------------------------------ ETA


def test_eta_is_remaining_frames_at_the_observed_rate() -> None:
    # 10 of 40 frames in 5 s -> 0.5 s per frame -> 30 frames left -> 15 s.
    assert eta_seconds(10, 40, 5.0) == pytest.approx(15.0)
    # 3 of 4 frames in 1.5 s -> 0.5 s per frame -> 1 frame left -> 0.5 s.
    assert eta_seconds(3, 4, 1.5) == pytest.approx(0.5)
    assert eta_seconds(40, 40, 9.0) == 0.0


def test_eta_is_unknown_before_the_first_frame() -> None:
    assert eta_seconds(0, 40, 5.0) is None
    assert eta_seconds(5, 40, 0.0) is None


def test_manager_eta_uses_time_since_the_job_started(tmp_path: Path) -> None:
    clock = FakeClock(100.0)
    jobs = JobManager(tmp_path, workers=1, clock=clock)
    gate, reached = threading.Event(), threading.Event()

    def work(folder: Path, progress) -> Payload:
        progress(4, 20)
        reached.set()
        assert gate.wait(10)
        return Payload()

    try:
        job_id, _ = jobs.new_job()
        jobs.submit(job_id, work, frames_total=20)
        assert reached.wait(10)
        clock.now = 102.0  # started at 100: 4 frames in 2 s -> 16 left at 0.5 s -> 8 s
        assert jobs.eta(jobs.get(job_id)) == pytest.approx(8.0)
        gate.set()
        assert jobs.wait(job_id, timeout=10).state == "done"
        assert jobs.eta(jobs.get(job_id)) == 0.0
    finally:
        gate.set()
        jobs.shutdown()


# ------------------------------------------------------------------------------------ lifecycle


def test_job_runs_reports_progress_and_keeps_its_result_on_disk(manager: JobManager) -> None:
    seen = []

    def work(folder: Path, progress) -> Payload:
        for done in (1, 2, 3):
            progress(done, 3)
            seen.append(manager.get(folder.name).frames_done)
        (folder / "tracks.txt").write_text("1,1,0,0,1,1,1,-1,-1,-1\n")
        return Payload(frames=3)

    job_id, folder = manager.new_job()
    queued = manager.submit(job_id, work, frames_total=3)
    assert queued.state in ("queued", "running", "done")
    job = manager.wait(job_id, timeout=10)
    assert job.state == "done"
    assert (job.frames_done, job.frames_total) == (3, 3)
    assert seen == [1, 2, 3]
    assert json.loads(manager.result_json(job_id)) == {"frames": 3}
    assert json.loads((folder / RESULT_FILE).read_text()) == {"frames": 3}
    assert json.loads((folder / STATUS_FILE).read_text())["state"] == "done"
    assert (folder / "tracks.txt").is_file()


def test_the_upload_is_deleted_once_the_job_ends(manager: JobManager) -> None:
    job_id, folder = manager.new_job()
    (folder / "upload.gif").write_bytes(b"GIF89a")
    manager.submit(job_id, lambda f, p: Payload(), frames_total=1)
    manager.wait(job_id, timeout=10)
    assert not (folder / "upload.gif").exists()


def test_waiting_jobs_see_their_queue_position(manager: JobManager) -> None:
    gate, started = threading.Event(), threading.Event()
    try:
        ids = [manager.new_job()[0] for _ in range(3)]
        manager.submit(ids[0], blocking_work(gate, started), 1)
        assert started.wait(10)
        manager.submit(ids[1], blocking_work(gate), 1)
        manager.submit(ids[2], blocking_work(gate), 1)
        assert manager.get(ids[0]).state == "running"
        assert [manager.queue_position(i) for i in ids] == [None, 1, 2]
        assert manager.counts() == {"queued": 2, "running": 1}
    finally:
        gate.set()
    for job_id in ids:
        assert manager.wait(job_id, timeout=10).state == "done"
    assert [manager.queue_position(i) for i in ids] == [None, None, None]


def test_a_full_queue_refuses_new_jobs_and_drops_their_upload(manager: JobManager) -> None:
    gate, started = threading.Event(), threading.Event()
    try:
        first = manager.new_job()[0]
        manager.submit(first, blocking_work(gate, started), 1)
        assert started.wait(10)
        for _ in range(2):  # max_queued=2
            job_id = manager.new_job()[0]
            manager.submit(job_id, blocking_work(gate), 1)
        refused, folder = manager.new_job()
        with pytest.raises(QueueFullError, match="2 jobs are already waiting"):
            manager.submit(refused, blocking_work(gate), 1)
        assert not folder.exists()
        with pytest.raises(JobNotFoundError):
            manager.get(refused)
    finally:
        gate.set()


@pytest.mark.parametrize(
    ("error", "status", "code", "words"),
    [
        (UnreadableVideoError("cannot decode clip.gif"), 422, "unreadable_video", "cannot decode clip.gif"),
        (CheckpointMissingError("no trained vsd-mot checkpoint"), 409, "model_unavailable", "no trained vsd-mot"),
        (RuntimeError("boom"), 500, "internal_error", "internal error (RuntimeError); the server log has it under job"),
    ],
)
def test_a_failing_job_records_a_readable_error_and_its_status(
    manager: JobManager, error: Exception, status: int, code: str, words: str
) -> None:
    def work(folder: Path, progress) -> Payload:
        raise error

    job_id, folder = manager.new_job()
    manager.submit(job_id, work, frames_total=5)
    job = manager.wait(job_id, timeout=10)
    assert job.state == "failed"
    assert words in job.error
    assert (job.error_status, job.error_code) == (status, code)
    assert not (folder / RESULT_FILE).exists()
    # The pool survives a failed job.
    other = manager.new_job()[0]
    manager.submit(other, lambda f, p: Payload(ok=True), 1)
    assert manager.wait(other, timeout=10).state == "done"


# ------------------------------------------------------------------------------------ expiry and restarts


def test_finished_jobs_are_deleted_when_their_time_is_up(tmp_path: Path) -> None:
    clock = FakeClock(1000.0)
    jobs = JobManager(tmp_path, workers=1, ttl_s=60, clock=clock)
    try:
        job_id, folder = jobs.new_job()
        jobs.submit(job_id, lambda f, p: Payload(ok=True), 1)
        job = jobs.wait(job_id, timeout=10)
        assert job.finished_at == 1000.0
        assert jobs.expires_at(job) == 1060.0
        clock.now = 1059.0
        assert jobs.cleanup() == []
        assert folder.is_dir()
        clock.now = 1060.0
        assert jobs.cleanup() == [job_id]
        assert not folder.exists()
        with pytest.raises(JobNotFoundError, match="expired"):
            jobs.get(job_id)
    finally:
        jobs.shutdown()


def test_cleanup_never_removes_a_job_that_has_not_finished(tmp_path: Path) -> None:
    clock = FakeClock(0.0)
    jobs = JobManager(tmp_path, workers=1, ttl_s=1, clock=clock)
    gate, started = threading.Event(), threading.Event()
    try:
        job_id, folder = jobs.new_job()
        jobs.submit(job_id, blocking_work(gate, started), 1)
        assert started.wait(10)
        clock.now = 10_000.0
        assert job_id not in jobs.cleanup()
        assert folder.is_dir()
    finally:
        gate.set()
        jobs.shutdown()


def test_a_restart_keeps_finished_results_and_fails_interrupted_jobs(tmp_path: Path) -> None:
    first = JobManager(tmp_path, workers=1, ttl_s=600)
    done_id = first.new_job()[0]
    first.submit(done_id, lambda f, p: Payload(frames=7), 7)
    first.wait(done_id, timeout=10)
    first.shutdown()
    # A job that was running when the server died: only its status file is left.
    interrupted = "ab" * 16
    (tmp_path / interrupted).mkdir()
    (tmp_path / interrupted / STATUS_FILE).write_text(json.dumps({"id": interrupted, "state": "running", "frames_total": 9}))

    second = JobManager(tmp_path, workers=1, ttl_s=600)
    try:
        assert second.get(done_id).state == "done"
        assert json.loads(second.result_json(done_id)) == {"frames": 7}
        revived = second.wait(interrupted, timeout=1)
        assert revived.state == "failed"
        assert "server restart" in revived.error
    finally:
        second.shutdown()


@pytest.mark.parametrize("bad_id", ["", "../etc", "0" * 31, "G" * 32])
def test_malformed_job_ids_are_not_found(manager: JobManager, bad_id: str) -> None:
    with pytest.raises(JobNotFoundError, match="32 hex characters"):
        manager.get(bad_id)


def test_zero_workers_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="workers must be at least 1"):
        JobManager(tmp_path, workers=0)


def test_one_owner_holds_at_most_its_share_of_the_pool(tmp_path: Path) -> None:
    import threading

    from app.errors import ClientBusyError

    gate = threading.Event()

    def hold(folder: Path, progress) -> Payload:
        gate.wait(30)
        return Payload()

    jobs = JobManager(tmp_path, workers=1, max_queued=8, per_owner=2)
    try:
        first = jobs.new_job()[0]
        jobs.submit(first, hold, 1, owner="198.51.100.7")
        jobs.submit(jobs.new_job()[0], hold, 1, owner="198.51.100.7")  # running + queued: its share
        assert jobs.owner_is_busy("198.51.100.7") and not jobs.owner_is_busy("198.51.100.8")
        refused = jobs.new_job()[0]
        with pytest.raises(ClientBusyError, match="2 per client") as info:
            jobs.submit(refused, hold, 1, owner="198.51.100.7")
        assert info.value.status == 429 and info.value.retry_after >= 1
        assert not (tmp_path / refused).exists()  # the refused upload goes with the refusal
        jobs.submit(jobs.new_job()[0], hold, 1, owner="198.51.100.8")  # another client is not held up
        jobs.submit(jobs.new_job()[0], hold, 1)  # no owner (e.g. an internal job): not counted
        assert json.loads((tmp_path / first / "status.json").read_text())["owner"] == "198.51.100.7"
        gate.set()
        assert jobs.wait(first, timeout=30).state == "done"
        deadline = time.monotonic() + 30
        while jobs.owner_is_busy("198.51.100.7") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not jobs.owner_is_busy("198.51.100.7")  # a finished job frees its slot
    finally:
        gate.set()
        jobs.shutdown()


def test_client_key_trusts_x_forwarded_for_only_when_told() -> None:
    from app.submit import client_key

    headers = {"x-forwarded-for": "203.0.113.5, 198.51.100.9"}  # the client's own claim, then the proxy's
    assert client_key("127.0.0.1", headers, trust_forwarded_for=False) == "127.0.0.1"
    assert client_key("127.0.0.1", headers, trust_forwarded_for=True) == "198.51.100.9"
    assert client_key("127.0.0.1", {}, trust_forwarded_for=True) == "127.0.0.1"
    assert client_key(None, {}, trust_forwarded_for=False) == "unknown"

"""Tracking jobs: a bounded worker pool in front of the service, with results kept on disk.

Why jobs: tracking a clip takes seconds to minutes on a CPU, longer than a browser or proxy waits
on one request. Every request (``POST /jobs``, the synchronous ``POST /track`` and the UI) becomes
a job here, so the number of clips tracked at once is bounded by ``workers`` whatever the entry
point, waiting work sees its queue position, and a browser that reloads can find its job again.
Each job owns a folder ``<root>/<id>/`` holding ``status.json`` and its result files; finished
folders are deleted ``ttl_s`` after they finish, and a restart marks unfinished ones as failed.

Why the pool defends itself: it is the one place every request passes, so it is where load and
faults are contained. A job that raises ends as "failed" with its reason and the worker moves on;
a disk that cannot take a status file is logged, never allowed to kill a worker; on shutdown the
queued jobs are failed so nobody waits forever; a refused submission says when to come back
(``retry_after``, from the durations of recent jobs).
"""

from __future__ import annotations

import json
import logging
import math
import re
import shutil
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from pydantic import BaseModel

from app.errors import ClientBusyError, JobNotFoundError, QueueFullError, ServiceUnavailableError, as_app_error

log = logging.getLogger("app")

JOB_ID_PATTERN = re.compile(r"^[0-9a-f]{32}$")
STATUS_FILE = "status.json"
RESULT_FILE = "result.json"
PERSIST_EVERY_S = 1.0  # progress is written to disk at most this often
DEFAULT_RETRY_AFTER_S = 10  # before any job has finished there is no rate to go by
MAX_RETRY_AFTER_S = 600
DURATION_HISTORY = 20  # recent job durations behind the Retry-After estimate

ProgressFn = Callable[[int, int], None]
Work = Callable[[Path, ProgressFn], BaseModel]  # writes into the folder, returns the typed result


def retry_after_seconds(recent_durations: list[float], jobs_ahead: int, workers: int) -> int:
    """Seconds until the jobs ahead have likely finished: mean duration x jobs ahead / workers.

    Rounded up and kept within [1, MAX_RETRY_AFTER_S]; DEFAULT_RETRY_AFTER_S with no history yet.
    """
    if not recent_durations:
        return DEFAULT_RETRY_AFTER_S
    mean = sum(recent_durations) / len(recent_durations)
    return int(min(MAX_RETRY_AFTER_S, max(1, math.ceil(mean * max(jobs_ahead, 1) / workers))))


def eta_seconds(frames_done: int, frames_total: int, elapsed_s: float) -> float | None:
    """Seconds left if the remaining frames go at the rate of the finished ones; None before any."""
    if frames_done <= 0 or elapsed_s <= 0:
        return None
    return max(0.0, elapsed_s / frames_done * (frames_total - frames_done))


def remove_upload(path: Path) -> None:
    """Delete an upload: a file, or the folder a labelled zip was unpacked into."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


@dataclass
class Job:
    """One job's state, as stored in ``status.json``."""

    id: str
    state: str = "queued"  # queued -> running -> done | failed
    frames_done: int = 0
    frames_total: int = 0
    error: str | None = None
    error_status: int | None = None  # the HTTP status the error maps to (4xx: the caller's to fix)
    error_code: str | None = None
    created_at: float = 0.0
    started_at: float | None = None
    finished_at: float | None = None
    owner: str | None = None  # who submitted it (app.submit.client_key), for the per-client bound

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed")


class JobManager:
    """Runs submitted work on ``workers`` threads; at most ``max_queued`` jobs wait beyond idle workers,
    and one owner (a client) holds at most ``per_owner`` queued or running jobs at a time."""

    def __init__(
        self, root: Path, workers: int = 1, max_queued: int = 8, ttl_s: float = 3600,
        clock: Callable[[], float] = time.time, per_owner: int | None = None,
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        if per_owner is not None and per_owner < 1:
            raise ValueError(f"per_owner must be at least 1, got {per_owner}")
        self.per_owner = per_owner
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.workers, self.max_queued, self.ttl_s, self.clock = workers, max_queued, ttl_s, clock
        self._jobs: dict[str, Job] = {}
        self._work: dict[str, Work] = {}
        self._done_events: dict[str, threading.Event] = {}
        self._queue: deque[str] = deque()
        self._idle = 0
        self._lock = threading.Condition()
        self._stopping = threading.Event()
        self._last_persist: dict[str, float] = {}
        self._durations: deque[float] = deque(maxlen=DURATION_HISTORY)
        self._recover()
        self.cleanup()  # results that expired while the server was down go now, not at the first tick
        self._threads = [threading.Thread(target=self._worker, name=f"job-worker-{i}", daemon=True) for i in range(workers)]
        self._threads.append(threading.Thread(target=self._janitor, name="job-janitor", daemon=True))
        for thread in self._threads:
            thread.start()

    # ------------------------------------------------------------------------------ public

    def new_job(self) -> tuple[str, Path]:
        """Reserve an id and its folder (the upload is saved there before :meth:`submit`)."""
        job_id = uuid.uuid4().hex
        folder = self.root / job_id
        folder.mkdir(parents=True)
        return job_id, folder

    def is_full(self) -> bool:
        """Whether a submission now would be refused (cheap; checked again on submit)."""
        with self._lock:
            return self._stopping.is_set() or len(self._queue) >= self.max_queued + self._idle

    def refusal(self) -> QueueFullError | ServiceUnavailableError:
        """The error a refused submission gets, with its Retry-After."""
        with self._lock:
            return self._refusal()

    def owner_is_busy(self, owner: str | None) -> bool:
        """Whether ``owner`` already holds its share of queued and running jobs."""
        with self._lock:
            return self._owner_is_busy(owner)

    def owner_refusal(self, owner: str | None) -> ClientBusyError:
        with self._lock:
            return self._owner_refusal(owner)

    def retry_after(self) -> int:
        with self._lock:
            running = sum(1 for j in self._jobs.values() if j.state == "running")
            return retry_after_seconds(list(self._durations), len(self._queue) + running, self.workers)

    def submit(self, job_id: str, work: Work, frames_total: int, owner: str | None = None) -> Job:
        """Queue ``work(folder, progress)``; QueueFullError (429) when too many wait, ClientBusyError (429)
        when ``owner`` holds its share already, 503 when stopping."""
        with self._lock:
            if self._stopping.is_set() or len(self._queue) >= self.max_queued + self._idle:
                self._discard(job_id)  # the caller's upload goes with the refusal
                raise self._refusal()
            if self._owner_is_busy(owner):
                self._discard(job_id)
                raise self._owner_refusal(owner)
            job = Job(job_id, frames_total=frames_total, created_at=self.clock(), owner=owner)
            self._jobs[job_id] = job
            self._work[job_id] = work
            self._done_events[job_id] = threading.Event()
            self._queue.append(job_id)
            self._persist(job, force=True)
            self._lock.notify()
        return job

    def get(self, job_id: str) -> Job:
        if not JOB_ID_PATTERN.match(job_id or ""):
            shown = job_id if len(job_id or "") <= 40 else job_id[:40] + "…"
            raise JobNotFoundError(f"no job {shown!r}: job ids are 32 hex characters from POST /jobs")
        with self._lock:
            job = self._jobs.get(job_id)
            if job is not None and self._expired(job, self.clock()):  # exact expiry, not the janitor's tick
                self._discard(job_id)
                job = None
        if job is None:
            raise JobNotFoundError(f"no job {job_id}: it never existed or its results expired and were deleted")
        return job

    def folder(self, job_id: str) -> Path:
        self.get(job_id)
        return self.root / job_id

    def queue_position(self, job_id: str) -> int | None:
        """1 = the next job to start; None once it runs or has finished."""
        with self._lock:
            try:
                return self._queue.index(job_id) + 1
            except ValueError:
                return None

    def eta(self, job: Job) -> float | None:
        """Seconds left: 0 once finished, None while queued or before the first frame."""
        if job.finished:
            return 0.0
        if job.started_at is None:
            return None
        return eta_seconds(job.frames_done, job.frames_total, self.clock() - job.started_at)

    def expires_at(self, job: Job) -> float | None:
        return None if job.finished_at is None else job.finished_at + self.ttl_s

    def wait(self, job_id: str, timeout: float | None = None) -> Job:
        """Block until the job finishes (or ``timeout`` seconds pass) and return it."""
        self.get(job_id)
        event = self._done_events.get(job_id)
        if event is not None:
            event.wait(timeout)
        return self.get(job_id)

    def result_json(self, job_id: str) -> str:
        """The stored result of a finished job, as the JSON text its work returned."""
        return (self.folder(job_id) / RESULT_FILE).read_text()

    def counts(self) -> dict[str, int]:
        with self._lock:
            states = [j.state for j in self._jobs.values()]
        return {"queued": states.count("queued"), "running": states.count("running")}

    def cleanup(self) -> list[str]:
        """Delete finished jobs older than the TTL (and stray folders); return the removed ids."""
        now = self.clock()
        removed = []
        with self._lock:
            for job_id, job in list(self._jobs.items()):
                if self._expired(job, now):
                    self._discard(job_id)
                    removed.append(job_id)
            known = set(self._jobs)
        for folder in self.root.iterdir():
            stray = folder.is_dir() and folder.name not in known and JOB_ID_PATTERN.match(folder.name)
            if stray and now >= folder.stat().st_mtime + self.ttl_s:  # e.g. an upload that was refused
                shutil.rmtree(folder, ignore_errors=True)
                removed.append(folder.name)
        return removed

    def discard(self, job_id: str) -> None:
        """Forget a job and delete its folder (e.g. an upload that failed validation)."""
        with self._lock:
            self._discard(job_id)

    def shutdown(self, wait_s: float = 5.0) -> None:
        """Stop the workers; jobs still queued fail now (nobody would ever run them). Idle threads end
        at once; the call waits up to ``wait_s`` for them (a worker in the middle of a job ends after it)."""
        self._stopping.set()
        with self._lock:
            while self._queue:
                job = self._jobs[self._queue.popleft()]
                self._work.pop(job.id, None)
                job.finished_at, job.error = self.clock(), "the server shut down before this job started: submit it again"
                job.error_status, job.error_code = ServiceUnavailableError.status, ServiceUnavailableError.code
                job.state = "failed"
                self._persist(job, force=True)
                event = self._done_events.get(job.id)
                if event is not None:
                    event.set()
            self._lock.notify_all()
        deadline = time.monotonic() + wait_s
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    # ------------------------------------------------------------------------------ internals

    def _refusal(self) -> QueueFullError | ServiceUnavailableError:
        running = sum(1 for j in self._jobs.values() if j.state == "running")
        wait = retry_after_seconds(list(self._durations), len(self._queue) + running, self.workers)
        if self._stopping.is_set():
            return ServiceUnavailableError(f"the server is shutting down: try again in {wait} s", retry_after=wait)
        return QueueFullError(
            f"{len(self._queue)} jobs are already waiting (limit {self.max_queued}): try again in {wait} s",
            retry_after=wait,
        )

    def _owner_is_busy(self, owner: str | None) -> bool:
        if owner is None or self.per_owner is None:
            return False
        held = sum(1 for j in self._jobs.values() if j.owner == owner and not j.finished)
        return held >= self.per_owner

    def _owner_refusal(self, owner: str | None) -> ClientBusyError:
        mine = [j for j in self._jobs.values() if j.owner == owner and not j.finished]
        running = sum(1 for j in self._jobs.values() if j.state == "running")
        wait = retry_after_seconds(list(self._durations), len(self._queue) + running, self.workers)
        return ClientBusyError(
            f"you already have {len(mine)} jobs queued or running (this server allows {self.per_owner} per client): "
            f"wait for one to finish, then try again in about {wait} s", retry_after=wait,
        )

    def _expired(self, job: Job, now: float) -> bool:
        return job.finished and job.finished_at is not None and now >= job.finished_at + self.ttl_s

    def _discard(self, job_id: str) -> None:
        self._jobs.pop(job_id, None)
        self._work.pop(job_id, None)
        self._done_events.pop(job_id, None)
        self._last_persist.pop(job_id, None)
        shutil.rmtree(self.root / job_id, ignore_errors=True)

    def _persist(self, job: Job, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_persist.get(job.id, 0.0) < PERSIST_EVERY_S:
            return
        self._last_persist[job.id] = now
        folder = self.root / job.id
        if not folder.is_dir():
            return
        try:
            tmp = folder / (STATUS_FILE + ".tmp")
            tmp.write_text(json.dumps(asdict(job)))
            tmp.replace(folder / STATUS_FILE)
        except OSError:  # e.g. a full disk: the job goes on in memory; a worker must never die of it
            log.exception("cannot write the status of job %s", job.id)

    def _recover(self) -> None:
        """Reload jobs left by a previous run; unfinished ones can never finish now."""
        for status in self.root.glob(f"*/{STATUS_FILE}"):
            try:
                job = Job(**json.loads(status.read_text()))
            except (OSError, ValueError, TypeError) as exc:  # its folder goes as a stray at expiry
                log.warning("ignoring job folder %s: unreadable %s (%s)", status.parent.name, STATUS_FILE, exc)
                continue
            if not job.finished:
                job.state, job.error, job.finished_at = "failed", "interrupted by a server restart: submit it again", self.clock()
                self._persist(job, force=True)
                for leftover in status.parent.glob("upload*"):  # nobody will track it now
                    try:
                        remove_upload(leftover)
                    except OSError:  # the janitor removes the folder at expiry anyway
                        log.exception("cannot delete %s", leftover)
            self._jobs[job.id] = job
            event = threading.Event()
            event.set()
            self._done_events[job.id] = event

    def _worker(self) -> None:
        while not self._stopping.is_set():
            with self._lock:
                self._idle += 1
                while not self._queue and not self._stopping.is_set():
                    self._lock.wait()
                self._idle -= 1
                if self._stopping.is_set():
                    return
                job_id = self._queue.popleft()
                job, work = self._jobs[job_id], self._work.pop(job_id)
                job.state, job.started_at = "running", self.clock()
                self._persist(job, force=True)
            try:
                self._run(job, work)
            except Exception:  # _run ends every job itself; this only keeps the worker alive
                log.exception("worker survived an error after job %s", job.id)
            except BaseException:  # KeyboardInterrupt / SystemExit: this worker ends, and says so
                log.critical("job worker %s stops after job %s", threading.current_thread().name, job.id)
                raise

    def _run(self, job: Job, work: Work) -> None:
        folder = self.root / job.id

        def progress(done: int, total: int) -> None:
            job.frames_done, job.frames_total = done, total
            self._persist(job)

        state, error, status, code = "failed", "interrupted while running", 500, "internal_error"
        try:
            result = work(folder, progress)
            tmp = folder / (RESULT_FILE + ".tmp")
            tmp.write_text(result.model_dump_json())
            tmp.replace(folder / RESULT_FILE)
            state, error, status, code = "done", None, None, None
        except Exception as exc:  # a job must always end in a state, whatever went wrong
            mapped = as_app_error(exc)
            if mapped is None:
                log.exception("job %s failed", job.id)
            else:  # the clip's fault (or a stopped worker): one line, no traceback
                log.info("job %s failed: %d %s: %s", job.id, mapped.status, mapped.code, mapped.detail)
            state = "failed"
            error = mapped.detail if mapped else f"internal error ({type(exc).__name__}); the server log has it under job {job.id}"
            status, code = (mapped.status, mapped.code) if mapped else (500, "internal_error")
        finally:
            try:
                for leftover in folder.glob("upload*"):  # the upload is not needed once tracked
                    remove_upload(leftover)
            except OSError:
                log.exception("cannot delete the upload of job %s (the janitor will)", job.id)
            with self._lock:
                # Readers look at ``state`` without the lock: set it last, so a job that reads
                # as finished always has its finish time and error in place.
                job.finished_at, job.error, job.error_status, job.error_code = self.clock(), error, status, code
                job.state = state
                if job.started_at is not None:
                    self._durations.append(max(0.0, job.finished_at - job.started_at))
                self._persist(job, force=True)
            event = self._done_events.get(job.id)
            if event is not None:
                event.set()

    def _janitor(self) -> None:
        period = min(60.0, max(1.0, self.ttl_s / 4))
        while not self._stopping.wait(period):
            try:
                self.cleanup()
            except OSError:
                log.exception("job cleanup failed")

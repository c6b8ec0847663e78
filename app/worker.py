"""Tracking in worker processes, so that no clip can hang or crash the service.

Why a process: a thread cannot be stopped, so a decoder that hangs would hold its job worker forever,
and a segfault or an out-of-memory kill inside a native decoder would take the whole server with it.
Each thread of the job pool (:mod:`app.jobs`) owns one worker process, spawned on its first job with
the detector and trackers loaded once; a job is sent to it with a deadline that grows with the clip's
frame count. A job past its deadline, or a worker that dies, ends *failed* with a reason a person
understands; the worker is replaced for the next job, and other jobs and the server go on.

The main process still validates every upload itself (:func:`app.submit.submit_clip`), so a bad
request is refused at once; the worker plans the same request again before it tracks.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

from app.config import AppConfig
from app.errors import AppError, JobFailedError, ServiceUnavailableError, as_app_error
from app.schemas import TrackResult

log = logging.getLogger("app")
POLL_S = 0.5  # how often a waiting supervisor looks at its worker's health
STARTUP_S = 300  # a new worker loads the detector and the trackers in this time, or is given up


class DeadlineExceededError(AppError):
    status, code = 504, "deadline_exceeded"


class WorkerCrashedError(AppError):
    status, code = 500, "worker_crashed"


@dataclass(frozen=True)
class JobRequest:
    """What a worker needs to track one upload (all of it can cross a process boundary)."""

    upload: Path
    filename: str
    options: object  # app.service.TrackOptions (imported lazily: the service module loads the models' code)


def deadline_s(config: AppConfig, frames: int) -> float:
    """How long a job of ``frames`` frames may take before its worker is stopped."""
    return config.job_deadline_base_s + frames * config.job_deadline_ms_per_frame / 1000.0


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "stopped answering"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        hint = " (killed, often for lack of memory)" if -code == signal.SIGKILL else ""
        return f"was stopped by {name}{hint}"
    return f"exited with status {code}"


class TrackingWorkers:
    """One tracking process per job-pool thread; ``run`` sends it a job and supervises it.

    ``initializer`` runs first in every new worker process (tests use it to put a hanging or crashing
    decoder in place; the service passes none).
    """

    def __init__(self, config: AppConfig, initializer: Callable[[], None] | None = None) -> None:
        self.config, self.initializer = config, initializer
        self._context = multiprocessing.get_context("spawn")  # a fresh interpreter: no inherited threads
        self._local = threading.local()
        self._all: list[multiprocessing.Process] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.replaced = 0  # workers started again after one died or was stopped

    def run(self, request: JobRequest, frames: int, out_dir: Path,
            progress: Callable[[int, int], None]) -> TrackResult:
        if self._stopping.is_set():
            raise ServiceUnavailableError("the server is shutting down: submit the clip again in a moment")
        process, conn = self._worker()
        try:
            conn.send(("job", request, str(out_dir)))
        except (BrokenPipeError, OSError):  # it died between jobs: once more, with a new one
            self._retire(kill=True)
            process, conn = self._worker()
            conn.send(("job", request, str(out_dir)))
        try:
            return self._supervise(process, conn, request, frames, progress)
        except (JobFailedError, AppError):
            raise  # the job's own answer (or a worker already retired): the worker state is settled
        except BaseException:  # anything else leaves the worker mid-job: it cannot serve the next one
            self._retire(kill=True)
            raise

    def _supervise(self, process: multiprocessing.Process, conn: Connection, request: JobRequest, frames: int,
                   progress: Callable[[int, int], None]) -> TrackResult:
        limit = deadline_s(self.config, frames)
        deadline = time.monotonic() + limit
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._retire(kill=True)
                raise DeadlineExceededError(
                    f"tracking {request.filename} took longer than the {limit:.0f} s this server allows for "
                    f"{frames} frames, so it was stopped: the clip's decoder may have stopped answering "
                    "(a damaged file?). Other jobs are not affected; try the clip again or re-encode it.")
            try:
                message = conn.recv() if conn.poll(min(POLL_S, remaining)) else None
            except (EOFError, OSError):  # the pipe broke: the worker is gone, or as good as gone
                process.join(5)
                message = ("lost",)
            if message is None:
                if process.is_alive():
                    continue
                message = ("lost",)
            kind = message[0]
            if kind == "progress":
                progress(message[1], message[2])
            elif kind == "done":
                return TrackResult.model_validate_json(message[1])
            elif kind == "error":
                _, status, code, detail = message
                raise JobFailedError(detail, status, code)
            else:  # "lost"
                how = _describe_exit(process.exitcode)
                self._retire(kill=True)
                if self._stopping.is_set():
                    raise ServiceUnavailableError("the server shut down while this job ran: submit the clip again")
                raise WorkerCrashedError(
                    f"the tracking worker {how} while tracking {request.filename}; the clip may be damaged. "
                    "The server has started a new worker and other jobs are not affected.")

    def shutdown(self) -> None:
        self._stopping.set()
        with self._lock:
            processes, self._all = self._all, []
        for process in processes:
            if process.is_alive():
                process.terminate()
        for process in processes:
            process.join(5)
            if process.is_alive():
                process.kill()

    # ------------------------------------------------------------------------------ internals

    def _worker(self) -> tuple[multiprocessing.Process, Connection]:
        current = getattr(self._local, "worker", None)  # this thread's own worker, if it has one
        if current is not None and current[0].is_alive():
            return current
        if current is not None:
            self._retire(kill=False)
        ours, theirs = self._context.Pipe()
        process = self._context.Process(target=serve, args=(theirs, self.config, self.initializer),
                                        name="tracking-worker", daemon=True)
        process.start()
        theirs.close()
        with self._lock:
            self._all.append(process)
        self._local.worker = (process, ours)
        # The deadline of a job counts from a ready worker: loading the models is not the clip's fault.
        deadline = time.monotonic() + STARTUP_S
        while time.monotonic() < deadline:
            try:
                if ours.poll(POLL_S):
                    if ours.recv() == ("ready",):
                        return process, ours
                elif process.is_alive():
                    continue
            except (EOFError, OSError):
                pass
            break
        how = _describe_exit(process.exitcode) if not process.is_alive() else f"did not start in {STARTUP_S} s"
        self._retire(kill=True)
        raise WorkerCrashedError(f"the tracking worker {how}; see the server log")

    def _retire(self, kill: bool) -> None:
        process, conn = self._local.worker
        self._local.worker = None
        if kill and process.is_alive():
            process.kill()
        process.join(5)
        conn.close()
        with self._lock:
            if process in self._all:
                self._all.remove(process)
        self.replaced += 1
        log.warning("tracking worker %s retired (%s)", process.pid, _describe_exit(process.exitcode))


def _exit_with_parent(parent: int) -> None:
    """A worker whose server is gone (even killed with SIGKILL) ends too, hung decoder or not."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


def serve(conn: Connection, config: AppConfig, initializer: Callable[[], None] | None) -> None:
    """A worker process: load the models once, then track the jobs it is sent, one at a time."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the server's to handle; it then stops us
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s tracking-worker %(levelname)s %(message)s")
    if initializer is not None:
        initializer()
    from app.service import TrackingService  # the heavy imports happen here, in the worker

    service = TrackingService(config)
    conn.send(("ready",))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message[0] != "job":
            return
        _, request, out_dir = message
        try:
            plan = service.plan(request.upload, request.options, request.filename)
            result = service.run(plan, Path(out_dir), lambda done, total: conn.send(("progress", done, total)))
            conn.send(("done", result.model_dump_json()))
        except Exception as exc:  # every job ends with an answer; the worker goes on
            mapped = as_app_error(exc)
            if mapped is None:
                log.exception("job %s failed in the tracking worker", Path(out_dir).name)
                conn.send(("error", 500, "internal_error", f"internal error ({type(exc).__name__}); the server "
                                                           f"log has it under job {Path(out_dir).name}"))
            else:
                conn.send(("error", mapped.status, mapped.code, mapped.detail))

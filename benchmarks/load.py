"""Concurrent load on a real server: N clients POST /track at once to a 1-worker server.

Starts ``python app.py`` as a subprocess on 127.0.0.1 (one worker, a short queue), cuts a tiny clip
from the real example MP4, and fires ``--clients`` simultaneous ``POST /track`` requests, each with
a bounded timeout. Every answer must be either a correct result (the same tracks as a reference
request made alone) or a clean refusal (429/503, JSON error, ``Retry-After``); none may hang or
5xx. A second round has refused clients honour ``Retry-After`` until they are served, to show
nothing is lost. The server's resident memory is sampled throughout.

    .venv/bin/python -m benchmarks.load [--clients 20] [--max-queued 4] [--frames 3] [--timeout-s 120]

Needs a baseline checkpoint (``VSDMOT_BASELINE_CHECKPOINT`` or ``assets/baseline.pt``) and the
example clips (``VSDMOT_VIDEOS_DIR``). Prints the outcomes, latencies and peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from model.core import settings
from model.core.settings import PROJECT_ROOT
from model.tracking.checkpoint import DEFAULT_CHECKPOINTS

SOURCE_CLIP = "intel-one-by-one-person-detection.mp4"
CLIP_FRAMES = 6


@dataclass
class Outcome:
    """One client's request."""

    status: int | None  # None: no answer (timeout or connection error)
    latency_s: float
    attempts: int = 1
    retry_after: int | None = None
    error: str | None = None  # the API's error code, or the client-side exception
    tracks: Any = None
    frames_processed: int | None = None


@dataclass
class LoadReport:
    """What a load run measured; ``ok`` is the verdict the test and the script both use."""

    clients: int
    workers: int
    max_queued: int
    frames: int
    first_round: dict[str, int]
    retry_round: dict[str, int]
    correct_results: int
    clean_refusals: int
    hung_or_5xx: int
    wrong_results: int
    latency_s: dict[str, float]
    retry_round_latency_s: dict[str, float]
    retry_after_s: list[int]
    rss_idle_mb: float
    rss_peak_mb: float
    rss_hwm_mb: float
    leftover_uploads: int
    health_after: int
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_mb(pid: int, key: str = "VmRSS") -> float:
    """Resident memory of a process from /proc (``VmHWM`` = its peak so far), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def make_clip(source: Path, out: Path, frames: int = CLIP_FRAMES) -> Path:
    """The first ``frames`` frames of a real clip, re-encoded as a small H.264 MP4."""
    import av

    with av.open(str(source)) as src, av.open(str(out), "w") as dst:
        stream_in = src.streams.video[0]
        stream = dst.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = stream_in.width, stream_in.height, "yuv420p"
        stream.options = {"preset": "ultrafast"}
        for index, frame in enumerate(src.decode(stream_in)):
            if index >= frames:
                break
            for packet in stream.encode(frame.reformat(format="yuv420p")):
                dst.mux(packet)
        for packet in stream.encode():
            dst.mux(packet)
    return out


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))], 3)

    return {"min": at(0), "p50": at(0.5), "p90": at(0.9), "max": at(1.0)}


class Server:
    """``python app.py`` in a subprocess that this object started and stops."""

    def __init__(self, work: Path, workers: int, max_queued: int, max_frames: int, checkpoint: Path,
                 vsd_checkpoint: Path | None = None, extra_env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.jobs_dir = work / "jobs"
        (work / "no_examples").mkdir(exist_ok=True)
        env = {
            **os.environ, "HOST": "127.0.0.1", "PORT": str(self.port), "VSDMOT_WORKERS": str(workers),
            "VSDMOT_MAX_QUEUED": str(max_queued), "VSDMOT_MAX_FRAMES": str(max_frames),
            "VSDMOT_JOBS_DIR": str(self.jobs_dir), "VSDMOT_BASELINE_CHECKPOINT": str(checkpoint),
            "VSDMOT_VSDMOT_CHECKPOINT": str(vsd_checkpoint or work / "no_vsd_mot.pt"), "VSDMOT_VIDEOS_DIR": str(work / "no_examples"),
            "GRADIO_TEMP_DIR": str(work / "gradio"), "VSDMOT_RENDER_WIDTH": "160", "GRADIO_ANALYTICS_ENABLED": "False",
            "VSDMOT_TRUST_FORWARDED_FOR": "1", **(extra_env or {}),
        }
        self.log = (work / "server.log").open("w")
        self.process = subprocess.Popen([sys.executable, "app.py"], cwd=PROJECT_ROOT, env=env,
                                        stdout=self.log, stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode}; see {self.log.name}")
            try:
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"the server did not answer /health within {timeout_s:.0f} s; see {self.log.name}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(30)
        self.log.close()


class RssSampler(threading.Thread):
    """Samples a process's VmRSS every ``period_s`` until stopped; keeps the maximum."""

    def __init__(self, pid: int, period_s: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.pid, self.period_s, self.peak_mb = pid, period_s, 0.0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            try:
                self.peak_mb = max(self.peak_mb, rss_mb(self.pid))
            except OSError:
                return
            self._stop_event.wait(self.period_s)

    def stop(self) -> float:
        self._stop_event.set()
        self.join(10)
        return self.peak_mb


def track_once(url: str, clip: bytes, frames: int, timeout_s: float, honour_retry_after: bool, max_attempts: int = 20,
               address: str | None = None) -> Outcome:
    """One client: POST /track; with ``honour_retry_after`` it sleeps and retries on 429/503. ``address``
    is the client's own address as a proxy would forward it (the server trusts X-Forwarded-For here),
    so many clients on one machine count as many clients for the per-client job bound."""
    headers = {"X-Forwarded-For": address} if address else None
    start = time.monotonic()
    attempts = 0
    while True:
        attempts += 1
        try:
            response = httpx.post(url + "/track", files={"video": ("clip.mp4", clip)}, headers=headers,
                                  data={"variant": "baseline", "max_frames": str(frames)}, timeout=timeout_s)
        except httpx.HTTPError as exc:
            return Outcome(None, time.monotonic() - start, attempts, error=type(exc).__name__)
        retry_after = response.headers.get("retry-after")
        if response.status_code in (429, 503) and honour_retry_after and attempts < max_attempts and retry_after:
            time.sleep(int(retry_after))
            continue
        outcome = Outcome(response.status_code, time.monotonic() - start, attempts,
                          retry_after=int(retry_after) if retry_after and retry_after.isdigit() else None)
        try:
            body = response.json()
        except ValueError:
            outcome.error = "not JSON"
            return outcome
        if response.status_code == 200:
            outcome.tracks, outcome.frames_processed = body["tracks"], body["meta"]["frames_processed"]
        else:
            outcome.error = (body.get("error") if isinstance(body, dict) and set(body) == {"error", "detail", "request_id"}
                             else "bad error body")
        return outcome


def fire(url: str, clip: bytes, clients: int, frames: int, timeout_s: float, honour_retry_after: bool) -> list[Outcome]:
    """``clients`` threads released together by a barrier."""
    barrier = threading.Barrier(clients)
    outcomes: list[Outcome | None] = [None] * clients

    def client(index: int) -> None:
        barrier.wait()
        # TEST-NET-1 (RFC 5737) addresses: only a header value, never contacted
        outcomes[index] = track_once(url, clip, frames, timeout_s, honour_retry_after, address=f"192.0.2.{index + 1}")

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout_s * 25)
    return [o or Outcome(None, timeout_s, error="client thread never returned") for o in outcomes]


def judge(outcomes: list[Outcome], reference: Any, frames: int, problems: list[str], label: str) -> tuple[int, int, int, int]:
    """Count correct results, clean refusals, hangs/5xx and wrong results; note each problem."""
    correct = refused = broken = wrong = 0
    for index, o in enumerate(outcomes):
        if o.status == 200 and o.frames_processed == frames and o.tracks == reference:
            correct += 1
        elif o.status in (429, 503) and o.retry_after is not None and o.retry_after >= 1 and o.error in ("queue_full", "unavailable"):
            refused += 1
        elif o.status is None or o.status >= 500:
            broken += 1
            problems.append(f"{label} client {index}: {o.status} {o.error}")
        else:
            wrong += 1
            problems.append(f"{label} client {index}: {o.status} {o.error} frames={o.frames_processed}")
    return correct, refused, broken, wrong


def run_load(clients: int = 20, workers: int = 1, max_queued: int = 4, frames: int = 3, timeout_s: float = 120.0,
             checkpoint: Path | None = None, videos_dir: Path | None = None, work: Path | None = None) -> LoadReport:
    checkpoint = checkpoint or Path(os.environ.get("VSDMOT_BASELINE_CHECKPOINT", "") or DEFAULT_CHECKPOINTS["baseline"])
    if not checkpoint.is_file():
        raise FileNotFoundError(f"no baseline checkpoint at {checkpoint}: set VSDMOT_BASELINE_CHECKPOINT")
    videos_dir = videos_dir or settings.videos_dir()
    if videos_dir is None or not (videos_dir / SOURCE_CLIP).is_file():
        raise FileNotFoundError(f"{SOURCE_CLIP} not found: set VSDMOT_VIDEOS_DIR to the example clips")
    if work is None:  # the run's folder (server log, jobs, clip) goes when the run ends
        with tempfile.TemporaryDirectory(prefix="vsdmot-load-") as folder:
            return run_load(clients, workers, max_queued, frames, timeout_s, checkpoint, videos_dir, Path(folder))
    clip_frames = max(frames, CLIP_FRAMES)
    clip = make_clip(videos_dir / SOURCE_CLIP, work / "clip.mp4", clip_frames).read_bytes()
    server = Server(work, workers, max_queued, max_frames=clip_frames, checkpoint=checkpoint)
    problems: list[str] = []
    try:
        server.wait_ready(timeout_s)
        reference = track_once(server.url, clip, frames, timeout_s, honour_retry_after=False)  # alone: the truth
        if reference.status != 200:
            raise RuntimeError(f"the reference request failed: {reference.status} {reference.error}")
        idle = rss_mb(server.process.pid)
        sampler = RssSampler(server.process.pid)
        sampler.start()
        first = fire(server.url, clip, clients, frames, timeout_s, honour_retry_after=False)
        second = fire(server.url, clip, clients, frames, timeout_s, honour_retry_after=True)
        peak = sampler.stop()
        hwm = rss_mb(server.process.pid, "VmHWM")
        counts = [judge(first, reference.tracks, frames, problems, "round 1"),
                  judge(second, reference.tracks, frames, problems, "round 2")]
        served_second = counts[1][0]
        if served_second != clients:
            problems.append(f"round 2: only {served_second} of {clients} clients were served after retrying")
        health = httpx.get(server.url + "/health", timeout=timeout_s)
        if health.json().get("jobs") != {"queued": 0, "running": 0}:
            problems.append(f"jobs still queued or running after the load: {health.json().get('jobs')}")
        leftovers = len(list(server.jobs_dir.glob("*/upload*")))
        if leftovers:
            problems.append(f"{leftovers} uploads left in the job folders")
    finally:
        server.stop()
    return LoadReport(
        clients=clients, workers=workers, max_queued=max_queued, frames=frames,
        first_round=dict(Counter(str(o.status) for o in first)),
        retry_round=dict(Counter(str(o.status) for o in second)),
        correct_results=counts[0][0], clean_refusals=counts[0][1], hung_or_5xx=counts[0][2] + counts[1][2],
        wrong_results=counts[0][3] + counts[1][3],
        latency_s=percentiles([o.latency_s for o in first if o.status == 200]),
        retry_round_latency_s=percentiles([o.latency_s for o in second]),
        retry_after_s=sorted({o.retry_after for o in first + second if o.retry_after is not None}),
        rss_idle_mb=round(idle, 1), rss_peak_mb=round(peak, 1), rss_hwm_mb=round(hwm, 1),
        leftover_uploads=leftovers, health_after=health.status_code, problems=problems,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--max-queued", type=int, default=4)
    parser.add_argument("--frames", type=int, default=3, help="max_frames per request")
    parser.add_argument("--timeout-s", type=float, default=120.0, help="client timeout per request")
    args = parser.parse_args(argv)
    report = run_load(args.clients, args.workers, args.max_queued, args.frames, args.timeout_s)
    print(json.dumps({**asdict(report), "ok": report.ok}, indent=1))
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

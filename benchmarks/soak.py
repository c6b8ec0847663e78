"""Soak: many sequential small jobs, with bursts of concurrent ones, against a real ``python app.py``
on loopback; samples the server's resident memory (its own and its tracking workers'), open file
descriptors, and the size of the job folder and of Gradio's temp folder as the run goes, and says
whether each levelled off. Results expire quickly here (``--ttl-s``), so cleanup is part of the run.

    .venv/bin/python -m benchmarks.soak [--jobs 200] [--burst-every 50] [--burst 20] [--sample-every 10]

Level-off rule: from the sample a third of the way in (after warm-up: models loaded, caches filled)
to the last one, RSS may grow at most ``--rss-growth-mb`` and descriptors at most ``--fd-growth``;
the job folder must end no larger than its largest size in the run's middle third plus one job.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.load import SOURCE_CLIP, Server, fire, make_clip, rss_mb, track_once
from model.core import settings
from model.core.settings import DEFAULT_CHECKPOINTS


@dataclass
class Sample:
    jobs_done: int
    seconds: float
    rss_mb: float  # server + tracking workers
    fds: int  # server + tracking workers
    jobs_dir_mb: float
    gradio_tmp_mb: float


@dataclass
class SoakReport:
    samples: list[Sample] = field(default_factory=list)
    statuses: dict[int | None, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def levelled(self) -> bool:
        return not self.problems


def children(pid: int) -> list[int]:
    """Every descendant of ``pid`` (the tracking workers and their helpers), from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    found, frontier = [], [pid]
    while frontier:
        current = frontier.pop()
        kids = [p for p, parent in parents.items() if parent == current]
        found += kids
        frontier += kids
    return found


def folder_mb(path: Path) -> float:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += (Path(root) / name).stat().st_size
            except OSError:
                continue
    return total / 2**20


def sample(server: Server, work: Path, done: int, started: float) -> Sample:
    pids = [server.process.pid, *children(server.process.pid)]
    rss = fds = 0.0
    for pid in pids:
        try:
            rss += rss_mb(pid)
            fds += len(os.listdir(f"/proc/{pid}/fd"))
        except OSError:
            continue
    return Sample(done, round(time.monotonic() - started, 1), round(rss, 1), int(fds),
                  round(folder_mb(server.jobs_dir), 2), round(folder_mb(work / "gradio"), 2))


def judge(report: SoakReport, rss_growth_mb: float, fd_growth: int, job_mb: float) -> None:
    samples = report.samples
    if len(samples) < 3:
        report.problems.append("too few samples to judge")
        return
    base, last = samples[len(samples) // 3], samples[-1]
    middle = samples[len(samples) // 3 : 2 * len(samples) // 3 + 1]
    if last.rss_mb - base.rss_mb > rss_growth_mb:
        report.problems.append(f"RSS grew {last.rss_mb - base.rss_mb:.1f} MB after warm-up (bound {rss_growth_mb})")
    if last.fds - base.fds > fd_growth:
        report.problems.append(f"open descriptors grew by {last.fds - base.fds} after warm-up (bound {fd_growth})")
    if last.jobs_dir_mb > max(s.jobs_dir_mb for s in middle) + job_mb:
        report.problems.append(f"the job folder kept growing: {last.jobs_dir_mb} MB at the end")


def run_soak(jobs: int = 200, burst_every: int = 50, burst: int = 20, sample_every: int = 10, frames: int = 3,
             ttl_s: int = 20, rss_growth_mb: float = 60.0, fd_growth: int = 8, timeout_s: float = 120.0,
             checkpoint: Path | None = None, videos_dir: Path | None = None, work: Path | None = None) -> SoakReport:
    checkpoint = checkpoint or Path(os.environ.get("VSDMOT_BASELINE_CHECKPOINT", "") or DEFAULT_CHECKPOINTS["baseline"])
    videos_dir = videos_dir or settings.videos_dir()
    if videos_dir is None or not (videos_dir / SOURCE_CLIP).is_file():
        raise FileNotFoundError(f"{SOURCE_CLIP} not found: set VSDMOT_VIDEOS_DIR to the example clips")
    if work is None:
        with tempfile.TemporaryDirectory(prefix="vsdmot-soak-") as folder:
            return run_soak(jobs, burst_every, burst, sample_every, frames, ttl_s, rss_growth_mb, fd_growth,
                            timeout_s, checkpoint, videos_dir, Path(folder))
    clip = make_clip(videos_dir / SOURCE_CLIP, work / "clip.mp4", frames).read_bytes()
    server = Server(work, workers=1, max_queued=4, max_frames=max(frames, 10), checkpoint=checkpoint,
                    extra_env={"VSDMOT_JOB_TTL_S": str(ttl_s), "VSDMOT_MAX_JOBS_PER_CLIENT": "2"})
    report = SoakReport()
    try:
        server.wait_ready(timeout_s)
        started = time.monotonic()
        report.samples.append(sample(server, work, 0, started))
        for done in range(1, jobs + 1):
            outcome = track_once(server.url, clip, frames, timeout_s, honour_retry_after=True, address="192.0.2.1")
            report.statuses[outcome.status] = report.statuses.get(outcome.status, 0) + 1
            if outcome.status != 200:
                report.problems.append(f"job {done}: {outcome.status} {outcome.error}")
            if burst_every and done % burst_every == 0:
                for o in fire(server.url, clip, burst, frames, timeout_s, honour_retry_after=True):
                    report.statuses[o.status] = report.statuses.get(o.status, 0) + 1
                    if o.status != 200:
                        report.problems.append(f"burst after job {done}: {o.status} {o.error}")
            if done % sample_every == 0 or done == jobs:
                report.samples.append(sample(server, work, done, started))
        job_mb = max((s.jobs_dir_mb for s in report.samples), default=0.0) / max(1, burst + 1)
        judge(report, rss_growth_mb, fd_growth, max(job_mb, 0.5))
    finally:
        server.stop()
    return report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--jobs", type=int, default=200)
    p.add_argument("--burst-every", type=int, default=50)
    p.add_argument("--burst", type=int, default=20)
    p.add_argument("--sample-every", type=int, default=10)
    p.add_argument("--ttl-s", type=int, default=20)
    args = p.parse_args(argv)
    report = run_soak(args.jobs, args.burst_every, args.burst, args.sample_every, ttl_s=args.ttl_s)
    print("| jobs done | s | RSS MB (server + workers) | open fds | job folder MB | Gradio temp MB |")
    print("|---|---|---|---|---|---|")
    for s in report.samples:
        print(f"| {s.jobs_done} | {s.seconds} | {s.rss_mb} | {s.fds} | {s.jobs_dir_mb} | {s.gradio_tmp_mb} |")
    print(f"\nstatuses: {report.statuses}")
    print("levelled off" if report.levelled else "NOT levelled off: " + "; ".join(report.problems[:10]))
    return 0 if report.levelled else 1


if __name__ == "__main__":
    raise SystemExit(main())

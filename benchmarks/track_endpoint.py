"""Wall time of one ``POST /track`` on the full 1394-frame Intel clip, and the server's peak memory.

Starts ``python app.py`` on 127.0.0.1 (the server from ``benchmarks.load``), sends the clip once with
``variant=both`` and prints elapsed seconds, frames, fps and the server's VmHWM (peak resident memory).

    .venv/bin/python -m benchmarks.track_endpoint [--variant both] [--max-frames 1394]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import httpx

from benchmarks.load import RssSampler, Server, rss_mb
from benchmarks.common import machine_line
from model.core import settings
from model.tracking.checkpoint import DEFAULT_CHECKPOINTS

CLIP = "intel-one-by-one-person-detection.mp4"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--variant", default="both")
    p.add_argument("--max-frames", type=int, default=1394)
    args = p.parse_args()
    videos = settings.videos_dir()
    if videos is None or not (videos / CLIP).is_file():
        raise SystemExit(f"{CLIP} not found: set VSDMOT_VIDEOS_DIR")
    with tempfile.TemporaryDirectory(prefix="vsdmot-track-") as folder:
        work = Path(folder)
        vsd = Path(os.environ.get("VSDMOT_VSDMOT_CHECKPOINT") or DEFAULT_CHECKPOINTS["vsd-mot"])
        server = Server(work, workers=1, max_queued=2, max_frames=args.max_frames,
                        checkpoint=Path(os.environ.get("VSDMOT_BASELINE_CHECKPOINT") or DEFAULT_CHECKPOINTS["baseline"]),
                        vsd_checkpoint=vsd if vsd.is_file() else None)
        try:
            server.wait_ready(120)
            idle = rss_mb(server.process.pid)
            sampler = RssSampler(server.process.pid)
            sampler.start()
            start = time.monotonic()
            response = httpx.post(server.url + "/track", files={"video": (CLIP, (videos / CLIP).read_bytes())},
                                  data={"variant": args.variant, "max_frames": str(args.max_frames)}, timeout=3600)
            elapsed = time.monotonic() - start
            sampler.stop()
            body = response.json()
            hwm = rss_mb(server.process.pid, "VmHWM")
        finally:
            server.stop()
    if response.status_code != 200:
        raise SystemExit(f"/track answered {response.status_code}: {body}")
    frames = body["meta"]["frames_processed"]
    print(json.dumps({
        "machine": machine_line(), "clip": CLIP, "variant": args.variant, "ran": sorted(body["tracks"]),
        "unavailable": body.get("unavailable"), "frames": frames, "wall_s": round(elapsed, 1),
        "fps": round(frames / elapsed, 1), "rss_idle_mb": round(idle, 1), "rss_peak_mb": round(hwm, 1),
    }, indent=1))


if __name__ == "__main__":
    main()

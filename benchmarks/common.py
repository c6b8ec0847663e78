"""Shared plumbing for the benchmark scripts: the validation renditions and a results table."""

from __future__ import annotations

import platform
from pathlib import Path

from model.core import settings
from model.data.cache import CacheKey, FrameCache, build_frame_cache
from model.data.clips import VAL_RENDITIONS, VAL_SPAN
from model.evaluation.metrics import TrackMetrics

METRIC_COLUMNS = ("HOTA", "DetA", "AssA", "MOTA", "IDF1", "IDSW")


def validation_caches(detector: object, renditions: list[str] | None = None) -> tuple[Path, dict[str, FrameCache]]:
    """The validation split's cached detector outputs, one per rendition (built on first use)."""
    data = settings.data_dir()
    if data is None:
        raise SystemExit("no data: set VSDMOT_DATA_DIR (or VSDMOT_SHARED_DIR) to the MOTChallenge folder")
    name, first, last = VAL_SPAN
    seq_dir = data / name
    caches = {}
    for label in renditions or list(VAL_RENDITIONS):
        rendition = VAL_RENDITIONS[label]
        preset, seed = rendition if rendition else (None, 0)
        caches[label] = build_frame_cache(seq_dir, CacheKey(name, first, last, preset, seed), detector)
    return seq_dir, caches


def machine_line() -> str:
    import os

    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs, Python {platform.python_version()}"


def format_table(rows: list[tuple[str, str, TrackMetrics, dict[str, float]]], extra: tuple[str, ...] = ()) -> str:
    header = ["tracker", "split", *METRIC_COLUMNS, *extra]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for tracker, split, m, more in rows:
        cells = [tracker, split] + [f"{getattr(m, c):.1f}" if c != "IDSW" else str(int(m.IDSW)) for c in METRIC_COLUMNS]
        cells += [f"{more[e]:.2f}" for e in extra]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)

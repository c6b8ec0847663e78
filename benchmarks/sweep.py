"""HOTA against degradation level on PETS09 val, one line per tracker: the demo's robustness sweep on a
labelled sequence, for the shipped trackers and every ``trackers`` peer on the same YOLOX-Nano boxes.

    python -m benchmarks.sweep [--seeds 0 1 2] [--output docs/sweep-pets09-val.png]

Each degraded level is the mean over its recipe seeds (the bars span their min..max); the clean level
has one rendition. Unit results come from (and go to) the protocol's ResultStore, so the numbers are
the protocol's own units and a re-run only computes what is missing. Prints a Markdown table and
writes the PNG (matplotlib, no display needed).
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics as stats
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from benchmarks.common import machine_line
from benchmarks.protocol import (
    PEERS, ROOT, _build_cache, _cache_folder, _evaluate_checkpoint, _evaluate_peers, peer_identity,
)
from model.core.choices import SWEEP_LEVELS, NO_DEGRADATION, VARIANT_TITLES
from model.core.settings import DEFAULT_CHECKPOINTS
from model.evaluation.protocol import CLEAN, VALIDATION_SETS, Rendition, ResultStore, tracker_identity

PETS_VAL = VALIDATION_SETS[0]
DEFAULT_OUTPUT = ROOT / "docs" / "sweep-pets09-val.png"


def level_renditions(seeds: list[int]) -> dict[str, list[Rendition]]:
    """Per sweep level, its renditions of PETS09 val (clean: one; each preset: one per recipe seed)."""
    return {level: ([Rendition(PETS_VAL, CLEAN, 0)] if level == NO_DEGRADATION
                    else [Rendition(PETS_VAL, level, s) for s in seeds]) for level in SWEEP_LEVELS}


def compute(seeds: list[int], peers: list[str], jobs: int = 2) -> dict[str, dict[str, list[float]]]:
    """tracker -> level -> HOTA of each rendition."""
    from model.tracking.pipeline import load_tracker

    by_level = level_renditions(seeds)
    everything = [r for rs in by_level.values() for r in rs]
    missing = [r for r in everything if not (_cache_folder(r) / "meta.json").is_file()]
    if missing:
        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            for label in pool.map(_build_cache, missing):
                print(f"cached detections: {label}", file=sys.stderr, flush=True)
    store = ResultStore()
    out: dict[str, dict[str, list[float]]] = {}
    for variant in ("baseline", "vsd-mot"):
        tracker, meta = load_tracker(variant, DEFAULT_CHECKPOINTS[variant])
        identity = tracker_identity(meta["sha256"], tracker.runtime)
        todo = [r for r in everything if store.get(identity, r) is None]
        if todo:
            print(f"tracking {variant} on {len(todo)} renditions", file=sys.stderr, flush=True)
            _evaluate_checkpoint(variant, DEFAULT_CHECKPOINTS[variant], todo)
        title = f"{VARIANT_TITLES[variant]} (ours)"
        out[title] = {level: [store.get(identity, r).metrics["HOTA"] for r in rs] for level, rs in by_level.items()}
    for rendition in everything:
        missing = [p for p in peers if store.get(peer_identity(p), rendition) is None]
        if missing:
            print(f"peers on {rendition.label}: {', '.join(missing)}", file=sys.stderr, flush=True)
            _evaluate_peers(rendition, missing)
    for name in peers:
        out[name] = {level: [store.get(peer_identity(name), r).metrics["HOTA"] for r in rs]
                     for level, rs in by_level.items()}
    return out


def table(results: dict[str, dict[str, list[float]]], seeds: list[int]) -> str:
    head = "| tracker | " + " | ".join(SWEEP_LEVELS) + " |"
    lines = [head, "|---|" + "---|" * len(SWEEP_LEVELS)]
    for name, levels in results.items():
        cells = [f"{stats.mean(v):.1f}" + (f" ({min(v):.1f}–{max(v):.1f})" if len(v) > 1 else "") for v in levels.values()]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(f"HOTA on PETS09-S2L1 frames {PETS_VAL.first}–{PETS_VAL.last}; degraded levels: mean (min–max) over "
                 f"recipe seeds {', '.join(map(str, seeds))}; clean: one rendition.")
    return "\n".join(lines)


def plot(results: dict[str, dict[str, list[float]]], output: Path, seeds: list[int]) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.8), dpi=120)
    x = list(range(len(SWEEP_LEVELS)))
    for name, levels in results.items():
        means = [stats.mean(v) for v in levels.values()]
        low = [m - min(v) for m, v in zip(means, levels.values())]
        high = [max(v) - m for m, v in zip(means, levels.values())]
        ours = "(ours)" in name
        ax.errorbar(x, means, yerr=[low, high], marker="o" if ours else ".", capsize=3,
                    linewidth=2.6 if ours else 1.2, linestyle="-" if ours else "--", label=name)
    ax.set_xticks(x, SWEEP_LEVELS)
    ax.set_xlabel("degradation level (model.vsd.degrade presets)")
    ax.set_ylabel("HOTA")
    ax.set_title(f"PETS09 val ({PETS_VAL.first}–{PETS_VAL.last}), YOLOX-Nano boxes; bars: recipe seeds "
                 f"{min(seeds)}–{max(seeds)}", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(output)
    plt.close(fig)
    return output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="recipe seeds per degraded level")
    parser.add_argument("--peers", nargs="*", default=list(PEERS), choices=list(PEERS))
    parser.add_argument("--jobs", type=int, default=2, help="processes for building the detection caches")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="where the PNG goes")
    args = parser.parse_args(argv)
    results = compute(args.seeds, args.peers, args.jobs)
    print(table(results, args.seeds))
    print(f"\nplot: {plot(results, args.output, args.seeds)}")
    print(machine_line())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

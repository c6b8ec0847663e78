"""Named training runs shared by the benchmark scripts (ablations, protocol): one place that says what
each run trains, where it lives (``runs/ablations/<name>-s<seed>/``) and how to (re)start it.

Every run starts from ``assets/baseline.pt`` and trains for the same extra schedule, so differences
between runs come from the method, not from extra epochs. Training is resumable (``last.pt``): a run
that was stopped continues where it was.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path("runs/ablations")
SCHEDULE = ["--epochs", "8", "--lr-drop-epoch", "6", "--clips-per-epoch", "400", "--track-drop", "0.3",
            "--max-interval", "3", "--init", "assets/baseline.pt"]
VSD = ["--variant", "vsd-mot", "--teacher", "effnet-lite0"]

# Ours (issue 12): unlabelled clips of new scenes, pseudo-labelled offline (`vsdmot pseudo-label`, defaults;
# benchmarks/pseudo_label_quality.py --write-clips runs/pseudo): the clips where it found at least one track.
PSEUDO_DIR = Path("runs/pseudo")
PSEUDO_CLIPS = ("intel-preview-classroom", "intel-preview-face-demographics-walking-and-pause",
                "intel-preview-face-demographics-walking", "intel-preview-store-aisle-detection",
                "intel-preview-worker-zone-detection", "mmaction2-two-people-indoor", "mmtracking-night-street-crowd",
                "openpose-paris-street")
PSEUDO = [arg for clip in PSEUDO_CLIPS for arg in ("--extra-sequence", str(PSEUDO_DIR / clip))]

# run name -> training arguments (seed appended per run)
RUNS: dict[str, list[str]] = {
    "baseline-cont": ["--variant", "baseline"],
    # ours (issue 11): the same control, deploying an EMA of its weights (model.training.averaging)
    "baseline-cont-ema": ["--variant", "baseline", "--weight-average", "0.999"],
    # ours (issue 12): the same control with the pseudo-labelled clips beside the labelled spans
    "baseline-cont-ema-pseudo": ["--variant", "baseline", "--weight-average", "0.999", *PSEUDO],
    "plain": [*VSD, "--distill", "plain", "--no-dswr"],
    "dcsd": [*VSD, "--distill", "dcsd", "--no-dswr"],
    "dcsd-dswr": [*VSD, "--distill", "dcsd", "--dswr"],
    "mix-hq": [*VSD, "--lq-per-hq", "0"],
    "mix-1to1": [*VSD, "--lq-per-hq", "1"],
    "mix-lq": [*VSD, "--lq-per-hq", "inf"],
    "alpha-0.2": [*VSD, "--alpha", "0.2"],
    "alpha-0.6": [*VSD, "--alpha", "0.6"],
    # beyond the paper: on degraded frames the teacher embeds the clean original (privileged distillation)
    "clean-teacher": [*VSD, "--teacher-view", "clean"],
    # the paper leaves the student's hidden_dim open; 64 halves the added frame time on a CPU (still +7.4 %)
    "student-h64": [*VSD, "--student-hidden-dim", "64", "--student-heads", "4", "--student-ffn-dim", "128"],
}
def run_dir(name: str, seed: int) -> Path:
    return ROOT / f"{name}-s{seed}"


def is_finished(out: Path) -> bool:
    """All epochs logged, and every checkpoint the run writes is there."""
    log = out / "train_log.json"
    epochs = int(SCHEDULE[SCHEDULE.index("--epochs") + 1])
    if not log.exists() or len(json.loads(log.read_text())["log"]) != epochs:
        return False
    averaged = "--weight-average" in RUNS.get(out.name.rsplit("-s", 1)[0], [])
    return (out / "checkpoint.pt").is_file() and (not averaged or (out / "checkpoint-last.pt").is_file())


def train(name: str, seed: int, threads: int) -> Path:
    out = run_dir(name, seed)
    if is_finished(out):
        return out / "checkpoint.pt"
    cmd = [sys.executable, "-m", "model", "train", *RUNS[name], *SCHEDULE, "--seed", str(seed),
           "--num-threads", str(threads), "--output", str(out)]
    log = out.parent / f"{out.name}.log"  # not with_suffix: "alpha-0.2-s0" has a dot
    out.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as fh:
        subprocess.run(cmd, check=True, stdout=fh, stderr=subprocess.STDOUT)
    return out / "checkpoint.pt"

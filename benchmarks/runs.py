"""Named training runs shared by the benchmark scripts (ablations, protocol): one place that says what
each run trains, where it lives (``runs/ablations/<name>-s<seed>/``) and how to (re)start it.

Every run starts from a pinned host checkpoint and trains for the same extra schedule, so differences
between runs come from the method, not from extra epochs or a different start. Two hosts, each a
shipped ``assets/baseline.pt`` restored from git history by :func:`host_checkpoint`:
``v1`` (sha256 5d6f6939..., the first baseline; issues 4, 11, 12's runs) and ``v2`` (sha256
f1e14a72..., the pseudo-label retrain shipped since f0e9b33; issue 13's Table V runs, which also keep
the pseudo-labelled clips in their data, as that host was trained with them). Training is
resumable (``last.pt``): a run that was stopped continues where it was.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path("runs/ablations")


@dataclass(frozen=True)
class Host:
    """A run's starting checkpoint: ``assets/baseline.pt`` as committed in ``commit``, pinned by sha256 so a
    run can never start from another file by accident."""

    path: Path
    commit: str
    sha256: str


HOSTS: dict[str, Host] = {
    # as shipped from commit 5baa1b8 until the pseudo-label retrain (issue 12)
    "v1": Host(Path("runs/hosts/baseline-v1.pt"), "5baa1b8",
               "5d6f6939183c9159e0ab630ba6ea2006b564c32cfdd6d6ddfaf6964a349b7742"),
    # the pseudo-label retrain, shipped from commit f0e9b33 (issue 12): the host of issue 13
    "v2": Host(Path("runs/hosts/baseline-v2.pt"), "f0e9b33",
               "f1e14a72c67758b25a2f1833ffb16e6b7d9642d278b1b5ad42941e5d4c7aa775"),
}
HOST = HOSTS["v1"].path  # the default host
SCHEDULE = ["--epochs", "8", "--lr-drop-epoch", "6", "--clips-per-epoch", "400", "--track-drop", "0.3",
            "--max-interval", "3"]
VSD = ["--variant", "vsd-mot", "--teacher", "effnet-lite0"]
H64 = ["--student-hidden-dim", "64", "--student-heads", "4", "--student-ffn-dim", "128"]

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
    "student-h64": [*VSD, *H64],
    # Issue 13's Table V on host v2 (every row with the pseudo-labelled clips, like the host's own training;
    # VSD rows with the shipped student size). Region tokens (ours): one teacher token per query's box.
    "v2-control": ["--variant", "baseline", *PSEUDO],
    # Issue 12's recipe lever on host v2 (benchmarks.host_levers): a realesrgan copy of every training
    # sequence beside the medium and severe ones (LQ:HQ 3:1), same schedule, so the same clips per epoch.
    "v2-control-realesrgan": ["--variant", "baseline", *PSEUDO, "--lq-recipes", "medium:11", "severe:12",
                              "realesrgan:13", "--lq-per-hq", "3"],
    # Issue 12's clip lever on host v2: clips of 8 frames instead of 5 (the track queries carried, and
    # back-propagated through, 7 frame steps instead of 4), 250 clips per epoch so the same frames per epoch.
    "v2-control-clip8": ["--variant", "baseline", *PSEUDO, "--clip-len", "8", "--clips-per-epoch", "250"],
    # Issue 12's decoder lever on host v2: track-query anchors moved by the track's velocity (momentum 0.5,
    # model.tracking.motion), in training and at run time alike (the checkpoint stores it).
    "v2-control-motion": ["--variant", "baseline", *PSEUDO, "--track-motion-momentum", "0.5"],
    # Issue 12's recipe-diversity lever on host v2 (2026-12-08): two recipes per preset (seeds 11 and 21 of
    # medium, 12 and 22 of severe) instead of one, the same LQ:HQ 2:1 mix and clips per epoch, so each
    # degraded rendition is drawn half as often.
    "v2-control-recipes2": ["--variant", "baseline", *PSEUDO, "--lq-recipes", "medium:11", "medium:21",
                            "severe:12", "severe:22"],
    "v2-paper": [*VSD, *H64, *PSEUDO],  # the paper's global token, the frame the student sees (= assets/vsd_mot.pt's recipe)
    # Table V's "without DSWR" for the paper row: eqs. 13-14 off (fixed w = 0.5 fusion)
    "v2-paper-nodswr": [*VSD, *H64, *PSEUDO, "--no-dswr"],
    "v2-regions-effnet-clean": [*VSD, *H64, *PSEUDO, "--teacher-tokens", "regions", "--teacher-view", "clean"],
    "v2-regions-reid-clean": ["--variant", "vsd-mot", "--teacher", "reid-0287", *H64, *PSEUDO,
                              "--teacher-tokens", "regions", "--teacher-view", "clean"],
    "v2-regions-reid-degraded": ["--variant", "vsd-mot", "--teacher", "reid-0287", *H64, *PSEUDO,
                                 "--teacher-tokens", "regions", "--teacher-view", "degraded"],
    # Table V's "without DSWR" for the best region row: the same run with eqs. 13-14 off (fixed w = 0.5 fusion)
    "v2-regions-reid-clean-nodswr": ["--variant", "vsd-mot", "--teacher", "reid-0287", *H64, *PSEUDO,
                                     "--teacher-tokens", "regions", "--teacher-view", "clean", "--no-dswr"],
    # eq. 8's tau = 2 bounds the logits of unit vectors to [-0.5, 0.5], so A stays near uniform over a
    # frame's tokens and T_weighted near their mean; a sharp tau lets A pick each query's own token.
    "v2-regions-reid-clean-tau0.1": ["--variant", "vsd-mot", "--teacher", "reid-0287", *H64, *PSEUDO,
                                     "--teacher-tokens", "regions", "--teacher-view", "clean", "--tau", "0.1"],
}
# Runs that start from a host other than v1.
RUN_HOSTS: dict[str, str] = {name: "v2" for name in RUNS if name.startswith("v2-")}
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


def host_checkpoint(host: str = "v1") -> Path:
    """The host's checkpoint, restored from git history (``git show COMMIT:assets/baseline.pt``) when missing."""
    import hashlib

    spec = HOSTS[host]
    if not spec.path.is_file():
        spec.path.parent.mkdir(parents=True, exist_ok=True)
        blob = subprocess.run(["git", "show", f"{spec.commit}:assets/baseline.pt"], check=True,
                              capture_output=True).stdout
        spec.path.write_bytes(blob)
    if hashlib.sha256(spec.path.read_bytes()).hexdigest() != spec.sha256:
        raise SystemExit(f"{spec.path} is not the host checkpoint (sha256 {spec.sha256[:12]}...): delete it to restore it")
    return spec.path


def ensure_pseudo_clips() -> None:
    """Make the pseudo-labelled clips (``vsdmot pseudo-label`` defaults) that are not there yet."""
    from model.core import settings
    from model.data.pseudo_sequence import pseudo_label_source

    videos = settings.videos_dir()
    for clip in PSEUDO_CLIPS:
        if (PSEUDO_DIR / clip / "gt" / "gt.txt").is_file():
            continue
        if videos is None:
            raise SystemExit("no videos: set VSDMOT_VIDEOS_DIR (or VSDMOT_SHARED_DIR) to make the pseudo-labelled clips")
        source = next(p for p in videos.iterdir() if p.stem == clip)
        print(pseudo_label_source(source, PSEUDO_DIR / clip, progress=False), file=sys.stderr)


def train(name: str, seed: int, threads: int) -> Path:
    out = run_dir(name, seed)
    if is_finished(out):
        return out / "checkpoint.pt"
    host = host_checkpoint(RUN_HOSTS.get(name, "v1"))
    if any(arg.startswith(str(PSEUDO_DIR)) for arg in RUNS[name]):
        ensure_pseudo_clips()
    # The run's own arguments after the schedule, so a run may override it (the last occurrence wins).
    cmd = [sys.executable, "-m", "model", "train", *SCHEDULE, *RUNS[name], "--init", str(host), "--seed", str(seed),
           "--num-threads", str(threads), "--output", str(out)]
    log = out.parent / f"{out.name}.log"  # not with_suffix: "alpha-0.2-s0" has a dot
    out.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as fh:
        subprocess.run(cmd, check=True, stdout=fh, stderr=subprocess.STDOUT)
    return out / "checkpoint.pt"

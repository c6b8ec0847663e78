"""Every choice list the project offers, declared once.

The CLI's ``choices=``, the API's form schemas, the UI's dropdowns and the library's checks all read
these tuples, so adding a preset or a variant is a one-line change that cannot leave one entry point
behind. Light on purpose (no heavy imports): the web layer imports it at start-up.
"""

from __future__ import annotations

# Trained trackers the project ships and serves (checkpoints in assets/).
VARIANTS: tuple[str, ...] = ("baseline", "vsd-mot")
VARIANT_TITLES: dict[str, str] = {"baseline": "Baseline", "vsd-mot": "VSD-MOT"}  # how pages and videos name them
# The web demo's "run both on the same detector output".
BOTH = "both"
VARIANT_CHOICES: tuple[str, ...] = (*VARIANTS, BOTH)
# What `train` can build: the two above, plus the paper's Fig. 1(a) teacher-at-inference alternative.
TRAIN_VARIANTS: tuple[str, ...] = (*VARIANTS, "direct")

# Degradation presets of model.vsd.degrade (eq. 17); "none" = the clip as it is.
NO_DEGRADATION = "none"
DEGRADE_PRESETS: tuple[str, ...] = ("mild", "medium", "severe", "realesrgan")
DEGRADE_CHOICES: tuple[str, ...] = (NO_DEGRADATION, *DEGRADE_PRESETS)
# The levels of the demo's robustness sweep, in the order they are plotted: the clean clip, then each preset.
SWEEP_LEVELS: tuple[str, ...] = DEGRADE_CHOICES

# Frozen teachers (model.vsd.teacher) and how training distils from them.
TEACHERS: tuple[str, ...] = ("clip-rn50", "effnet-lite0")
DISTILL_MODES: tuple[str, ...] = ("dcsd", "plain", "none")  # eqs. 4-12 / the plain-MSE ablation / off
# "degraded": the teacher embeds the frame the student sees (the paper). "clean": on a degraded training
# copy it embeds the clean original instead (privileged distillation; ours, not the paper's).
TEACHER_VIEWS: tuple[str, ...] = ("degraded", "clean")
# What one teacher token is (ours, issue 13): "global" = one embedding of the whole frame (the paper's
# T in R^{1 x D}); "regions" = one embedding of each query's box (T in R^{n x D}, model.vsd.regions).
TEACHER_TOKENS: tuple[str, ...] = ("global", "regions")
# Teachers of box regions: the image teachers on crops, and frozen person re-ID networks (ours).
REID_TEACHERS: tuple[str, ...] = ("reid-0287", "reid-0288", "reid-0248", "osnet-x0_25")
REGION_TEACHERS: tuple[str, ...] = (*TEACHERS, *REID_TEACHERS)

# Training sets at the paper's scale that `train --dataset KIND:FOLDER` reads (model.data.benchmark_sets).
DATASET_KINDS: tuple[str, ...] = ("mot17", "mot20", "dancetrack", "crowdhuman")

# Where the tracker and the detector run (model.core.device): CUDA when there is one, unless told otherwise.
DEVICE_AUTO = "auto"
DEVICE_CHOICES: tuple[str, ...] = (DEVICE_AUTO, "cpu", "cuda")

# Degradation seeds are numpy seeds; beyond this they only cost parsing time.
SEED_MAX = 2**32 - 1

"""The evaluation protocol: which sequences, which conditions, how many recipes and seeds, and one
evaluation unit's result (TrackEval metrics + sanity counters), stored so a table re-runs cheaply.

- Validation sets: PETS09-S2L1 501-795 (a training scene, frames never trained on) and
  ``intel-one-by-one`` (a scene never trained on at all). Validation only: nothing here trains.
- Conditions: clean, and the degradation presets ``medium``, ``realesrgan`` (the published
  Real-ESRGAN ranges, the paper's LQ setting) and ``severe``, each drawn by several recipe seeds --
  the same recipes for every tracker, never the seeds of the training copies (``model.data.clips``).
- Profiles: ``full`` (3 recipe seeds, 4 training seeds) for what is reported; ``quick`` (1 recipe,
  2 training seeds) for development, and every table made with it says so.

A *unit* is one (tracker, training seed, validation set, condition, recipe seed) evaluation; its
result is stored under the tracker's identity (checkpoint sha256 + run-time rules, or a peer's name
and package version) and the rendition, so nothing is computed twice.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from model.core import settings
from model.core.types import Tracks
from model.data.cache import CacheKey
from model.data.mot_io import read_gt
from model.evaluation.metrics import evaluate_sequence
from model.evaluation.sanity import SanityCounters, sanity_counters
from model.tracking.runtime import RULES_OFF_BEFORE_2026_12_07

CLEAN = "clean"
DEGRADED_CONDITIONS: tuple[str, ...] = ("medium", "realesrgan", "severe")
CONDITIONS: tuple[str, ...] = (CLEAN, *DEGRADED_CONDITIONS)
METRICS: tuple[str, ...] = ("HOTA", "DetA", "AssA", "IDF1", "MOTA")
RESULT_VERSION = 1  # bump when what a stored unit holds changes


@dataclass(frozen=True)
class ValidationSet:
    """A span of a labelled sequence used only for evaluation."""

    name: str
    sequence: str
    first: int
    last: int


VALIDATION_SETS: tuple[ValidationSet, ...] = (
    ValidationSet("PETS09 val", "PETS09-S2L1", 501, 795),
    ValidationSet("intel-one-by-one", "intel-one-by-one", 1, 1394),
)


@dataclass(frozen=True)
class Profile:
    name: str
    recipe_seeds: tuple[int, ...]
    training_seeds: tuple[int, ...]


PROFILES: dict[str, Profile] = {
    "full": Profile("full", (0, 1, 2), (0, 1, 2, 3)),
    "quick": Profile("quick", (0,), (0, 1)),
}


@dataclass(frozen=True)
class Rendition:
    """One validation set under one condition and recipe (the clean condition has one recipe: seed 0)."""

    set: ValidationSet
    condition: str
    recipe_seed: int

    @property
    def preset(self) -> str | None:
        return None if self.condition == CLEAN else self.condition

    def cache_key(self) -> CacheKey:
        return CacheKey(self.set.sequence, self.set.first, self.set.last, self.preset, self.recipe_seed)

    @property
    def label(self) -> str:
        return f"{self.set.sequence}_{self.set.first}-{self.set.last}_{self.condition}-s{self.recipe_seed}"


def renditions(profile: Profile, sets: tuple[ValidationSet, ...] = VALIDATION_SETS) -> list[Rendition]:
    """Every rendition a profile evaluates, clean first."""
    out = []
    for validation in sets:
        out.append(Rendition(validation, CLEAN, 0))
        out += [Rendition(validation, c, s) for c in DEGRADED_CONDITIONS for s in profile.recipe_seeds]
    return out


@dataclass(frozen=True)
class UnitResult:
    """One unit: TrackEval's metrics (percent) and the sanity counters of the same tracks."""

    metrics: dict[str, float]
    sanity: SanityCounters

    def to_json(self) -> dict:
        return {"version": RESULT_VERSION, "metrics": self.metrics, "sanity": asdict(self.sanity)}

    @classmethod
    def from_json(cls, data: dict) -> UnitResult:
        return cls(dict(data["metrics"]), SanityCounters(**data["sanity"]))


def evaluate_unit(tracks: Mapping[int, Tracks], rendition: Rendition, data_dir: Path) -> UnitResult:
    """Score one rendition's tracks against the ground truth of its frames."""
    validation = rendition.set
    seq_dir = data_dir / validation.sequence
    metrics = evaluate_sequence(seq_dir, dict(tracks), first=validation.first, last=validation.last)
    gt = read_gt(seq_dir, validation.first, validation.last)
    gt_ids = len({int(i) for frame in range(validation.first, validation.last + 1) for i in gt.pedestrians(frame).ids})
    return UnitResult({m: float(getattr(metrics, m)) for m in METRICS}, sanity_counters(tracks, gt_ids))


class ResultStore:
    """Unit results on disk, one JSON file per (tracker identity, rendition)."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or settings.cache_dir() / "protocol"

    def path(self, tracker_id: str, rendition: Rendition) -> Path:
        return self.root / tracker_id / f"{rendition.label}.json"

    def get(self, tracker_id: str, rendition: Rendition) -> UnitResult | None:
        path = self.path(tracker_id, rendition)
        if not path.is_file():
            return None
        data = json.loads(path.read_text())
        return UnitResult.from_json(data) if data.get("version") == RESULT_VERSION else None

    def put(self, tracker_id: str, rendition: Rendition, result: UnitResult) -> None:
        path = self.path(tracker_id, rendition)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(result.to_json()))
        tmp.replace(path)


# RuntimeConfig fields added after results were first stored, each with the value that turns it off:
# a rule that is off leaves earlier identities (stored results) as they were.
RULES_ADDED_LATER: dict[str, object] = {"recover_cosine": None, **RULES_OFF_BEFORE_2026_12_07}


def tracker_identity(checkpoint_sha256: str, runtime: object, switches: object | None = None) -> str:
    """A learned tracker's identity: its weights, the run-time rules and, unless they are the trained
    ones (``None``), the hook switches it was evaluated with."""
    rules_fields = asdict(runtime)  # type: ignore[arg-type]
    for name, off in RULES_ADDED_LATER.items():
        if name in rules_fields and rules_fields[name] == off:
            rules_fields.pop(name)
    rules = hashlib.sha256(json.dumps(rules_fields, sort_keys=True).encode()).hexdigest()[:8]
    identity = f"{checkpoint_sha256[:16]}-{rules}"
    if switches is not None:
        identity += "-" + hashlib.sha256(json.dumps(asdict(switches), sort_keys=True).encode()).hexdigest()[:8]  # type: ignore[arg-type]
    return identity

"""The evaluation protocol: its renditions and seeds, one unit end to end, stored results, and the
tables it prints (paired differences read "within noise" when their interval holds 0)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmarks import protocol as bench
from model.core.types import Tracks
from model.data.clips import HSV_RENDITION, LQ_TRAIN_RENDITIONS
from model.evaluation.protocol import (
    CLEAN, CONDITIONS, PROFILES, VALIDATION_SETS, Rendition, ResultStore, UnitResult, ValidationSet, evaluate_unit,
    renditions, tracker_identity,
)
from model.evaluation.sanity import SanityCounters
from model.tracking.runtime import RuntimeConfig, rules_of_2026_12_07, rules_until_2026_12_07


def test_profiles_cover_both_sets_every_condition_and_avoid_training_seeds() -> None:
    full, quick = renditions(PROFILES["full"]), renditions(PROFILES["quick"])
    assert len(full) == 2 * (1 + 3 * 3) and len(quick) == 2 * (1 + 3)
    assert {r.set.sequence for r in full} == {"PETS09-S2L1", "intel-one-by-one"}
    assert {r.condition for r in full} == set(CONDITIONS)
    assert [r.recipe_seed for r in full if r.condition == CLEAN] == [0, 0]
    training_seeds = {seed for _, seed in (*LQ_TRAIN_RENDITIONS, HSV_RENDITION)}
    assert not training_seeds & {r.recipe_seed for r in full}
    assert len(PROFILES["full"].training_seeds) >= 4 and len(PROFILES["full"].recipe_seeds) >= 3
    assert VALIDATION_SETS[0] == ValidationSet("PETS09 val", "PETS09-S2L1", 501, 795)  # never trained on
    key = Rendition(VALIDATION_SETS[1], "severe", 2).cache_key()
    assert (key.sequence, key.first, key.last, key.preset, key.seed) == ("intel-one-by-one", 1, 1394, "severe", 2)


def _toy_sequence(root: Path) -> Path:
    (root / "gt").mkdir(parents=True)
    rows = [f"{f},{i},{10 * f + 100 * i},0,20,50,1,1,1" for f in range(1, 6) for i in (1, 2)]
    (root / "gt" / "gt.txt").write_text("\n".join(rows) + "\n")
    (root / "seqinfo.ini").write_text(f"[Sequence]\nname={root.name}\nseqLength=5\n")
    return root


def test_one_unit_end_to_end_and_its_storage(tmp_path: Path) -> None:
    _toy_sequence(tmp_path / "toy")
    rendition = Rendition(ValidationSet("toy", "toy", 1, 5), CLEAN, 0)
    perfect = {f: Tracks(xyxy=np.array([[10 * f + 100 * i, 0, 10 * f + 100 * i + 20, 50] for i in (1, 2)], np.float32),
                         scores=np.ones(2), ids=np.array([1, 2])) for f in range(1, 6)}
    result = evaluate_unit(perfect, rendition, tmp_path)
    assert result.metrics["HOTA"] == pytest.approx(100.0) and result.metrics["IDF1"] == pytest.approx(100.0)
    assert result.sanity == SanityCounters(boxes=10, degenerate=0, part_tracks=0, identities=2, gt_identities=2)
    store = ResultStore(tmp_path / "store")
    identity = tracker_identity("ab" * 32, RuntimeConfig())
    assert store.get(identity, rendition) is None
    store.put(identity, rendition, result)
    assert store.get(identity, rendition) == result
    assert tracker_identity("ab" * 32, RuntimeConfig(snap_iou=None)) != identity  # rules are part of it
    # a rule added later changes the identity only when it is on: results stored before it stay valid
    assert tracker_identity("ab" * 32, rules_until_2026_12_07()) == "abababababababab-ef06a622"
    # the snap IoU of then stays pinned in the earlier rule sets when the default moves (0.5 -> 0.4)
    assert rules_until_2026_12_07().snap_iou == rules_of_2026_12_07().snap_iou == 0.5 != RuntimeConfig().snap_iou
    for later in (dict(recover_cosine=0.9), dict(recover_lost=True), dict(recover_velocity_momentum=0.5)):
        assert tracker_identity("ab" * 32, rules_until_2026_12_07(**later)) != "abababababababab-ef06a622", later
    stale = store.path(identity, rendition)
    stale.write_text(stale.read_text().replace('"version": 1', '"version": 0'))
    assert store.get(identity, rendition) is None  # an old result format is recomputed, not read


def _unit(hota: float) -> UnitResult:
    return UnitResult({"HOTA": hota, "DetA": hota, "AssA": hota, "IDF1": hota, "MOTA": hota},
                      SanityCounters(100, 5, 1, 7, 6))


def test_tables_pair_units_and_say_within_noise() -> None:
    table = bench.Table()
    rng = np.random.default_rng(0)
    for recipe in range(3):
        rendition = Rendition(VALIDATION_SETS[0], "medium", recipe)
        for seed in range(4):
            base = 40 + 5 * rng.standard_normal()
            table.add(bench.CONTROL.label, rendition, seed, _unit(base))
            table.add(bench.VSD.label, rendition, seed, _unit(base + 3.0))  # a clean +3 on every unit
            table.add(bench.CONTROL_EMA.label, rendition, seed, _unit(base + rng.standard_normal()))
        table.add("ByteTrack", rendition, None, _unit(50.0))
    text, readme = bench.report(table, PROFILES["full"], ["ByteTrack"], "python -m benchmarks.protocol")
    vsd_line = next(line for line in text.splitlines() if line.startswith("| PETS09 val | medium | +3.0"))
    assert "| 12 | better |" in vsd_line
    ema_line = [line for line in text.splitlines() if line.startswith("| PETS09 val | medium |")][1]
    assert "within noise" in ema_line
    assert "| ByteTrack | medium | 50.0 [50.0, 50.0] |" in text and "5.0 % | 1.0 | 7.0 (6) | 3 |" in text
    assert "50.0 (ByteTrack)" in readme and "QUICK" not in text
    quick_text, _ = bench.report(table, PROFILES["quick"], ["ByteTrack"], "x")
    assert "QUICK PROFILE" in quick_text


def test_seed_spread_is_over_per_seed_means() -> None:
    units = {(seed, recipe): _unit(40.0 + seed + 10 * recipe) for seed in range(4) for recipe in range(2)}
    std, n = bench.seed_spread(units)
    assert n == 4 and std == pytest.approx(np.std([45.0, 46.0, 47.0, 48.0], ddof=1))


@pytest.mark.shared
def test_peers_and_a_checkpoint_on_a_real_rendition(pets_dir: Path, weights_dir: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The workers on 12 real frames, degraded: every peer (frames for BoT-SORT / McByte) and the baseline."""
    monkeypatch.setenv("VSDMOT_CACHE_DIR", str(tmp_path))
    rendition = Rendition(ValidationSet("PETS09 piece", "PETS09-S2L1", 501, 512), "medium", 0)
    bench._build_cache(rendition)
    peers = bench._evaluate_peers(rendition, list(bench.PEERS))
    assert [name for name, _ in peers] == list(bench.PEERS)
    assert all(0.0 <= r.metrics["HOTA"] <= 100.0 and r.sanity.gt_identities for _, r in peers)
    ours = bench._evaluate_checkpoint("baseline", bench.LEARNED[0].shipped, bench.LEARNED[0].runtime, [rendition])
    assert ours[0][1].metrics["HOTA"] > 20.0 and ours[0][1].sanity.boxes > 0
    assert ResultStore().get(bench.peer_identity("ByteTrack"), rendition) == peers[0][1]

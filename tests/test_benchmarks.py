"""The benchmark scripts' own arithmetic (their numbers go into BENCHMARKS.md, so it must be right)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from benchmarks.ablations import TABLES, mean_table
from benchmarks.runs import RUNS, SCHEDULE, is_finished, run_dir


def test_mean_table_reports_mean_and_seed_range() -> None:
    table = mean_table({"control": {"hq": [43.6, 45.9], "lq": [14.7, 14.2]}, "one seed": {"hq": [40.0], "lq": [3.0]}},
                       ["hq", "lq"])
    lines = table.splitlines()
    assert lines[0] == "| row | hq | lq |"
    assert lines[2] == "| control | 44.8 (43.6-45.9) | 14.4 (14.2-14.7) |"  # (43.6+45.9)/2 = 44.75 -> 44.8
    assert lines[3] == "| one seed | 40.0 | 3.0 |"


def test_every_table_row_names_a_defined_run_and_run_dirs_keep_dots() -> None:
    assert {run for _, rows in TABLES.values() for _, run in rows} <= set(RUNS)
    assert run_dir("alpha-0.2", 1).name == "alpha-0.2-s1"


def test_a_run_is_finished_only_with_every_checkpoint_it_writes(tmp_path: Path) -> None:
    import json

    out = tmp_path / "baseline-cont-ema-s0"
    out.mkdir()
    (out / "train_log.json").write_text(json.dumps({"log": [{"epoch": e} for e in range(1, 9)]}))
    (out / "checkpoint.pt").write_bytes(b"x")
    assert not is_finished(out)  # an averaging run also writes its last weights
    (out / "checkpoint-last.pt").write_bytes(b"x")
    assert is_finished(out)
    (out / "train_log.json").write_text(json.dumps({"log": [{"epoch": 1}]}))
    assert not is_finished(out)


def test_region_table_rows_parse_as_training_runs_and_each_no_dswr_twin_turns_only_dswr_off() -> None:
    from benchmarks.region_distillation import DSWR_PAIRS, ROWS
    from model.cli import parse_train_config

    assert {row.run for row in ROWS} <= set(RUNS)
    assert {row.run for pair in DSWR_PAIRS for row in pair} <= {row.run for row in ROWS}
    assert [(a.run, b.run) for a, b in DSWR_PAIRS] == [("v2-paper", "v2-paper-nodswr"),
                                                     ("v2-regions-reid-clean", "v2-regions-reid-clean-nodswr")]
    for with_row, without_row in DSWR_PAIRS:
        with_dswr = parse_train_config(RUNS[with_row.run])
        without = parse_train_config(RUNS[without_row.run])
        assert with_dswr.dswr and not without.dswr
        assert {k: v for k, v in vars(without).items() if k != "dswr"} == {
            k: v for k, v in vars(with_dswr).items() if k != "dswr"}
    paper = parse_train_config(RUNS["v2-paper-nodswr"])
    assert (paper.teacher, paper.teacher_tokens, paper.teacher_view) == ("effnet-lite0", "global", "degraded")
    region = parse_train_config(RUNS["v2-regions-reid-clean-nodswr"])
    assert (region.teacher, region.teacher_tokens, region.teacher_view) == ("reid-0287", "regions", "clean")


def test_pooled_degraded_table_pairs_every_degraded_unit_and_resamples_training_seeds() -> None:
    from benchmarks.protocol import LearnedRow, Table, pooled_degraded_table
    from model.evaluation.protocol import UnitResult
    from model.evaluation.sanity import SanityCounters

    control, row = LearnedRow("control", "baseline", run="c"), LearnedRow("row", "vsd-mot", run="r")
    table = Table()
    counters = SanityCounters(boxes=1, degenerate=0, part_tracks=0, identities=1, gt_identities=1)

    def put(label: str, condition: str, seed: int, recipe: int, hota: float, deta: float) -> None:
        metrics = {"HOTA": hota, "DetA": deta, "AssA": 2 * hota - deta, "IDF1": hota + 1}
        units = table.units.setdefault(label, {}).setdefault("PETS09 val", {}).setdefault(condition, {})
        units[(seed, recipe)] = UnitResult(metrics, counters)

    for seed in range(2):
        for recipe in range(3):
            for condition in ("medium", "realesrgan", "severe"):
                put("control", condition, seed, recipe, 40.0, 50.0)
                # seed 0 gains 1 HOTA on every degraded unit, seed 1 gains 3; DetA moves by half as much
                put("row", condition, seed, recipe, 40.0 + 1 + 2 * seed, 50.0 + 0.5 + seed)
            put("control", "clean", seed, recipe, 0.0, 0.0)  # clean units are not pooled
            put("row", "clean", seed, recipe, 99.0, 99.0)
    lines = pooled_degraded_table(table, (row,), control).splitlines()
    assert lines[0].startswith("| row − reference |") and len(lines) == 4  # header, rule, PETS09 val, both (intel has no units here)
    # mean +2.0 over 18 units; resampling the two seeds gives means 1, 2 or 3: interval [1, 3]
    assert lines[2] == "| row | PETS09 val | +2.0 [+1.0, +3.0] | +1.0 | +3.0 | +2.0 | 18 (2 seeds) | better |"
    assert lines[3].startswith("| row | both | +2.0 [+1.0, +3.0] |")


def test_host_lever_rows_differ_from_the_control_in_their_one_change() -> None:
    from benchmarks.host_levers import ROWS
    from model.cli import parse_train_config

    assert ROWS[0].run == "v2-control" and {row.run for row in ROWS} <= set(RUNS)
    control = vars(parse_train_config(RUNS["v2-control"]))
    lever = vars(parse_train_config(RUNS["v2-control-realesrgan"]))
    changed = {k for k in control if control[k] != lever[k]}
    assert changed == {"lq_recipes", "lq_per_hq"}
    assert lever["lq_recipes"] == (*control["lq_recipes"], ("realesrgan", 13)) and lever["lq_per_hq"] == 3
    # The clip lever overrides the schedule (its arguments come last) and keeps the frames per epoch.
    control = vars(parse_train_config([*SCHEDULE, *RUNS["v2-control"]]))
    clips8 = vars(parse_train_config([*SCHEDULE, *RUNS["v2-control-clip8"]]))
    assert {k for k in control if control[k] != clips8[k]} == {"clip_len", "clips_per_epoch"}
    assert clips8["clip_len"] == 8 and clips8["clip_len"] * clips8["clips_per_epoch"] == 5 * control["clips_per_epoch"]
    motion = vars(parse_train_config([*SCHEDULE, *RUNS["v2-control-motion"]]))
    assert {k for k in control if control[k] != motion[k]} == {"tracker"}
    assert motion["tracker"].track_motion_momentum == 0.5 and control["tracker"].track_motion_momentum is None
    recipes2 = vars(parse_train_config([*SCHEDULE, *RUNS["v2-control-recipes2"]]))
    assert {k for k in control if control[k] != recipes2[k]} == {"lq_recipes"}  # same LQ:HQ mix
    assert recipes2["lq_recipes"] == (("medium", 11), ("medium", 21), ("severe", 12), ("severe", 22))
    assert control["lq_recipes"] == (("medium", 11), ("severe", 12))
    training_levers = [row for row in ROWS if row.run not in ("v2-control", "v2-control-motion", "v2-control-recipes2")]
    assert all(row.runtime == ROWS[0].runtime for row in training_levers), "judged under the control's rules"
    # The motion row runs under today's rules, so it is paired with the control under the same rules.
    from benchmarks.host_levers import PAIRS
    from benchmarks.protocol import V2_CONTROL_MOTION, V2_CONTROL_TAKEOVER
    from model.tracking.runtime import RuntimeConfig

    assert PAIRS[0][:2] == (V2_CONTROL_MOTION, V2_CONTROL_TAKEOVER)
    from model.tracking.runtime import rules_of_2026_12_07

    assert V2_CONTROL_MOTION.runtime == V2_CONTROL_TAKEOVER.runtime == rules_of_2026_12_07()
    # The snap lever differs from its pair in the snap IoU alone, and is today's defaults.
    from benchmarks.protocol import V2_CONTROL_SNAP04

    assert PAIRS[1][:2] == (V2_CONTROL_SNAP04, V2_CONTROL_TAKEOVER)
    assert V2_CONTROL_SNAP04.runtime == RuntimeConfig() == replace(V2_CONTROL_TAKEOVER.runtime, snap_iou=0.4)
    # The recipe lever is judged under the defaults of 2026-12-08, paired with the control under them.
    from benchmarks.protocol import V2_CONTROL_RECIPES2

    assert PAIRS[2][:2] == (V2_CONTROL_RECIPES2, V2_CONTROL_SNAP04)
    assert V2_CONTROL_RECIPES2.runtime == V2_CONTROL_SNAP04.runtime


def test_proposal_recall_matches_one_to_one_at_iou_half() -> None:
    import numpy as np

    from benchmarks.proposal_recall import matched

    gt = np.array([[0, 0, 10, 10], [20, 0, 30, 10]], dtype=float)
    # one proposal on the first person (IoU 0.81), one covering both (IoU < 0.5 with each)
    proposals = np.array([[0, 0, 9, 9], [0, 0, 30, 10]], dtype=float)
    assert matched(gt, proposals) == 1
    # two proposals on the same person: one-to-one, so still one match
    assert matched(gt, np.array([[0, 0, 10, 10], [1, 0, 10, 10]], dtype=float)) == 1
    assert matched(gt, gt) == 2 and matched(gt, np.zeros((0, 4))) == 0 and matched(np.zeros((0, 4)), gt) == 0
    # a box of IoU exactly 0.5 counts (CLEAR's TP threshold is >= 0.5)
    assert matched(np.array([[0, 0, 10, 10]], dtype=float), np.array([[0, 0, 10, 5]], dtype=float)) == 1

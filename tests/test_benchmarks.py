"""The benchmark scripts' own arithmetic (their numbers go into BENCHMARKS.md, so it must be right)."""

from __future__ import annotations

from pathlib import Path

from benchmarks.ablations import TABLES, mean_table
from benchmarks.runs import RUNS, is_finished, run_dir


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


def test_region_table_rows_parse_as_training_runs_and_the_no_dswr_row_turns_only_dswr_off() -> None:
    from benchmarks.region_distillation import ROWS
    from model.cli import parse_train_config

    assert {row.run for row in ROWS} <= set(RUNS)
    with_dswr = parse_train_config(RUNS["v2-regions-reid-clean"])
    without = parse_train_config(RUNS["v2-regions-reid-clean-nodswr"])
    assert with_dswr.dswr and not without.dswr
    assert (without.teacher, without.teacher_tokens, without.teacher_view) == ("reid-0287", "regions", "clean")
    assert {k: v for k, v in vars(without).items() if k != "dswr"} == {
        k: v for k, v in vars(with_dswr).items() if k != "dswr"}

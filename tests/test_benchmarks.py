"""The benchmark scripts' own arithmetic (their numbers go into BENCHMARKS.md, so it must be right)."""

from __future__ import annotations

from benchmarks.ablations import RUNS, TABLES, mean_table, run_dir


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

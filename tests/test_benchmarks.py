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

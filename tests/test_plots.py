"""The demo's figures and page helpers, on hand-made results: disagreement spans, the sweep's lines,
the run history (no duplicates after a reload) and the order of the example clips."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from app.plots import disagreement_spans, frame_figure, sweep_figure
from app.schemas import FrameRecord, SweepLevel, SweepTracker, TrackerScore
from app.ui import FEATURED_EXAMPLES, example_clips, merge_history


def record(frame: int, baseline: int, vsd: int, w: float | None = 0.5) -> FrameRecord:
    return FrameRecord(frame=frame, quality=0.7, clarity=0.6, noise=0.0, contrast=0.8, semantic_weight=w,
                       track_count={"baseline": baseline, "vsd-mot": vsd})


def test_frames_where_the_trackers_see_different_numbers_of_tracks_are_grouped_into_spans() -> None:
    counts = [(2, 2), (2, 3), (1, 3), (2, 2), (4, 3), (4, 4), (0, 1)]
    result = SimpleNamespace(tracks={"baseline": [], "vsd-mot": []},
                             frames=[record(i + 1, b, v) for i, (b, v) in enumerate(counts)])
    assert disagreement_spans(result) == [(2, 3), (5, 5), (7, 7)]
    one = SimpleNamespace(tracks={"baseline": []}, frames=result.frames)
    assert disagreement_spans(one) == []  # one tracker cannot disagree with itself
    figure = frame_figure(result)
    names = [trace.name for trace in figure.data]
    assert "noise (penalty: higher = noisier; 0 = none measured)" in names
    assert "Baseline: tracks" in names and "VSD-MOT: tracks" in names and "trackers disagree (shaded)" in names
    assert len(figure.layout.shapes) == 2 * 3  # each span shaded on both rows
    assert "flat" in figure.layout.annotations[0].text  # Q never moves here: the title says so


def test_the_sweep_figure_draws_agreement_or_accuracy_per_level() -> None:
    score = TrackerScore(HOTA=40.0, DetA=40, AssA=40, MOTA=40, IDF1=40, IDSW=0, gt_ids=3, pred_ids=3)
    levels = [SweepLevel(degrade=level, seed=0, quality_mean=q, semantic_weight_mean=None,
                         trackers={"baseline": SweepTracker(visible_mean=2.0, ids=3, rows=10,
                                                            agreement=None if level == "none" else score, score=None)})
              for level, q in (("none", 0.8), ("medium", 0.6))]
    figure = sweep_figure(levels, labelled=False)
    hota = next(t for t in figure.data if t.name == "Baseline")
    assert list(hota.x) == ["none", "medium"] and list(hota.y) == [100.0, 40.0]  # clean agrees with itself
    assert "not accuracy" in figure.layout.annotations[0].text
    assert [t.name for t in figure.data if t.name == "mean w"] == []  # no DSWR, no w line


def test_the_history_keeps_one_row_per_tracker_per_job() -> None:
    rows = [["abc", "clip.gif", "none", 0, 10, 0.7, 0.4, "baseline", 20, 3, None, 30.0],
            ["abc", "clip.gif", "none", 0, 10, 0.7, 0.4, "vsd-mot", 21, 3, None, 12.0]]
    history = merge_history(None, rows)
    assert merge_history(history, rows) == history  # a reload shows the same job again
    assert len(merge_history(history, [["def", *rows[0][1:]]])) == 3


def test_the_featured_example_comes_first(tmp_path: Path) -> None:
    for name, size in (("tiny.gif", 10), (FEATURED_EXAMPLES[0], 5000), ("notes.txt", 1)):
        (tmp_path / name).write_bytes(b"x" * size)
    assert [Path(p).name for p in example_clips(tmp_path)] == [FEATURED_EXAMPLES[0], "tiny.gif"]

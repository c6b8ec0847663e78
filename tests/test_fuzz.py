"""Property-based tests (hypothesis): the MOTChallenge reader/writer and the frame quality Q.

These are the two places where outside data meets the numbers: the MOT reader parses files from
anywhere, and Q is computed on every decoded frame of every upload. Whatever they are given, they
must either answer in range or raise the documented ValueError, never anything else.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from model.data.mot_io import read_json, read_mot, read_mot_table, rows_to_tracks, tracks_to_rows, write_json, write_mot
from model.vsd.quality import assess_frame
from model.core.types import Tracks

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

coordinate = st.floats(-2000, 4000, allow_nan=False, width=32)
extent = st.floats(0, 2000, allow_nan=False, width=32)


@st.composite
def tracks_by_frame(draw: st.DrawFn) -> dict[int, Tracks]:
    """1-20 frames, each with 0-6 boxes of distinct ids (a tracker never repeats an id in a frame)."""
    frames = draw(st.lists(st.integers(1, 100_000), min_size=1, max_size=20, unique=True))
    out = {}
    for frame in frames:
        ids = draw(st.lists(st.integers(-5, 10**6), max_size=6, unique=True))
        x = np.array([draw(coordinate) for _ in ids], dtype=np.float32)
        y = np.array([draw(coordinate) for _ in ids], dtype=np.float32)
        w = np.array([draw(extent) for _ in ids], dtype=np.float32)
        h = np.array([draw(extent) for _ in ids], dtype=np.float32)
        scores = [draw(st.floats(0, 1, width=32)) for _ in ids]
        out[frame] = Tracks(xyxy=np.stack([x, y, x + w, y + h], axis=1), scores=scores, ids=ids)
    return out


def assert_same_tracks(got: dict[int, Tracks], expected: dict[int, Tracks], atol: float) -> None:
    assert sorted(got) == sorted(f for f, t in expected.items() if len(t))  # empty frames write no rows
    for frame, tracks in got.items():
        order = np.argsort(expected[frame].ids, kind="stable")
        np.testing.assert_array_equal(tracks.ids, expected[frame].ids[order])
        np.testing.assert_allclose(tracks.xyxy, expected[frame].xyxy[order], atol=atol, rtol=0)
        np.testing.assert_allclose(tracks.scores, expected[frame].scores[order], atol=1e-3, rtol=0)


@FAST
@given(tracks=tracks_by_frame())
def test_mot_text_round_trips_to_three_decimals(tmp_path: Path, tracks: dict[int, Tracks]) -> None:
    path = write_mot(tmp_path / "t.txt", tracks)
    # x, y, w, h are each rounded to 1e-3 (error <= 5e-4); x2 = x + w adds two such errors, and
    # float32 spacing at |4000 + 2000| is ~5e-4: 2e-3 covers both.
    assert_same_tracks(read_mot(path), tracks, atol=2e-3)
    for line in path.read_text().splitlines():
        assert len(line.split(",")) == 10 and line.endswith(",-1,-1,-1")


@FAST
@given(tracks=tracks_by_frame())
def test_json_rows_round_trip(tmp_path: Path, tracks: dict[int, Tracks]) -> None:
    assert_same_tracks(rows_to_tracks(tracks_to_rows(tracks)), tracks, atol=2e-3)
    assert_same_tracks(read_json(write_json(tmp_path / "t.json", tracks)), tracks, atol=2e-3)


number_text = st.one_of(
    st.integers(-10, 10**6).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["", " ", "nan", "-inf", "1e309", "0x10", "1,5", "١", "--1", "#"]),
)
line_text = st.lists(number_text, min_size=0, max_size=12).flatmap(
    lambda fields: st.sampled_from([",", ", ", " ", "\t", ",,"]).map(lambda sep: sep.join(fields))
)


@FAST
@given(lines=st.lists(st.one_of(line_text, st.text(max_size=40)), max_size=8))
def test_the_mot_reader_parses_or_names_the_bad_line(tmp_path: Path, lines: list[str]) -> None:
    path = tmp_path / "in.txt"
    path.write_text("\n".join(lines), encoding="utf-8")
    try:
        table = read_mot_table(path)
    except ValueError as exc:
        assert "line" in str(exc) and str(path) in str(exc)  # says where
        return
    values = table.values
    assert values.shape[1] == 10 and np.isfinite(values).all()
    assert (values[:, 0] >= 1).all() and (values[:, 0] == np.round(values[:, 0])).all()
    assert (values[:, 4:6] >= 0).all()
    assert 6 <= table.num_columns <= 10


json_value = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(), st.text(max_size=5)),
    lambda children: st.lists(children, max_size=8),
    max_leaves=20,
)


@FAST
@given(rows=st.lists(json_value, max_size=6))
def test_json_rows_from_anywhere_parse_or_raise_value_error(rows: list) -> None:
    try:
        tracks = rows_to_tracks(rows)
    except ValueError as exc:
        assert str(exc).startswith("row ")
        return
    for frame, t in tracks.items():
        assert frame >= 1 and len(t.ids) == len(t.xyxy) == len(t.scores)


def _in_unit_range(scores: object) -> None:
    for name in ("clarity", "noise", "contrast", "q"):
        value = getattr(scores, name)
        assert math.isfinite(value) and 0.0 <= value <= 1.0, (name, value)


@FAST
@given(frame=arrays(np.uint8, st.tuples(st.integers(3, 48), st.integers(3, 48), st.sampled_from([3]))))
def test_quality_of_any_bgr_frame_is_in_range(frame: np.ndarray) -> None:
    _in_unit_range(assess_frame(frame))


@FAST
@given(frame=arrays(
    st.sampled_from([np.float32, np.float64]),
    st.one_of(st.tuples(st.integers(3, 40), st.integers(3, 40)), st.tuples(st.integers(3, 40), st.integers(3, 40), st.just(1))),
    elements=st.floats(0, 255, width=32),
))
def test_quality_of_any_gray_or_float_frame_is_in_range(frame: np.ndarray) -> None:
    _in_unit_range(assess_frame(frame))


@FAST
@given(frame=arrays(np.uint8, st.tuples(st.integers(1, 2), st.integers(1, 60), st.sampled_from([1, 3]))))
def test_quality_of_a_frame_under_3x3_is_a_clear_value_error(frame: np.ndarray) -> None:
    with pytest.raises(ValueError, match="too small to assess"):
        assess_frame(frame)


@FAST
@given(shape=st.sampled_from([(5, 5, 2), (5, 5, 4), (5,), (2, 3, 4, 5)]))
def test_quality_of_an_array_that_is_no_image_is_a_clear_value_error(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="expected a BGR"):
        assess_frame(np.zeros(shape, np.uint8))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_quality_of_a_non_finite_frame_is_refused(bad: float) -> None:
    frame = np.full((8, 8), 100.0, np.float32)
    frame[3, 3] = bad
    with pytest.raises(ValueError):
        assess_frame(frame)

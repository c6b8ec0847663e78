"""MOTChallenge text files, their JSON twin, and ground-truth reading.

MOTChallenge stores one box per line: ``frame,id,x,y,w,h,conf,a,b,c`` (1-based frames, top-left
corner plus size). The last three columns mean different things per benchmark: MOT15 puts world
coordinates (or -1) there, MOT16/17/20 put ``class,visibility`` in columns 8-9. Everything that
reads or writes these files goes through this module so the tracker, the evaluator and the API
agree on one parser, one set of error messages and one rule for which ground-truth rows count.
"""

from __future__ import annotations

import configparser
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model.core.types import Tracks, xywh_to_xyxy

MAX_COLUMNS = 10
MIN_COLUMNS = 6
ABSENT = -1.0  # what MOTChallenge writes in a column that carries no information

BENCHMARKS = ("MOT15", "MOT16", "MOT17", "MOT20")
PEDESTRIAN_CLASS = 1
# Classes whose matched predictions are neither rewarded nor punished (TrackEval's MotChallenge2DBox).
DISTRACTOR_CLASSES: dict[str, tuple[int, ...]] = {
    "MOT15": (),
    "MOT16": (2, 7, 8, 12),  # person_on_vehicle, static_person, distractor, reflection
    "MOT17": (2, 7, 8, 12),
    "MOT20": (2, 6, 7, 8, 12),  # MOT20 adds non_mot_vehicle
}
NUM_MOT_CLASSES = 13

JSON_COLUMNS = ["frame", "id", "x", "y", "w", "h", "score"]

_FIELD_SEPARATOR = re.compile(r"\s*,\s*|\s+")


# --------------------------------------------------------------------------------------------
# The raw table


@dataclass
class MotTable:
    """The rows of a MOTChallenge text file, parsed and checked but not interpreted.

    Kept in float64 so a rewrite (a frame span, a temp copy for TrackEval) reproduces the numbers
    in the file exactly.

    Attributes:
        values: (R, 10) float64 ``frame, id, x, y, w, h, conf, c8, c9, c10``; absent columns hold -1.
        num_columns: width of the widest row in the source (6..10), so rewrites keep the layout.
    """

    values: np.ndarray
    num_columns: int = MAX_COLUMNS

    def __post_init__(self) -> None:
        self.values = np.asarray(self.values, dtype=np.float64).reshape(-1, MAX_COLUMNS)

    def __len__(self) -> int:
        return len(self.values)

    @property
    def frames(self) -> np.ndarray:
        """(R,) int64 1-based frame numbers."""
        return self.values[:, 0].astype(np.int64)

    @property
    def ids(self) -> np.ndarray:
        """(R,) int64 identities."""
        return self.values[:, 1].astype(np.int64)

    @property
    def last_frame(self) -> int:
        return int(self.frames.max()) if len(self) else 0

    def span(self, first: int, last: int, renumber: bool = False) -> MotTable:
        """Rows with ``first <= frame <= last``; ``renumber`` shifts them so ``first`` becomes frame 1."""
        keep = (self.frames >= first) & (self.frames <= last)
        values = self.values[keep].copy()
        if renumber:
            values[:, 0] -= first - 1
        return MotTable(values, self.num_columns)

    def to_tracks(self) -> dict[int, Tracks]:
        """Group rows per frame; ``scores`` is the conf column as written (-1 means 'not given')."""
        out: dict[int, Tracks] = {}
        for frame in np.unique(self.frames):
            rows = self.values[self.frames == frame]
            out[int(frame)] = Tracks(xyxy=xywh_to_xyxy(rows[:, 2:6]), scores=rows[:, 6], ids=rows[:, 1])
        return out

    @classmethod
    def from_tracks(cls, tracks_by_frame: dict[int, Tracks]) -> MotTable:
        """Rows sorted by frame then id, with -1 in the three trailing columns."""
        blocks = []
        for frame in sorted(tracks_by_frame):
            tracks = tracks_by_frame[frame]
            if not isinstance(tracks, Tracks):
                kind = type(tracks).__name__
                raise ValueError(f"frame {frame}: expected Tracks (boxes with ids), got {kind}")
            if int(frame) < 1:
                raise ValueError(f"frame numbers are 1-based, got frame {frame}")
            order = np.argsort(tracks.ids, kind="stable")
            block = np.full((len(tracks), MAX_COLUMNS), ABSENT)
            block[:, 0] = int(frame)
            block[:, 1] = tracks.ids[order]
            block[:, 2:6] = _float64_xywh(tracks.xyxy[order])
            block[:, 6] = tracks.scores[order]
            blocks.append(block)
        values = np.concatenate(blocks) if blocks else np.zeros((0, MAX_COLUMNS))
        return cls(values, MAX_COLUMNS)

    def write(self, path: str | Path, decimals: int | None = None) -> Path:
        """Write as comma-separated text; ``decimals=None`` writes each float's shortest exact form."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = []
        for row in self.values:
            fields = [str(int(row[0])), str(int(row[1]))]
            fields += [_format_number(v, decimals) for v in row[2 : self.num_columns]]
            lines.append(",".join(fields))
        path.write_text("\n".join(lines) + ("\n" if lines else ""))
        return path


def _float64_xywh(xyxy: np.ndarray) -> np.ndarray:
    xyxy = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
    return np.concatenate([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]], axis=1)


def _format_number(value: float, decimals: int | None) -> str:
    if decimals is None:
        return np.format_float_positional(value, unique=True, trim="-")
    return np.format_float_positional(round(float(value), decimals), unique=True, trim="-")


def read_mot_table(path: str | Path) -> MotTable:
    """Parse a MOTChallenge text file, tolerating blank lines, '#' comments and trailing commas.

    Raises FileNotFoundError for a missing file and ValueError naming the line for a malformed one.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no MOTChallenge file at {path}: check the path")
    rows: list[list[float]] = []
    widest = MIN_COLUMNS
    with path.open() as handle:
        for line_number, line in enumerate(handle, start=1):
            values = _parse_line(line, line_number, path)
            if values is None:
                continue
            widest = max(widest, len(values))
            rows.append(values + [ABSENT] * (MAX_COLUMNS - len(values)))
    return MotTable(np.array(rows, dtype=np.float64).reshape(-1, MAX_COLUMNS), widest)


def _parse_line(line: str, line_number: int, path: Path) -> list[float] | None:
    text = line.strip().rstrip(",").strip()
    if not text or text.startswith("#"):
        return None
    where = f"{path}, line {line_number}"
    fields = _FIELD_SEPARATOR.split(text)
    if not MIN_COLUMNS <= len(fields) <= MAX_COLUMNS:
        raise ValueError(
            f"{where}: expected 6 to 10 comma-separated values "
            f"(frame,id,x,y,w,h[,conf,...]), found {len(fields)}: {text!r}"
        )
    values = []
    for field in fields:
        try:
            value = float(field)
        except ValueError:
            raise ValueError(f"{where}: {field!r} is not a number") from None
        if not math.isfinite(value):
            raise ValueError(f"{where}: {field!r} is not a finite number")
        values.append(value)
    frame, identity, width, height = values[0], values[1], values[4], values[5]
    if frame != int(frame) or frame < 1:
        raise ValueError(f"{where}: frame must be a whole number >= 1 (frames are 1-based), got {fields[0]}")
    if identity != int(identity):
        raise ValueError(f"{where}: id must be a whole number, got {fields[1]}")
    if width < 0 or height < 0:
        raise ValueError(f"{where}: box width and height must be >= 0, got w={fields[4]} h={fields[5]}")
    return values


# --------------------------------------------------------------------------------------------
# Tracker output: text, rows and JSON


def write_mot(path: str | Path, tracks_by_frame: dict[int, Tracks], decimals: int = 3) -> Path:
    """Write tracker output as ``frame,id,x,y,w,h,conf,-1,-1,-1`` (what MOTChallenge servers accept)."""
    return MotTable.from_tracks(tracks_by_frame).write(path, decimals)


def read_mot(path: str | Path) -> dict[int, Tracks]:
    """Read a MOTChallenge file into per-frame Tracks (frames with no rows are absent)."""
    return read_mot_table(path).to_tracks()


def tracks_to_rows(tracks_by_frame: dict[int, Tracks], decimals: int = 3) -> list[list]:
    """Rows ``[frame, id, x, y, w, h, score]`` of plain ints/floats: the API's JSON shape."""
    table = MotTable.from_tracks(tracks_by_frame)
    return [
        [int(row[0]), int(row[1])] + [round(float(v), decimals) for v in row[2:7]]
        for row in table.values
    ]


def rows_to_tracks(rows: list[list]) -> dict[int, Tracks]:
    """Inverse of :func:`tracks_to_rows`; a bad row raises ValueError naming its index."""
    values = np.full((len(rows), MAX_COLUMNS), ABSENT)
    for index, row in enumerate(rows):
        if not isinstance(row, (list, tuple)) or len(row) != len(JSON_COLUMNS):
            raise ValueError(f"row {index}: expected a list of 7 numbers {JSON_COLUMNS}, got {row!r}")
        try:
            numbers = [float(v) for v in row]
        except (TypeError, ValueError):
            raise ValueError(f"row {index}: expected numbers {JSON_COLUMNS}, got {row!r}") from None
        if numbers[0] != int(numbers[0]) or numbers[0] < 1 or numbers[1] != int(numbers[1]):
            raise ValueError(f"row {index}: frame (>= 1) and id must be whole numbers, got {row!r}")
        values[index, :7] = numbers
    return MotTable(values).to_tracks()


def write_json(path: str | Path, tracks_by_frame: dict[int, Tracks], decimals: int = 3) -> Path:
    """Write ``{"columns": [...], "rows": [[frame, id, x, y, w, h, score], ...]}``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"columns": JSON_COLUMNS, "rows": tracks_to_rows(tracks_by_frame, decimals)}
    path.write_text(json.dumps(payload))
    return path


def read_json(path: str | Path) -> dict[int, Tracks]:
    """Read what :func:`write_json` wrote (a bare list of rows is accepted too)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no tracks JSON at {path}: check the path")
    try:
        payload = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON: {exc}") from None
    rows = payload.get("rows") if isinstance(payload, dict) else payload
    if not isinstance(rows, list):
        raise ValueError(f"{path}: expected a JSON object with a 'rows' list, or a list of rows")
    return rows_to_tracks(rows)


def read_tracks(path: str | Path) -> dict[int, Tracks]:
    """Tracker output from either form, chosen by suffix (``.json`` or MOTChallenge text)."""
    return read_json(path) if Path(path).suffix.lower() == ".json" else read_mot(path)


# --------------------------------------------------------------------------------------------
# Sequence folders and ground truth


def find_gt_file(seq_dir: str | Path) -> Path:
    """``<seq>/gt/gt.txt`` (MOTChallenge layout) or ``<seq>/gt.txt`` (flat, as py-motmetrics' data)."""
    seq_dir = Path(seq_dir)
    if not seq_dir.is_dir():
        raise FileNotFoundError(f"no sequence folder at {seq_dir}: pass a MOTChallenge sequence directory")
    for candidate in (seq_dir / "gt" / "gt.txt", seq_dir / "gt.txt"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"no ground truth in {seq_dir}: expected gt/gt.txt (MOTChallenge layout) or gt.txt"
    )


def read_seqinfo(seq_dir: str | Path) -> dict[str, str]:
    """The ``[Sequence]`` section of ``seqinfo.ini`` (keys as written), or {} when there is none."""
    ini = Path(seq_dir) / "seqinfo.ini"
    if not ini.is_file():
        return {}
    parser = configparser.ConfigParser()
    parser.optionxform = str  # keep 'seqLength', not 'seqlength'
    parser.read(ini)
    if "Sequence" not in parser:
        raise ValueError(f"{ini} has no [Sequence] section: it is not a MOTChallenge seqinfo.ini")
    return dict(parser["Sequence"])


def sequence_length(seq_dir: str | Path, gt: MotTable | None = None) -> int:
    """Frames in the sequence: ``seqLength`` from seqinfo.ini, else the last ground-truth frame."""
    info = read_seqinfo(seq_dir)
    if "seqLength" in info:
        return int(info["seqLength"])
    gt = gt if gt is not None else read_mot_table(find_gt_file(seq_dir))
    return gt.last_frame


def detect_benchmark(gt: MotTable, sequence_name: str = "") -> str:
    """MOT17 (or MOT20 by name) when columns 8-9 are a MOT class id and a visibility, else MOT15.

    MOT15 files carry -1 or world coordinates there (PETS09, TUD), which are not whole numbers
    in 1..13 with a visibility in [0, 1] on every row.
    """
    if len(gt) and gt.num_columns >= 9:
        classes, visibility = gt.values[:, 7], gt.values[:, 8]
        is_class = (classes == np.round(classes)) & (classes >= 1) & (classes <= NUM_MOT_CLASSES)
        is_visibility = (visibility >= 0) & (visibility <= 1)
        if bool(np.all(is_class & is_visibility)):
            return "MOT20" if sequence_name.upper().startswith("MOT20") else "MOT17"
    return "MOT15"


def resolve_benchmark(benchmark: str, gt: MotTable, sequence_name: str = "") -> str:
    """Turn 'auto' into a concrete benchmark and reject unknown names with the valid choices."""
    if benchmark == "auto":
        return detect_benchmark(gt, sequence_name)
    if benchmark.upper() not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {benchmark!r}: use one of {', '.join(BENCHMARKS)} or 'auto'")
    return benchmark.upper()


@dataclass
class GroundTruth:
    """Ground truth of a frame span, per frame (original frame numbers, every frame present).

    Attributes:
        name: sequence name (seqinfo.ini, else the folder name).
        benchmark: "MOT15", "MOT16", "MOT17" or "MOT20": decides which rows count.
        first, last: the inclusive 1-based frame span read.
        boxes: frame -> Tracks of every row (scores = the conf column, 1 or 0 in MOTChallenge gt).
        classes: frame -> (N,) int64 class column (-1 where the file has none, as in MOT15).
        visibility: frame -> (N,) float64 visibility column (-1 where absent).
        evaluated: frame -> (N,) bool, rows a tracker is scored on: conf marked non-zero (TrackEval
            truncates conf to int) and, except for MOT15, class 1 (pedestrian).
        distractor: frame -> (N,) bool, rows whose matched predictions are dropped, not counted
            (MOT16/17/20 only).
    """

    name: str
    benchmark: str
    first: int
    last: int
    boxes: dict[int, Tracks]
    classes: dict[int, np.ndarray]
    visibility: dict[int, np.ndarray]
    evaluated: dict[int, np.ndarray]
    distractor: dict[int, np.ndarray]

    @property
    def num_frames(self) -> int:
        return self.last - self.first + 1

    def pedestrians(self, frame: int) -> Tracks:
        """The boxes a tracker should output in ``frame`` for a perfect score."""
        return self.boxes[frame][self.evaluated[frame]]

    @property
    def ids(self) -> np.ndarray:
        """(K,) int64 sorted identities that are evaluated somewhere in the span."""
        found = [self.boxes[f].ids[self.evaluated[f]] for f in self.boxes]
        return np.unique(np.concatenate(found)) if found else np.zeros(0, dtype=np.int64)


def read_gt(
    seq_dir: str | Path, first: int = 1, last: int | None = None, benchmark: str = "auto"
) -> GroundTruth:
    """Read a sequence's ground truth for frames ``first..last`` (inclusive; ``last=None``: to the end)."""
    gt_table = read_mot_table(find_gt_file(seq_dir))
    info = read_seqinfo(seq_dir)
    name = info.get("name", Path(seq_dir).resolve().name)
    first, last = check_span(first, last, sequence_length(seq_dir, gt_table))
    resolved = resolve_benchmark(benchmark, gt_table, name)
    rows = gt_table.span(first, last).values
    frames = rows[:, 0].astype(np.int64)
    is_marked = rows[:, 6].astype(np.int64) != 0
    classes = rows[:, 7].astype(np.int64) if resolved != "MOT15" else np.full(len(rows), -1, dtype=np.int64)
    is_evaluated = is_marked if resolved == "MOT15" else is_marked & (classes == PEDESTRIAN_CLASS)
    is_distractor = np.isin(classes, DISTRACTOR_CLASSES[resolved])
    visibility = rows[:, 8] if resolved != "MOT15" else np.full(len(rows), ABSENT)
    result = GroundTruth(name, resolved, first, last, {}, {}, {}, {}, {})
    for frame in range(first, last + 1):
        here = frames == frame
        block = rows[here]
        result.boxes[frame] = Tracks(xyxy=xywh_to_xyxy(block[:, 2:6]), scores=block[:, 6], ids=block[:, 1])
        result.classes[frame] = classes[here]
        result.visibility[frame] = visibility[here]
        result.evaluated[frame] = is_evaluated[here]
        result.distractor[frame] = is_distractor[here]
    return result


def check_span(first: int, last: int | None, length: int) -> tuple[int, int]:
    """Validate a 1-based inclusive span against a sequence length; ``last=None`` means the end."""
    last = length if last is None else int(last)
    first = int(first)
    if first < 1:
        raise ValueError(f"first frame must be >= 1 (frames are 1-based), got {first}")
    if last < first:
        raise ValueError(f"last frame ({last}) is before first frame ({first}): pick a non-empty span")
    if length and last > length:
        raise ValueError(f"last frame {last} is past the end of the sequence ({length} frames)")
    return first, last

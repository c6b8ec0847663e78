"""Public training sets at the paper's scale, read as lists of MOTChallenge sequence folders.

``vsdmot train --dataset KIND:ROOT`` expands to these folders, each trained whole beside (or, with
``--no-spans``, instead of) the project's TUD/PETS spans, with the same clean + degraded renditions
(the paper's LQ copies are made by eq. 17 at cache time, never stored). Layouts, as the sets ship:

- ``mot17``: ``ROOT/train/MOT17-02-FRCNN/{img1,gt/gt.txt,seqinfo.ini}``; MOT17 ships every sequence
  three times (DPM, FRCNN, SDP public detections) over the same frames and ground truth, and only
  one copy is kept (FRCNN where present) -- our proposals come from YOLOX, not from ``det/``.
- ``mot20``: ``ROOT/train/MOT20-01/...``, one copy each.
- ``dancetrack``: ``ROOT/train/dancetrack0001/...`` (its ``val``/``test`` splits are never read).
- ``crowdhuman``: a folder of one-image sequences written by ``vsdmot convert-crowdhuman``
  (:mod:`model.data.crowdhuman`); a clip of a one-image sequence is always MOTRv2's pseudo-clip (the
  image shifted frame by frame, :mod:`model.training.objective`).

``ROOT`` may also be the ``train`` folder itself. Ground truth rows count as in evaluation
(:func:`model.data.mot_io.read_gt`: MOT17/MOT20/DanceTrack pedestrians, class 1, marked).
"""

from __future__ import annotations

import re
from pathlib import Path

from model.core.choices import DATASET_KINDS

# MOT17's three detector copies of one sequence: "MOT17-02-FRCNN" (and "-mini" cuts of them, as in ../shared).
_MOT17_COPY = re.compile(r"^(?P<sequence>.+?)-(?P<detector>DPM|FRCNN|SDP)(?P<cut>-.+)?$")
_PREFERRED_COPY = "FRCNN"
_NAME_PREFIX = {"mot17": "mot17-", "mot20": "mot20-", "dancetrack": "dancetrack"}


def parse_dataset_spec(spec: str) -> tuple[str, Path]:
    """``"mot17:/data/MOT17"`` -> ``("mot17", Path("/data/MOT17"))``; the kind must be one of DATASET_KINDS."""
    kind, sep, root = spec.partition(":")
    kind = kind.strip().lower()
    if not sep or not root or kind not in DATASET_KINDS:
        raise ValueError(f"--dataset takes KIND:FOLDER with KIND one of {', '.join(DATASET_KINDS)}, got {spec!r}")
    return kind, Path(root).expanduser()


def dataset_sequences(kind: str, root: str | Path) -> tuple[Path, ...]:
    """The sequence folders of one training set, sorted by name (one MOT17 copy per sequence)."""
    if kind not in DATASET_KINDS:
        raise ValueError(f"dataset kind must be one of {', '.join(DATASET_KINDS)}, got {kind!r}")
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{kind} folder {root} does not exist")
    split = root / "train" if (root / "train").is_dir() and kind != "crowdhuman" else root
    folders = sorted(p for p in split.iterdir() if _is_sequence(p))
    if kind in _NAME_PREFIX:  # a folder of mixed sequences (like ../shared/data/mot) gives only this set's
        folders = [p for p in folders if p.name.lower().startswith(_NAME_PREFIX[kind])]
    if kind == "mot17":
        folders = _one_copy_each(folders)
    if not folders:
        raise FileNotFoundError(f"no {kind} sequences (folders with img1/ and gt/gt.txt) under {split}")
    return tuple(folders)


def _is_sequence(folder: Path) -> bool:
    return folder.is_dir() and (folder / "img1").is_dir() and (folder / "gt" / "gt.txt").is_file()


def _one_copy_each(folders: list[Path]) -> list[Path]:
    """Keep one of MOT17's detector copies per sequence: FRCNN if there, else the first by name."""
    chosen: dict[str, Path] = {}
    for folder in folders:
        match = _MOT17_COPY.match(folder.name)
        key = f"{match['sequence']}{match['cut'] or ''}" if match else folder.name
        best = chosen.get(key)
        if best is None or (match and match["detector"] == _PREFERRED_COPY and _PREFERRED_COPY not in best.name):
            chosen[key] = folder
    return sorted(chosen.values())

"""A labelled clip uploaded as a zip of one MOTChallenge sequence: checked, then unpacked for scoring.

Why so many checks: the archive comes from a stranger, and a zip can hold paths that escape the
folder (``../``, absolute, links), millions of members, or a few kilobytes that inflate to gigabytes.
Everything is checked from the archive's directory before one byte is written; then only the
members a sequence needs (``img1/`` frames, ``gt/gt.txt``, ``seqinfo.ini``) are unpacked, each
frame is decoded once, and the ground truth must belong to those frames (no frame past the last
image, no box wholly outside them, sizes as ``seqinfo.ini`` says) -- so a mismatch is refused here,
with the reason, not turned into a meaningless score after tracking.
"""

from __future__ import annotations

import configparser
import re
import shutil
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import cv2
import numpy as np

from app.config import LABELLED_SUFFIXES
from app.errors import AppError, UnsupportedFileError
from model.data.mot_io import read_mot_table
from model.data.video import check_frame_size

LABELLED_SUFFIX = LABELLED_SUFFIXES[0]
FRAME_SUFFIXES = (".jpg", ".jpeg", ".png")
EXTRA_MEMBERS = 64  # members beyond one per frame (det/, notes, folders) an archive may hold
UNPACKED_FACTOR = 4  # unpacked bytes allowed per byte of the upload limit (frames are compressed already)
MAX_RATIO = 200  # a member that inflates more than this is a zip bomb, not a JPEG
IGNORED = re.compile(r"(^|/)(__MACOSX/|\.DS_Store$|Thumbs\.db$)")
LAYOUT = "img1/ (numbered .jpg or .png frames), gt/gt.txt and, optionally, seqinfo.ini"


class BadLabelledClipError(AppError):
    """A zip that is not one usable MOTChallenge sequence (the detail says what is wrong)."""

    status, code = 422, "bad_labelled_clip"


@dataclass(frozen=True)
class LabelledLimits:
    max_frames: int
    max_frame_pixels: int
    max_unpacked_bytes: int


def unpack_labelled_clip(archive: Path, target: Path, limits: LabelledLimits, shown_name: str) -> Path:
    """Check ``archive`` and unpack its sequence into ``target`` (created); returns ``target``.

    Raises UnsupportedFileError (415) for a file that is not a zip, BadLabelledClipError (422) for a
    zip that is not one sequence within the limits, or whose ground truth does not fit its frames.
    """
    if not zipfile.is_zipfile(archive):
        raise UnsupportedFileError(f"{shown_name} is not a zip archive: a labelled clip is a zip of {LAYOUT}")
    try:
        with zipfile.ZipFile(archive) as bundle:
            members = _checked_members(bundle, limits, shown_name)
            root = _sequence_root(members, shown_name)
            frames, gt, ini = _sequence_members(members, root, limits, shown_name)
            target.mkdir(parents=True)
            (target / "img1").mkdir()
            (target / "gt").mkdir()
            for number, member in enumerate(frames, start=1):
                _extract(bundle, member, target / "img1" / f"{number:06d}{PurePosixPath(member.filename).suffix.lower()}")
            _extract(bundle, gt, target / "gt" / "gt.txt")
            if ini is not None:
                _extract(bundle, ini, target / "seqinfo.ini")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError, EOFError) as exc:
        shutil.rmtree(target, ignore_errors=True)
        raise BadLabelledClipError(f"{shown_name} cannot be unpacked ({exc}): zip it again without encryption") from None
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    try:
        check_sequence(target, limits, shown_name)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    return target


def check_sequence(folder: Path, limits: LabelledLimits, shown_name: str) -> None:
    """Every frame decodes at one size; seqinfo.ini (written when absent) and gt.txt agree with the frames."""
    images = sorted((folder / "img1").iterdir())
    size = None
    for index, path in enumerate(images, start=1):
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise BadLabelledClipError(f"{shown_name}: frame {index} of img1/ cannot be decoded as an image")
        if size is None:
            size = (image.shape[1], image.shape[0])
            check_frame_size(shown_name, *size, limits.max_frame_pixels)
        elif (image.shape[1], image.shape[0]) != size:
            raise BadLabelledClipError(
                f"{shown_name}: frame {index} is {image.shape[1]}x{image.shape[0]} but frame 1 is {size[0]}x{size[1]}: "
                "every frame of a sequence must have the same size")
    width, height = size
    info = _read_ini(folder / "seqinfo.ini", shown_name)
    declared = {key: info.get(key) for key in ("seqLength", "imWidth", "imHeight")}
    actual = {"seqLength": len(images), "imWidth": width, "imHeight": height}
    for key, value in declared.items():
        if value is not None and _whole(value, key, shown_name) != actual[key]:
            raise BadLabelledClipError(
                f"{shown_name}: seqinfo.ini says {key}={value} but img1/ holds {len(images)} frames of "
                f"{width}x{height}: fix seqinfo.ini or the frames")
    if not (folder / "seqinfo.ini").is_file():
        (folder / "seqinfo.ini").write_text(
            f"[Sequence]\nname={_safe_name(shown_name)}\nimDir=img1\nframeRate=25\nseqLength={len(images)}\n"
            f"imWidth={width}\nimHeight={height}\nimExt={images[0].suffix}\n")
    try:
        gt = read_mot_table(folder / "gt" / "gt.txt")
    except ValueError as exc:
        raise BadLabelledClipError(f"{shown_name}: gt/gt.txt is not MOTChallenge text: "
                                   f"{str(exc).replace(str(folder) + '/', '')}") from None
    if not len(gt):
        raise BadLabelledClipError(f"{shown_name}: gt/gt.txt has no rows: there is nothing to score against")
    if gt.last_frame > len(images) or gt.frames.min() < 1:
        raise BadLabelledClipError(
            f"{shown_name}: gt/gt.txt has rows for frames {gt.frames.min()}..{gt.last_frame} but img1/ holds frames "
            f"1..{len(images)}: the ground truth belongs to another clip, or frames are missing")
    x, y, w, h = (gt.values[:, k] for k in (2, 3, 4, 5))
    outside = (x >= width) | (y >= height) | (x + w <= 0) | (y + h <= 0) | (w <= 0) | (h <= 0)
    if outside.any():
        row = int(outside.argmax())
        raise BadLabelledClipError(
            f"{shown_name}: gt/gt.txt holds {int(outside.sum())} boxes that are empty or wholly outside the "
            f"{width}x{height} frames (the first at frame {int(gt.frames[row])}): the ground truth belongs to another clip")


def _checked_members(bundle: zipfile.ZipFile, limits: LabelledLimits, shown_name: str) -> list[zipfile.ZipInfo]:
    members = bundle.infolist()
    allowed = limits.max_frames + EXTRA_MEMBERS
    if len(members) > allowed:
        raise BadLabelledClipError(f"{shown_name} holds {len(members)} members, more than the {allowed} a "
                                   f"{limits.max_frames}-frame sequence may have: send one sequence, at most "
                                   f"{limits.max_frames} frames")
    unpacked = sum(m.file_size for m in members)
    if unpacked > limits.max_unpacked_bytes:
        raise BadLabelledClipError(f"{shown_name} unpacks to {unpacked / 2**20:.0f} MB, more than the "
                                   f"{limits.max_unpacked_bytes / 2**20:.0f} MB allowed")
    kept, seen = [], set()
    for member in members:
        name = member.filename
        if name in seen:  # which of the two counts differs between readers: neither is trusted
            raise BadLabelledClipError(f"{shown_name} holds two members named {name[:60]!r}: refused")
        seen.add(name)
        path = PurePosixPath(name)
        if "\\" in name or path.is_absolute() or ".." in path.parts or re.match(r"^[A-Za-z]:", name):
            raise BadLabelledClipError(f"{shown_name} holds a path that leaves the archive ({name[:60]!r}): refused")
        if stat.S_ISLNK(member.external_attr >> 16):
            raise BadLabelledClipError(f"{shown_name} holds a symbolic link ({name[:60]!r}): refused")
        if member.flag_bits & 0x1:
            raise BadLabelledClipError(f"{shown_name} is encrypted: zip it again without a password")
        if member.compress_size and member.file_size / member.compress_size > MAX_RATIO:
            raise BadLabelledClipError(f"{shown_name}: {name[:60]!r} inflates {member.file_size // member.compress_size}x, "
                                       "which no image or text file does: refused as a zip bomb")
        if member.is_dir() or IGNORED.search(name):
            continue
        kept.append(member)
    return kept


def _sequence_root(members: list[zipfile.ZipInfo], shown_name: str) -> PurePosixPath:
    """The folder holding img1/: the archive's top, or its one top-level folder."""
    roots = {PurePosixPath(*PurePosixPath(m.filename).parts[:i])
             for m in members for i, part in enumerate(PurePosixPath(m.filename).parts) if part == "img1" and i <= 1}
    if len(roots) != 1:
        found = "no img1/ folder" if not roots else f"{len(roots)} sequences"
        raise BadLabelledClipError(f"{shown_name} holds {found}: a labelled clip is a zip of one sequence, {LAYOUT} "
                                   "(at the top of the archive or inside one folder)")
    return roots.pop()


def _sequence_members(members: list[zipfile.ZipInfo], root: PurePosixPath, limits: LabelledLimits,
                      shown_name: str) -> tuple[list[zipfile.ZipInfo], zipfile.ZipInfo, zipfile.ZipInfo | None]:
    def under(member: zipfile.ZipInfo) -> PurePosixPath | None:
        path = PurePosixPath(member.filename)
        try:
            return path.relative_to(root)
        except ValueError:
            return None

    relative = [(under(m), m) for m in members]
    frames = [(rel, m) for rel, m in relative if rel is not None and len(rel.parts) == 2 and rel.parts[0] == "img1"
              and rel.suffix.lower() in FRAME_SUFFIXES]
    gt = [m for rel, m in relative if rel == PurePosixPath("gt/gt.txt")]
    ini = [m for rel, m in relative if rel == PurePosixPath("seqinfo.ini")]
    if not frames:
        raise BadLabelledClipError(f"{shown_name}: img1/ holds no .jpg or .png frames")
    if not gt:
        raise BadLabelledClipError(f"{shown_name} has no gt/gt.txt: a labelled clip needs its ground truth ({LAYOUT})")
    if len(frames) > limits.max_frames:
        raise BadLabelledClipError(f"{shown_name} holds {len(frames)} frames, more than this server's limit of "
                                   f"{limits.max_frames}: cut the sequence")
    numbers = []
    for rel, _ in frames:
        digits = re.fullmatch(r"(\d+)", rel.stem)
        if digits is None:
            raise BadLabelledClipError(f"{shown_name}: frame file {rel.name[:40]!r} is not numbered "
                                       "(MOTChallenge names frames 000001.jpg, 000002.jpg, ...)")
        numbers.append(int(digits.group(1)))
    order = np.argsort(numbers, kind="stable")
    ordered = [numbers[i] for i in order]
    expected = list(range(ordered[0], ordered[0] + len(ordered)))
    if ordered != expected or ordered[0] not in (0, 1):
        gap = next((e for e, o in zip(expected, ordered) if e != o), ordered[0])
        raise BadLabelledClipError(f"{shown_name}: img1/ frames must be numbered from 1 without gaps "
                                   f"(frame {gap} is missing or repeated)")
    return [frames[i][1] for i in order], gt[0], ini[0] if ini else None


def _extract(bundle: zipfile.ZipFile, member: zipfile.ZipInfo, target: Path) -> None:
    """Copy one member, never more bytes than its directory entry declared."""
    with bundle.open(member) as source, target.open("wb") as out:
        remaining = member.file_size
        while chunk := source.read(min(1 << 20, remaining + 1)):
            remaining -= len(chunk)
            if remaining < 0:
                raise BadLabelledClipError(f"{member.filename[:60]!r} holds more bytes than the archive declares: refused")
            out.write(chunk)


def _read_ini(path: Path, shown_name: str) -> dict[str, str]:
    if not path.is_file():
        return {}
    parser = configparser.ConfigParser()
    parser.optionxform = str
    try:
        parser.read_string(path.read_text(errors="replace"))
    except configparser.Error as exc:
        raise BadLabelledClipError(f"{shown_name}: seqinfo.ini cannot be read ({exc.__class__.__name__})") from None
    if "Sequence" not in parser:
        raise BadLabelledClipError(f"{shown_name}: seqinfo.ini has no [Sequence] section")
    return dict(parser["Sequence"])


def _whole(value: str, key: str, shown_name: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise BadLabelledClipError(f"{shown_name}: seqinfo.ini's {key}={value[:20]!r} is not a whole number") from None


def _safe_name(shown_name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", Path(shown_name).stem)[:40] or "upload"

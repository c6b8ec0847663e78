"""A labelled clip (a zip of one MOTChallenge sequence): every way an archive can be wrong is refused
with the reason before anything is tracked; a good one unpacks to a sequence the frame reader takes."""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path

import pytest

from app.errors import OversizedFramesError, UnsupportedFileError, as_app_error
from app.labelled import BadLabelledClipError, LabelledLimits, unpack_labelled_clip
from model.data.video import FrameTooLargeError, open_frames
from tests.helpers import labelled_zip

LIMITS = LabelledLimits(max_frames=20, max_frame_pixels=3840 * 2160, max_unpacked_bytes=20 * 2**20)


def unpack(archive: Path, tmp_path: Path, limits: LabelledLimits = LIMITS) -> Path:
    return unpack_labelled_clip(archive, tmp_path / "unpacked", limits, "mine.zip")


def refused(archive: Path, tmp_path: Path, match: str, limits: LabelledLimits = LIMITS) -> None:
    with pytest.raises(BadLabelledClipError, match=match):
        unpack(archive, tmp_path, limits)
    assert not (tmp_path / "unpacked").exists()  # nothing half-unpacked is left behind


@pytest.mark.parametrize("top", ["seq", None])
def test_a_sequence_unpacks_to_frames_ground_truth_and_seqinfo(tmp_path: Path, pets_dir: Path, top: str | None) -> None:
    folder = unpack(labelled_zip(pets_dir, tmp_path / "a.zip", 5, top=top,
                                 extra={"__MACOSX/._x": b"junk", "seq/det/det.txt": b"1,-1,1,1,5,5,1"}), tmp_path)
    source = open_frames(folder)
    assert (len(source), source.info.width, source.info.height, source.info.fps) == (5, 768, 576, 7.0)
    assert sorted(p.name for p in (folder / "img1").iterdir()) == [f"{i:06d}.jpg" for i in range(1, 6)]
    assert (folder / "gt" / "gt.txt").read_text().startswith("1,")
    assert not (folder / "det").exists()  # only what a sequence needs is unpacked


def test_without_seqinfo_one_is_written_from_the_frames(tmp_path: Path, pets_dir: Path) -> None:
    archive = tmp_path / "a.zip"
    labelled_zip(pets_dir, archive, 3)
    with zipfile.ZipFile(archive) as src, zipfile.ZipFile(tmp_path / "b.zip", "w") as dst:
        for member in src.infolist():
            if not member.filename.endswith("seqinfo.ini"):
                dst.writestr(member, src.read(member))
    folder = unpack(tmp_path / "b.zip", tmp_path)
    assert "seqLength=3" in (folder / "seqinfo.ini").read_text() and "imWidth=768" in (folder / "seqinfo.ini").read_text()


def test_ground_truth_of_another_clip_is_refused(tmp_path: Path, pets_dir: Path) -> None:
    refused(labelled_zip(pets_dir, tmp_path / "a.zip", 4, gt_shift=10), tmp_path, r"frames 1[0-9]\.\.14 .* frames 1\.\.4")
    refused(labelled_zip(pets_dir, tmp_path / "b.zip", 4, seqinfo={"seqLength": 9}), tmp_path, "seqLength=9 .* 4 frames")
    refused(labelled_zip(pets_dir, tmp_path / "c.zip", 4, seqinfo={"imWidth": 1920}), tmp_path, "imWidth=1920 .* 768x576")


def test_boxes_outside_the_frames_are_refused(tmp_path: Path, pets_dir: Path) -> None:
    archive = labelled_zip(pets_dir, tmp_path / "a.zip", 3, gt_text="1,1,5000,10,20,40,1,-1,-1,-1\n")
    refused(archive, tmp_path, "wholly outside the 768x576 frames")
    refused(labelled_zip(pets_dir, tmp_path / "b.zip", 3, gt_text=""), tmp_path, "no rows")
    refused(labelled_zip(pets_dir, tmp_path / "c.zip", 3, gt_text="1,1,oops\n"), tmp_path, "not MOTChallenge text")


def test_two_members_of_one_name_are_refused(tmp_path: Path, pets_dir: Path) -> None:
    archive = labelled_zip(pets_dir, tmp_path / "a.zip", 3)
    with pytest.warns(UserWarning, match="Duplicate name"), zipfile.ZipFile(archive, "a") as bundle:
        bundle.writestr("seq/gt/gt.txt", "1,1,10,10,20,40,1,-1,-1,-1\n")  # readers disagree on which one counts
    refused(archive, tmp_path, "two members named 'seq/gt/gt.txt'")


@pytest.mark.parametrize("name, match", [
    ("../evil.txt", "leaves the archive"), ("/etc/evil", "leaves the archive"), ("seq\\..\\x", "leaves the archive"),
    ("C:/x.txt", "leaves the archive"),
])
def test_paths_that_leave_the_archive_are_refused(tmp_path: Path, pets_dir: Path, name: str, match: str) -> None:
    refused(labelled_zip(pets_dir, tmp_path / "a.zip", 2, extra={name: b"x"}), tmp_path, match)


def test_links_encryption_and_bombs_are_refused(tmp_path: Path, pets_dir: Path) -> None:
    archive = labelled_zip(pets_dir, tmp_path / "link.zip", 2)
    with zipfile.ZipFile(archive, "a") as bundle:
        link = zipfile.ZipInfo("seq/img1/000003.jpg")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        bundle.writestr(link, "/etc/passwd")
    refused(archive, tmp_path, "symbolic link")
    locked = labelled_zip(pets_dir, tmp_path / "locked.zip", 2)
    with zipfile.ZipFile(locked, "a") as bundle:
        bundle.writestr("seq/notes.txt", b"x")
    data = bytearray(locked.read_bytes())
    central = data.rfind(b"PK\x01\x02")  # the last member's central-directory record: notes.txt
    data[central + 8] |= 0x1  # its "encrypted" bit, as a password-protected zip sets it
    locked.write_bytes(bytes(data))
    refused(locked, tmp_path, "encrypted")
    bomb = labelled_zip(pets_dir, tmp_path / "bomb.zip", 2)
    with zipfile.ZipFile(bomb, "a", compression=zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("seq/notes.txt", b"\0" * (8 * 2**20))
    refused(bomb, tmp_path, "zip bomb")
    refused(bomb, tmp_path, "unpacks to 8 MB, more than the 4 MB allowed", LabelledLimits(20, 3840 * 2160, 4 * 2**20))


def test_layouts_that_are_not_one_sequence_are_refused(tmp_path: Path, pets_dir: Path) -> None:
    refused(labelled_zip(pets_dir, tmp_path / "two.zip", 2, extra={"other/img1/000001.jpg": b"x"}), tmp_path,
            "2 sequences")
    with zipfile.ZipFile(tmp_path / "none.zip", "w") as bundle:
        bundle.writestr("notes.txt", "hello")
    refused(tmp_path / "none.zip", tmp_path, "no img1/ folder")
    refused(labelled_zip(pets_dir, tmp_path / "many.zip", 4), tmp_path, "4 frames, more than this server's limit of 3",
            LabelledLimits(3, 3840 * 2160, 20 * 2**20))
    refused(labelled_zip(pets_dir, tmp_path / "gap.zip", 3, extra={"seq/img1/000009.jpg": b"x"}), tmp_path,
            "numbered from 1 without gaps")
    refused(labelled_zip(pets_dir, tmp_path / "name.zip", 2, extra={"seq/img1/frame_a.jpg": b"x"}), tmp_path,
            "not numbered")


def test_a_frame_that_does_not_decode_or_a_missing_gt_is_refused(tmp_path: Path, pets_dir: Path) -> None:
    archive = labelled_zip(pets_dir, tmp_path / "bad.zip", 2, seqinfo={"seqLength": None})
    with zipfile.ZipFile(archive, "a") as bundle:
        bundle.writestr("seq/img1/000003.jpg", b"not a jpeg")
    refused(archive, tmp_path, "frame 3 of img1/ cannot be decoded")
    with zipfile.ZipFile(tmp_path / "nogt.zip", "w") as bundle:
        bundle.write(pets_dir / "img1" / "000001.jpg", "img1/000001.jpg")
    refused(tmp_path / "nogt.zip", tmp_path, "no gt/gt.txt")


def test_a_file_that_is_not_a_zip_is_an_unsupported_type(tmp_path: Path) -> None:
    (tmp_path / "x.zip").write_bytes(b"GIF89a not a zip at all")
    with pytest.raises(UnsupportedFileError, match="not a zip archive"):
        unpack(tmp_path / "x.zip", tmp_path)


def test_frames_above_the_pixel_limit_are_refused(tmp_path: Path, pets_dir: Path) -> None:
    with pytest.raises(FrameTooLargeError) as caught:
        unpack(labelled_zip(pets_dir, tmp_path / "a.zip", 2), tmp_path, LabelledLimits(20, 640 * 480, 20 * 2**20))
    assert isinstance(as_app_error(caught.value), OversizedFramesError)

"""Frame sources (model/data/video.py): lazy GIF reading, size limits before decoding, damaged files.

The damaged inputs are cut from the real example clips (a truncated MP4 keeps its header but loses
most frames; a truncated GIF breaks mid-frame); the oversized ones are synthesised small on disk.
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from PIL import Image, ImageSequence

from model.data.render import VideoWriter
from model.data.video import (
    DEFAULT_MAX_PIXELS, GIF_FPS, FrameTooLargeError, UnreadableVideoError, check_frame_size, gif_rate, open_frames,
)

GIF = "intel-preview-classroom.gif"  # 45 frames, 480x270
MP4 = "intel-one-by-one-person-detection.mp4"  # 1394 frames, 768x432, header (moov) first
MP4_FRAMES = 1394


def real_clip(videos_dir: Path, name: str) -> Path:
    path = videos_dir / name
    if not path.is_file():
        pytest.skip(f"{name} not in {videos_dir}")
    return path


def truncated(src: Path, fraction: float, out: Path) -> Path:
    data = src.read_bytes()
    out.write_bytes(data[: int(len(data) * fraction)])
    return out


def write_h264(path: Path, frames: list[np.ndarray], fps: int = 10) -> Path:
    """H.264 MP4 from BGR frames (even sizes), ultrafast: tiny files even for 8K flat frames."""
    with VideoWriter(path, fps, preset="ultrafast") as writer:
        for frame in frames:
            writer.write(frame)
    return path


def gif_with_canvas(path: Path, width: int, height: int) -> Path:
    """A valid 8x8 GIF whose header then claims a ``width x height`` logical screen."""
    Image.new("P", (8, 8)).save(path)
    data = bytearray(path.read_bytes())
    data[6:10] = width.to_bytes(2, "little") + height.to_bytes(2, "little")  # logical screen descriptor
    path.write_bytes(bytes(data))
    return path


# ------------------------------------------------------------------------------------ size limits


def test_frame_size_limit_counts_pixels_and_says_how_to_shrink() -> None:
    check_frame_size("ok.mp4", 3840, 2160, 3840 * 2160)  # exactly at the limit passes
    with pytest.raises(FrameTooLargeError) as info:
        check_frame_size("big.mp4", 7680, 4320, 3840 * 2160)
    # 7680 * 4320 = 33,177,600 px = 33.2 MP; 3840 * 2160 = 8,294,400 px = 8.3 MP
    assert "7680x4320 frames (33.2 megapixels)" in str(info.value)
    assert "the 8.3 megapixels allowed" in str(info.value) and "scale=1280:-2" in str(info.value)
    assert DEFAULT_MAX_PIXELS == 33_177_600  # 8K UHD passes the library's default


def test_an_8k_video_is_refused_from_its_header_under_a_4k_limit(tmp_path: Path) -> None:
    clip = write_h264(tmp_path / "eight_k.mp4", [np.full((4320, 7680, 3), 90, np.uint8)] * 2)
    with pytest.raises(FrameTooLargeError, match="7680x4320"):
        open_frames(clip, max_pixels=3840 * 2160)
    source = open_frames(clip)  # the library default admits 8K
    assert (source.info.width, source.info.height, len(source)) == (7680, 4320, 2)


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # PIL warns; our check refuses
def test_a_gif_announcing_a_huge_canvas_is_refused_before_decoding(tmp_path: Path) -> None:
    # 12000 x 12000 = 144 MP: under PIL's own bomb error (2 x 89.5 MP), so only our check stops it.
    with pytest.raises(FrameTooLargeError, match="12000x12000 frames"):
        open_frames(gif_with_canvas(tmp_path / "wide.gif", 12000, 12000))
    # 65535 x 65535 = 4295 MP: PIL refuses on open; it must still arrive as our error type.
    with pytest.raises(FrameTooLargeError, match="too large to decode safely"):
        open_frames(gif_with_canvas(tmp_path / "bomb.gif", 65535, 65535))


# ------------------------------------------------------------------------------------ GIFs, lazily


def test_gif_frames_match_a_full_decode_and_count_without_decoding(videos_dir: Path) -> None:
    gif = real_clip(videos_dir, GIF)
    source = open_frames(gif, first=3, last=6)
    assert (source.info.num_frames, source.info.width, source.info.height) == (45, 480, 270)
    frames = list(source)
    assert [n for n, _ in frames] == [3, 4, 5, 6]
    with Image.open(gif) as image:
        reference = [np.asarray(f.convert("RGB"))[:, :, ::-1] for _, f in zip(range(6), ImageSequence.Iterator(image))]
    for (_, frame), expected in zip(frames, reference[2:6]):
        assert frame.dtype == np.uint8 and frame.shape == (270, 480, 3)
        np.testing.assert_array_equal(frame, expected)


def test_a_gif_plays_at_the_rate_its_frame_delays_give(tmp_path: Path, videos_dir: Path) -> None:
    assert gif_rate([80, 80, 80, 500]) == 12.5  # the median ignores a long pause on one frame
    assert gif_rate([0, 10, 0]) == GIF_FPS  # delays browsers replace: the nominal rate
    assert gif_rate([40]) == 25.0
    frames = [Image.new("RGB", (16, 16), (i * 40, 0, 0)) for i in range(5)]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:], duration=50, loop=0)
    assert open_frames(tmp_path / "a.gif").info.fps == 20.0
    assert open_frames(real_clip(videos_dir, GIF)).info.fps == 14.286  # 70 ms a frame


def test_reading_a_long_gif_holds_one_frame_at_a_time(tmp_path: Path) -> None:
    # 60 frames of 640x480: 55 MB once decoded (60 * 640 * 480 * 3); the file itself is small.
    ramp = np.add.outer(np.arange(480), np.arange(640)).astype(np.uint8)
    images = [Image.fromarray(np.roll(ramp, 8 * i, axis=1)).convert("P") for i in range(60)]
    gif = tmp_path / "long.gif"
    images[0].save(gif, save_all=True, append_images=images[1:], duration=100)
    tracemalloc.start()
    try:
        source = open_frames(gif)
        count = sum(1 for _ in source)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == len(source) == 60
    assert peak < 8 * 640 * 480 * 3  # a few frames' worth, never the 60 a full decode would hold


# ------------------------------------------------------------------------------------ damaged files


def test_a_truncated_mp4_reads_its_intact_start_and_fails_loudly_past_it(videos_dir: Path, tmp_path: Path) -> None:
    cut = truncated(real_clip(videos_dir, MP4), 0.015, tmp_path / "cut.mp4")  # header + ~9 frames
    source = open_frames(cut, last=5)
    assert source.info.num_frames == MP4_FRAMES  # the header still promises the whole clip
    assert [n for n, _ in source] == [1, 2, 3, 4, 5]
    with pytest.raises(UnreadableVideoError, match=f"cut.mp4 stopped decoding after frame \\d+ although its header announces {MP4_FRAMES}"):
        list(open_frames(cut, last=40))


def test_an_mp4_cut_before_its_first_frame_has_no_decodable_frames(videos_dir: Path, tmp_path: Path) -> None:
    cut = truncated(real_clip(videos_dir, MP4), 0.01, tmp_path / "header_only.mp4")  # 33 KB: moov, no whole frame
    with pytest.raises(UnreadableVideoError, match="header_only.mp4 has no decodable frames"):
        open_frames(cut)


def test_a_truncated_gif_fails_on_the_broken_frame(videos_dir: Path, tmp_path: Path) -> None:
    cut = truncated(real_clip(videos_dir, GIF), 0.1, tmp_path / "cut.gif")
    source = open_frames(cut)  # the first frame decodes; the last one PIL can find is cut off
    numbers = []
    with pytest.raises(UnreadableVideoError, match=f"cannot decode frame {len(source)} of cut.gif"):
        for number, _ in source:
            numbers.append(number)
    assert numbers == list(range(1, len(source)))


@pytest.mark.parametrize("name", ["garbage.mp4", "garbage.gif"])
def test_bytes_that_are_no_video_are_unreadable(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"this is a text file, not a clip\n" * 20)
    with pytest.raises(UnreadableVideoError, match="garbage"):
        open_frames(path)


def test_a_missing_file_is_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such file"):
        open_frames(tmp_path / "absent.mp4")


def test_a_single_frame_video_reads_as_one_frame(tmp_path: Path) -> None:
    frame = cv2.cvtColor(np.add.outer(np.arange(64), np.arange(96)).astype(np.uint8), cv2.COLOR_GRAY2BGR)
    source = open_frames(write_h264(tmp_path / "one.mp4", [frame]))
    frames = list(source)
    assert len(source) == 1 and [n for n, _ in frames] == [1]
    assert frames[0][1].shape == (64, 96, 3)


def test_a_stream_without_a_stored_count_is_counted_only_up_to_the_limit(tmp_path: Path) -> None:
    raw = tmp_path / "raw.h264"  # an elementary H.264 stream: no container, so no frame count
    with av.open(str(raw), "w", format="h264") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
        for i in range(40):
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.full((64, 96, 3), 5 * i, np.uint8), format="bgr24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    clip = raw.rename(tmp_path / "raw.mp4")  # as a client would name it
    full = open_frames(clip)
    assert (len(full), full.count_is_lower_bound) == (40, False)
    capped = open_frames(clip, count_limit=10)
    assert (len(capped), capped.count_is_lower_bound) == (10, True)
    assert [n for n, _ in capped] == list(range(1, 11))

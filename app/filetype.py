"""What an upload really is, from its first bytes, and what to call it on screen.

Why not trust the name: a client chooses the filename, so a PNG renamed ``clip.mp4`` would be
decoded by FFmpeg as a one-frame "video", a GIF named ``.mp4`` would go to the wrong decoder, and
a name like ``../../etc/x.mp4`` or one full of control characters would end up in messages. The
service therefore decides the decoder from the content, stores the upload under a name of its own
(``upload.<suffix>`` in the job's folder), and only ever shows a cleaned-up version of the name.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

HEAD_BYTES = 64  # enough for every signature below
DISPLAY_NAME_MAX = 80

# (offset, signature, what it is) for still-image formats people upload by mistake.
IMAGE_SIGNATURES = (
    (0, b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (0, b"\xff\xd8\xff", "a JPEG image"),
    (0, b"BM", "a BMP image"),
    (0, b"II*\x00", "a TIFF image"),
    (0, b"MM\x00*", "a TIFF image"),
    (0, b"\x00\x00\x01\x00", "an ICO image"),
    (0, b"\x00\x00\x00\x0cjP  \r\n\x87\n", "a JPEG 2000 image"),
)
# ISO-BMFF brands that are still images (HEIC/AVIF share the MP4 container).
IMAGE_BRANDS = {b"heic": "a HEIC image", b"heix": "a HEIC image", b"mif1": "a HEIF image",
                b"avif": "an AVIF image", b"avis": "an AVIF image sequence"}
MP4_FIRST_BOXES = (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip")


@dataclass(frozen=True)
class Sniffed:
    """The verdict on an upload's first bytes.

    Attributes:
        kind: "video" (a container our decoders read), "archive" (a zip: a labelled sequence,
            app.labelled), "image" (a still picture), "text" (plain text, e.g. notes renamed .mp4) or
            "unknown" (let the decoder try, and say so if it cannot).
        description: what it is, for messages ("a PNG image", "an MP4/QuickTime video").
        suffix: the suffix the decoders should see (".mp4", ".avi", ".mkv", ".gif"; ".zip" for an archive).
    """

    kind: str
    description: str
    suffix: str | None = None


def sniff(head: bytes) -> Sniffed:
    """Classify an upload by its first :data:`HEAD_BYTES` bytes."""
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):  # a zip (an empty one starts with its end record)
        return Sniffed("archive", "a zip archive", ".zip")
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return Sniffed("video", "a GIF", ".gif")
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return Sniffed("image", "a WebP image")
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return Sniffed("video", "an AVI video", ".avi")
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return Sniffed("video", "a Matroska/WebM video", ".mkv")
    if head[4:8] == b"ftyp" and head[8:12] in IMAGE_BRANDS:
        return Sniffed("image", IMAGE_BRANDS[head[8:12]])
    if head[4:8] in MP4_FIRST_BOXES:
        return Sniffed("video", "an MP4/QuickTime video", ".mp4")
    for offset, signature, description in IMAGE_SIGNATURES:
        if head[offset : offset + len(signature)] == signature:
            return Sniffed("image", description)
    if head and _is_text(head):
        return Sniffed("text", "a text file")
    return Sniffed("unknown", "not a recognised video format")


def _is_text(head: bytes) -> bool:
    """Printable UTF-8 (tabs and newlines allowed) with no NUL: no video container starts like that."""
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:  # a multi-byte character cut at the end of the head is still text
        try:
            text = head[:-3].decode("utf-8") if len(head) > 3 else ""
        except UnicodeDecodeError:
            return False
    return bool(text) and all(ch.isprintable() or ch in "\t\r\n" for ch in text)


_UNSAFE = re.compile(r"[\\/]")


def display_name(filename: str | None, fallback: str = "the upload") -> str:
    """A client's filename made safe to echo: last path part, no control/format characters, short.

    Never used as a path; only shown in messages and in ``meta.source.filename``.
    """
    if not filename:
        return fallback
    name = _UNSAFE.split(unicodedata.normalize("NFC", filename))[-1]
    # Cc = control (NUL, newlines), Cf = format (bidi overrides that reverse how a name reads), Cs/Co/Cn.
    name = "".join(ch for ch in name if not unicodedata.category(ch).startswith("C")).strip()
    if name in ("", ".", ".."):
        return fallback
    if len(name) > DISPLAY_NAME_MAX:
        stem, dot, suffix = name.rpartition(".")
        keep = f".{suffix}" if dot and len(suffix) <= 8 else ""
        name = name[: DISPLAY_NAME_MAX - len(keep) - 1] + "…" + keep
    return name

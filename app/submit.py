"""From an uploaded file to a queued job: the one path the API and the UI both take.

Why one path: the file-type check, the probe of the clip (readable? too long? frames too big?) and
the model checks must answer the same way whether a clip comes from curl or from the browser, and
must happen before the job queues, so a bad upload is refused at once instead of failing minutes
later. The client's filename only picks among the accepted suffixes and is shown (cleaned) in
messages; the file is stored as ``upload.<suffix>`` inside the job's own folder, with the suffix
taken from its content where that is recognisable.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import BinaryIO

from app.config import ACCEPTED_SUFFIXES, UPLOAD_SUFFIXES
from app.errors import EmptyUploadError, UnsupportedFileError, UploadTooLargeError, as_app_error
from app.filetype import HEAD_BYTES, display_name, sniff
from app.jobs import Job, JobManager
from app.labelled import LABELLED_SUFFIX, LAYOUT, UNPACKED_FACTOR, LabelledLimits, unpack_labelled_clip
from app.service import TrackingService, TrackOptions
from app.worker import JobRequest, TrackingWorkers
from model.data.video import UnreadableVideoError

COPY_CHUNK = 1024 * 1024
ACCEPTED = ", ".join(s.lstrip(".") for s in UPLOAD_SUFFIXES) + f", or a labelled sequence as {LABELLED_SUFFIX.lstrip('.')}"
LABELLED_FOLDER = "upload-sequence"  # "upload*": swept with the upload once the job is tracked


def upload_suffix(filename: str | None) -> str:
    """The lower-case suffix of an accepted upload name; UnsupportedFileError otherwise."""
    suffix = Path(display_name(filename, fallback="")).suffix.lower()
    if suffix not in ACCEPTED_SUFFIXES:
        raise UnsupportedFileError(f"{display_name(filename)} is not a supported clip: upload one of {ACCEPTED}")
    return suffix


def save_upload(data: BinaryIO, target: Path, limit_bytes: int, shown_name: str) -> int:
    """Copy ``data`` to ``target`` in chunks, refusing past ``limit_bytes``; returns the size.

    The HTTP routes are already limited while the body streams in (app.upload_limit); this second
    check covers every other way in (the UI hands over a file Gradio stored).
    """
    size = 0
    with target.open("wb") as out:
        while chunk := data.read(COPY_CHUNK):
            size += len(chunk)
            if size > limit_bytes:
                raise UploadTooLargeError(
                    f"{shown_name} is larger than this server's {limit_bytes // (1024 * 1024)} MB limit: "
                    "cut or re-encode the clip, or track only its start"
                )
            out.write(chunk)
    if size == 0:
        raise EmptyUploadError(f"{shown_name} is empty (0 bytes): choose the clip again and wait for it to upload")
    return size


def store_by_content(upload: Path, shown_name: str) -> Path:
    """Refuse still images; give a recognised video (or zip) the suffix its reader needs."""
    with upload.open("rb") as handle:
        verdict = sniff(handle.read(HEAD_BYTES))
    if verdict.kind in ("image", "text"):
        raise UnsupportedFileError(f"{shown_name} is {verdict.description}, not a video: upload one of {ACCEPTED}")
    if upload.suffix.lower() == LABELLED_SUFFIX and verdict.kind != "archive":
        raise UnsupportedFileError(f"{shown_name} is not a zip archive: a labelled clip is a zip of {LAYOUT}")
    if verdict.kind in ("video", "archive") and verdict.suffix != upload.suffix.lower():
        return upload.rename(upload.with_name(f"upload{verdict.suffix}"))
    return upload


def unpack_if_labelled(upload: Path, service: TrackingService, shown_name: str) -> Path:
    """A zip becomes its checked sequence folder beside it (the zip itself is deleted); a video stays."""
    if upload.suffix != LABELLED_SUFFIX:
        return upload
    config = service.config
    limits = LabelledLimits(max_frames=config.max_frames, max_frame_pixels=config.max_frame_pixels,
                            max_unpacked_bytes=config.max_upload_bytes * UNPACKED_FACTOR)
    folder = unpack_labelled_clip(upload, upload.with_name(LABELLED_FOLDER), limits, shown_name)
    upload.unlink()
    return folder


def client_key(host: str | None, headers: Mapping[str, str], trust_forwarded_for: bool) -> str:
    """Who is asking, for the per-client job bound: the connection's address, or behind a trusted proxy
    the last ``X-Forwarded-For`` hop -- the address that proxy saw and appended. Earlier hops are
    whatever the client sent, so they are never used."""
    if trust_forwarded_for:
        forwarded = headers.get("x-forwarded-for", "").split(",")[-1].strip()
        if forwarded:
            return forwarded
    return host or "unknown"


def submit_clip(
    service: TrackingService, jobs: JobManager, workers: TrackingWorkers, data: BinaryIO, filename: str | None,
    options: TrackOptions, owner: str | None = None,
) -> Job:
    """Save ``data`` into a new job folder, validate it against ``options``, and queue its tracking (in a
    worker process, under a deadline) for ``owner`` (see :func:`client_key`)."""
    suffix = upload_suffix(filename)
    service.check_options(options)
    if jobs.is_full():  # before copying and probing: a refusal should cost nothing
        raise jobs.refusal()
    if jobs.owner_is_busy(owner):
        raise jobs.owner_refusal(owner)
    shown_name = display_name(filename)
    job_id, folder = jobs.new_job()
    upload = folder / f"upload{suffix}"
    try:
        save_upload(data, upload, service.config.max_upload_bytes, shown_name)
        upload = unpack_if_labelled(store_by_content(upload, shown_name), service, shown_name)
        plan = service.plan(upload, options, filename=shown_name)
        request = JobRequest(upload, shown_name, options)
        frames = plan.work_frames
        return jobs.submit(job_id, lambda out_dir, progress: workers.run(request, frames, out_dir, progress), frames,
                           owner)
    except UnreadableVideoError as exc:  # name the user's file, not our copy of it (nor its folder)
        jobs.discard(job_id)
        message = str(exc).replace(str(upload), shown_name).replace(upload.name, shown_name)
        mapped = as_app_error(type(exc)(message.replace(str(upload.parent), "")))
        raise mapped from None
    except BaseException:
        jobs.discard(job_id)
        raise

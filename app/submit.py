"""From an uploaded file to a queued job: the one path the API and the UI both take.

Why one path: the file-type check, the probe of the clip (readable? too long?) and the model
checks must answer the same way whether a clip comes from curl or from the browser, and must
happen before the job queues, so a bad upload is refused at once instead of failing minutes later.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import BinaryIO

from app.config import UPLOAD_SUFFIXES
from app.errors import UnsupportedFileError, as_app_error
from model.video import UnreadableVideoError
from app.jobs import Job, JobManager
from app.service import TrackingService, TrackOptions


def upload_suffix(filename: str | None) -> str:
    """The lower-case suffix of an accepted upload name; UnsupportedFileError otherwise."""
    suffix = Path(filename or "").suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        raise UnsupportedFileError(
            f"{filename or 'the upload'!s} is not a supported clip: upload one of "
            f"{', '.join(s.lstrip('.') for s in UPLOAD_SUFFIXES)}"
        )
    return suffix


def submit_clip(
    service: TrackingService, jobs: JobManager, data: BinaryIO, filename: str | None, options: TrackOptions
) -> Job:
    """Save ``data`` into a new job folder, validate it against ``options``, and queue the tracking."""
    suffix = upload_suffix(filename)
    service.check_options(options)
    job_id, folder = jobs.new_job()
    upload = folder / f"upload{suffix}"
    shown_name = Path(filename or upload.name).name
    try:
        with upload.open("wb") as out:
            shutil.copyfileobj(data, out, length=1024 * 1024)
        plan = service.plan(upload, options, filename=shown_name)
        return jobs.submit(job_id, lambda out_dir, progress: service.run(plan, out_dir, progress), plan.frames_total)
    except UnreadableVideoError as exc:  # name the user's file, not our copy of it
        jobs.discard(job_id)
        mapped = as_app_error(UnreadableVideoError(str(exc).replace(upload.name, shown_name)))
        raise mapped from None
    except BaseException:
        jobs.discard(job_id)
        raise

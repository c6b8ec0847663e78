"""REST routes: ``/track``, ``/jobs``, ``/models``, ``/health``.

Why plain ``def`` routes: tracking is CPU-bound; FastAPI runs ``def`` routes in its thread pool,
so a long ``/track`` never blocks the event loop that also serves the Gradio UI. The heavy work
itself always runs on the job pool (:mod:`app.jobs`), which bounds how many clips run at once.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import FileResponse, PlainTextResponse, Response

from app.config import ACCEPTED_SUFFIXES, UPLOAD_SUFFIXES, AppConfig
from app.errors import (
    JOB_ERRORS, UPLOAD_ERRORS, BadOptionError, ErrorBody, JobFailedError, JobNotFoundError, JobNotReadyError,
)
from app.jobs import Job, JobManager
from app.schemas import Health, JobStatus, ModelsStatus, TrackResult
from app.service import TrackingService, TrackOptions
from app.submit import client_key, submit_clip
from app.worker import TrackingWorkers
from model import __version__
from model.core.choices import BOTH, DEGRADE_CHOICES, NO_DEGRADATION, SEED_MAX, VARIANT_CHOICES, VARIANTS

# Literal[...] of a tuple spells out its members, so /docs lists the choices from model.core.choices.
VariantChoice = Literal[VARIANT_CHOICES]  # type: ignore[valid-type]
TrackerVariant = Literal[VARIANTS]  # type: ignore[valid-type]
DegradeChoice = Literal[DEGRADE_CHOICES]  # type: ignore[valid-type]

MULTIPART_SLACK_BYTES = 64 * 1024  # form fields and part headers around the file
UPLOAD_ROUTES = ("/track", "/jobs")  # bodies limited by app.upload_limit while they stream
API_PATHS = ("/track", "/jobs", "/models", "/health", "/openapi.json", "/docs", "/redoc", "/docs-assets")  # the REST side

VideoField = Annotated[
    UploadFile,
    File(description=f"the clip: {', '.join(s.lstrip('.') for s in UPLOAD_SUFFIXES)} (animated GIF included); or a "
                     "labelled clip: a zip of one MOTChallenge sequence (img1/, gt/gt.txt, seqinfo.ini), tracked and "
                     "scored against its ground truth (HOTA, DetA, AssA, MOTA, IDF1 in 'scores')"),
]


def track_options(
    variant: Annotated[VariantChoice, Form(
        description="which tracker(s) to run; 'both' runs them on the same detector output")] = BOTH,
    student: Annotated[bool | None, Form(
        description="VSD-MOT: run the student (default: as trained); not applicable to the baseline")] = None,
    dswr: Annotated[bool | None, Form(
        description="VSD-MOT: DSWR on, else fixed-ratio fusion (default: as trained); not applicable to the baseline")] = None,
    degrade: Annotated[DegradeChoice, Form(
        description="degrade the clip before tracking (Real-ESRGAN-style blur, noise, resize, JPEG)")] = NO_DEGRADATION,
    seed: Annotated[int, Form(ge=0, le=SEED_MAX,
                              description="degradation seed: the same seed gives the same degradation")] = 0,
    max_frames: Annotated[int | None, Form(ge=1, description="track only the first N frames")] = None,
    sweep: Annotated[bool, Form(
        description="robustness sweep: also track the clip clean and at every preset (same seed) and compare the "
                    "levels in 'sweep' (agreement with the clean run; accuracy too for a labelled zip). "
                    "Takes one pass per level")] = False,
) -> TrackOptions:
    return TrackOptions(variant=variant, student=student, dswr=dswr, degrade=degrade, seed=seed, max_frames=max_frames,
                        sweep=sweep)


def job_status(jobs: JobManager, job: Job) -> dict[str, Any]:
    base = f"/jobs/{job.id}"
    return {
        "id": job.id,
        "state": job.state,
        "queue_position": jobs.queue_position(job.id),
        "progress": {"frames_done": job.frames_done, "frames_total": job.frames_total, "eta_s": jobs.eta(job)},
        "error": job.error,
        "created_at": job.created_at,
        "finished_at": job.finished_at,
        "expires_at": jobs.expires_at(job),
        "links": {"status": base, "result": f"{base}/result", "video": f"{base}/video", "mot": f"{base}/mot/{{variant}}"},
    }


def finished_job(jobs: JobManager, job_id: str) -> Job:
    """The job if it finished well; 409 with the reason otherwise."""
    job = jobs.get(job_id)
    if job.state == "failed":
        raise JobNotReadyError(f"job {job_id} failed: {job.error}")
    if not job.finished:
        raise JobNotReadyError(f"job {job_id} is {job.state}: poll GET /jobs/{job_id} until its state is 'done'")
    return job


def build_router(service: TrackingService, jobs: JobManager, workers: TrackingWorkers, config: AppConfig) -> APIRouter:
    router = APIRouter()

    @router.get("/health", response_model=Health, tags=["service"])
    def health() -> dict[str, Any]:
        """Liveness, readiness (can any tracker run?), the user-facing limits and the job counts."""
        return {
            "status": "ok",
            "version": __version__,
            "ready": service.ready,
            "limits": {"max_upload_mb": config.max_upload_mb, "max_frames": config.max_frames,
                       "max_frame_pixels": config.max_frame_pixels,
                       "upload_types": [s.lstrip(".") for s in ACCEPTED_SUFFIXES], "job_ttl_s": config.job_ttl_s},
            "jobs": jobs.counts(),
            "device": service.device_status(),
        }

    @router.get("/models", response_model=ModelsStatus, tags=["service"])
    def models() -> ModelsStatus:
        """What is loaded, with checkpoint hashes and teachers, and what is missing and why."""
        return service.models_status()

    def owner(request: Request) -> str:
        return client_key(request.client.host if request.client else None, request.headers, config.trust_forwarded_for)

    @router.post(
        "/track", response_model=TrackResult, tags=["tracking"],
        responses={**UPLOAD_ERRORS, 200: {"content": {"text/plain": {"example": "1,1,10.0,20.0,30.0,60.0,0.9,-1,-1,-1"}},
                                          "description": "JSON (output=json) or MOTChallenge text (output=mot)"}},
    )
    def track(
        request: Request,
        video: VideoField,
        options: Annotated[TrackOptions, Depends(track_options)],
        output: Annotated[Literal["json", "mot"], Form(
            description="json: tracks, per-frame quality and metadata; mot: MOTChallenge text of ONE variant")] = "json",
    ) -> Any:
        """Track a clip and wait for the answer (no video is rendered; use POST /jobs for that).

        Track IDs restart at 1 for every request. Where the VSD-MOT checkpoint is missing and
        variant=both, the baseline runs and ``unavailable`` says why VSD-MOT did not.
        """
        if output == "mot" and options.variant == BOTH:
            raise BadOptionError("output=mot returns one tracker's file: choose variant=baseline or vsd-mot")
        options.render = False
        job = submit_clip(service, jobs, workers, video.file, video.filename, options, owner(request))
        job = jobs.wait(job.id)
        if job.state == "failed":
            raise JobFailedError(job.error or "tracking failed", job.error_status, job.error_code)
        if output == "mot":
            return PlainTextResponse((jobs.folder(job.id) / f"{options.variant}.txt").read_text())
        return Response(jobs.result_json(job.id), media_type="application/json")  # stored as TrackResult

    @router.post("/jobs", response_model=JobStatus, status_code=202, tags=["jobs"], responses=UPLOAD_ERRORS)
    def create_job(request: Request, video: VideoField,
                   options: Annotated[TrackOptions, Depends(track_options)]) -> dict[str, Any]:
        """Queue a clip and return at once; poll ``GET /jobs/{id}``. Renders the side-by-side video."""
        return job_status(jobs, submit_clip(service, jobs, workers, video.file, video.filename, options, owner(request)))

    @router.get("/jobs/{job_id}", response_model=JobStatus, tags=["jobs"], responses=JOB_ERRORS)
    def get_job(job_id: str) -> dict[str, Any]:
        """State, queue position, progress (frames done / total, ETA) and where the results are."""
        return job_status(jobs, jobs.get(job_id))

    not_ready = {409: {"model": ErrorBody, "description": "The job has not finished, or it failed (the detail says why)."}}

    @router.get("/jobs/{job_id}/result", response_model=TrackResult, tags=["jobs"],
                responses={**JOB_ERRORS, **not_ready})
    def job_result(job_id: str) -> Response:
        """The same JSON as ``POST /track``."""
        finished_job(jobs, job_id)
        return Response(jobs.result_json(job_id), media_type="application/json")  # stored as TrackResult

    @router.get("/jobs/{job_id}/video", tags=["jobs"],
                responses={**JOB_ERRORS, **not_ready, 200: {"content": {"video/mp4": {}},
                                                             "description": "H.264 MP4, trackers side by side"}})
    def job_video(job_id: str) -> FileResponse:
        """The rendered video: each tracker's panel side by side, boxes coloured and labelled by ID."""
        finished_job(jobs, job_id)
        path = jobs.folder(job_id) / "side_by_side.mp4"
        if not path.is_file():
            raise JobNotFoundError(f"job {job_id} rendered no video (POST /track never renders; use POST /jobs)")
        return FileResponse(path, media_type="video/mp4", filename=f"vsdmot-{job_id[:8]}.mp4")

    @router.get("/jobs/{job_id}/mot/{variant}", tags=["jobs"],
                responses={**JOB_ERRORS, **not_ready, 200: {"content": {"text/plain": {}},
                                                             "description": "MOTChallenge text"}})
    def job_mot(job_id: str, variant: TrackerVariant) -> FileResponse:
        """One tracker's output as MOTChallenge text (``frame,id,x,y,w,h,conf,-1,-1,-1``)."""
        finished_job(jobs, job_id)
        path = jobs.folder(job_id) / f"{variant}.txt"
        if not path.is_file():
            raise JobNotFoundError(f"{variant} did not run in job {job_id} (see 'unavailable' in its result)")
        return FileResponse(path, media_type="text/plain", filename=f"{variant}-{job_id[:8]}.txt")

    @router.api_route("/jobs/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
    def no_such_job_route(rest: str) -> None:
        """Anything else under /jobs/ (e.g. an id with a slash in it): the API's 404, not the UI's."""
        raise JobNotFoundError(f"no such job resource: /jobs/{rest[:60]}; see /docs for the job routes")

    return router

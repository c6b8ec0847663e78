"""FastAPI application factory: models, job pool, REST routes and the Gradio UI in one process.

Order matters: Gradio mounted at "/" catches every path, so the API routes are registered before
the mount (routes added after it would answer 404). Middlewares run outermost first: the path
context (request id, security headers), the path guard, then admission (queue full -> 429 before
the body is read), then the streaming size limit.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from app.api import API_PATHS, MULTIPART_SLACK_BYTES, UPLOAD_ROUTES, build_router
from app.config import AppConfig
from app.docs import install_docs
from app.errors import install_error_handlers
from app.gate import Admission, CrossOriginGuard, PathGuard, RequestContext
from app.jobs import JobManager
from app.service import TrackingService
from app.upload_limit import UploadSizeLimit
from app.worker import TrackingWorkers
from model import __version__

GRADIO_UPLOAD_ROUTE = "/gradio_api/upload"  # where the page's file component posts (Gradio 5, mounted at /)

DESCRIPTION = """Multi-object tracking of people in low-quality video: the baseline query tracker and
VSD-MOT (student + DSWR), side by side on the same detector output.

`POST /track` answers with the tracks directly; `POST /jobs` queues a clip, renders the
side-by-side video and reports progress. Errors are JSON `{"error": code, "detail": sentence}`.
The web UI is at `/`."""


def create_app(config: AppConfig | None = None, worker_initializer: Callable[[], None] | None = None) -> FastAPI:
    """Build the whole service; loads the detector and tracker weights once, here (for validating
    requests), and once more in each tracking worker process. ``worker_initializer`` runs first in
    every worker process (tests put a hanging or crashing decoder in place with it)."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    import gradio as gr

    from app.ui import build_ui

    config = config or AppConfig.from_env()
    service = TrackingService(config)
    jobs = JobManager(config.jobs_dir, config.workers, config.max_queued, config.job_ttl_s,
                      per_owner=config.max_jobs_per_client)
    workers = TrackingWorkers(config, worker_initializer)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        jobs.shutdown()
        workers.shutdown()

    app = FastAPI(title="VSD-MOT", version=__version__, description=f"{DESCRIPTION}\n\nLimits: {config.limits_text()}",
                  lifespan=lifespan, docs_url=None, redoc_url=None)
    install_docs(app)  # /docs and /redoc from local files: FastAPI's own pages need a CDN
    app.state.config, app.state.service, app.state.jobs, app.state.workers = config, service, jobs, workers
    install_error_handlers(app)
    # One admission policy for every way in: REST uploads and the page's uploads (Gradio's own route).
    uploads = (*UPLOAD_ROUTES, GRADIO_UPLOAD_ROUTE)
    app.add_middleware(UploadSizeLimit, limit_bytes=config.max_upload_bytes + MULTIPART_SLACK_BYTES,
                       paths=uploads, limit_text=f"{config.max_upload_mb} MB")
    app.add_middleware(Admission, jobs=jobs, paths=uploads, capacity=config.upload_capacity)
    # CORS is ours to decide, for every path: with this middleware present Gradio's own (which grants any
    # origin, with credentials, on a host that is not localhost) stands aside. No origins unless configured.
    app.add_middleware(CORSMiddleware, allow_origins=list(config.cors_origins), allow_methods=["GET", "POST"],
                       allow_headers=["*"], expose_headers=["X-Request-ID", "Retry-After"])
    if not config.cors_origins:  # the API's refusal of a cross-origin preflight, as JSON
        app.add_middleware(CrossOriginGuard, api_paths=API_PATHS)
    app.add_middleware(PathGuard)
    app.add_middleware(RequestContext)  # added last = runs first: every answer, even a refusal, carries its id
    app.include_router(build_router(service, jobs, workers, config))
    return gr.mount_gradio_app(app, build_ui(service, jobs, workers, config), path="/",
                               max_file_size=f"{config.max_upload_mb}mb", show_error=True)

"""Every error a user can cause, and the one place that turns errors into JSON answers.

Why one module: the API promises ``{"error": <code>, "detail": <sentence>}`` with a 4xx status for
anything the caller can fix (bad file, unknown option, clip too long, model missing). Routes and
the service raise :class:`AppError` subclasses or the library's own exceptions; the handlers here
map both, so no stack trace from deep inside ever reaches a user.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from model.tracking.checkpoint import CheckpointMissingError
from model.data.video import FrameTooLargeError, UnreadableVideoError

log = logging.getLogger("app")
REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)  # set by app.gate.RequestContext


class ErrorBody(BaseModel):
    """The body of every non-2xx answer."""

    error: str
    detail: str
    request_id: str | None = None  # the same id as the X-Request-ID header and the server's log line


class AppError(Exception):
    """A failure the caller can understand and usually fix; ``status`` is the HTTP code."""

    status: int = 400
    code: str = "bad_request"

    def __init__(self, detail: str, retry_after: int | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retry_after = retry_after  # seconds, sent as Retry-After (429 / 503)


class EmptyUploadError(AppError):
    status, code = 400, "empty_upload"


class BadOptionError(AppError):
    status, code = 422, "bad_option"


class UnsupportedFileError(AppError):
    status, code = 415, "unsupported_file"


class UnreadableFileError(AppError):
    status, code = 422, "unreadable_video"


class OversizedFramesError(AppError):
    """Frames above the server's pixel limit: refused from the header, before decoding (see RELIABILITY.md)."""

    status, code = 422, "frames_too_large"


class ClipTooLongError(AppError):
    status, code = 422, "clip_too_long"


class UploadTooLargeError(AppError):
    status, code = 413, "upload_too_large"


class ModelUnavailableError(AppError):
    status, code = 409, "model_unavailable"


class JobNotFoundError(AppError):
    status, code = 404, "job_not_found"


class JobNotReadyError(AppError):
    status, code = 409, "job_not_ready"


class QueueFullError(AppError):
    status, code = 429, "queue_full"


class ClientBusyError(AppError):
    """One client holds its share of the job pool already (per-client fairness)."""

    status, code = 429, "client_busy"


class ServiceUnavailableError(AppError):
    status, code = 503, "unavailable"


class BadPathError(AppError):
    status, code = 404, "not_found"


class CrossOriginRefusedError(AppError):
    status, code = 403, "cross_origin_refused"


class JobFailedError(AppError):
    """A job's stored failure, re-raised with the status it had when it happened."""

    def __init__(self, detail: str, status: int | None, code: str | None) -> None:
        super().__init__(detail)
        self.status, self.code = status or 500, code or "internal_error"


def as_app_error(exc: BaseException) -> AppError | None:
    """The user-facing form of a library exception, or None for a genuine server fault."""
    if isinstance(exc, AppError):
        return exc
    if isinstance(exc, CheckpointMissingError):
        return ModelUnavailableError(str(exc))
    if isinstance(exc, FrameTooLargeError):
        return OversizedFramesError(str(exc))
    if isinstance(exc, UnreadableVideoError):
        return UnreadableFileError(f"{exc}. Upload a video (mp4, avi, mov, webm, mkv) or an animated GIF.")
    return None


def error_response(status: int, code: str, detail: str, retry_after: int | None = None) -> JSONResponse:
    """The JSON error; a caller's mistake (4xx) is logged as one line with the request id."""
    request_id = REQUEST_ID.get()
    if status < 500:
        log.info("%d %s: %s [request %s]", status, code, detail, request_id)
    headers = {"Retry-After": str(int(retry_after))} if retry_after is not None else None
    body = ErrorBody(error=code, detail=detail, request_id=request_id)
    return JSONResponse(status_code=status, content=body.model_dump(), headers=headers)


def app_error_response(exc: AppError) -> JSONResponse:
    return error_response(exc.status, exc.code, exc.detail, exc.retry_after)


# Documented in OpenAPI for every route that can answer with them.
COMMON_ERRORS = {
    422: {"model": ErrorBody, "description": "An option is invalid, or the file cannot be decoded, or the clip is too long."},
    500: {"model": ErrorBody, "description": "A server fault (e.g. the tracking worker died on this clip: "
                                             "`worker_crashed`); the detail says where to look."},
}
UPLOAD_ERRORS = {
    **COMMON_ERRORS,
    409: {"model": ErrorBody, "description": "The requested tracker has no trained checkpoint on this server."},
    413: {"model": ErrorBody, "description": "The upload is larger than the server's limit (see GET /health)."},
    415: {"model": ErrorBody, "description": "The file type is not a supported video or GIF."},
    400: {"model": ErrorBody, "description": "The upload is empty or the body is not multipart/form-data."},
    429: {"model": ErrorBody, "description": "Too many jobs are waiting, or this client already holds its share of "
                                             "them; try again after Retry-After seconds.",
          "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds to wait"}}},
    503: {"model": ErrorBody, "description": "The server is shutting down; try again after Retry-After seconds.",
          "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds to wait"}}},
    504: {"model": ErrorBody, "description": "Tracking the clip took longer than its deadline (base + per frame) and "
                                             "was stopped; only this job failed."},
}
JOB_ERRORS = {404: {"model": ErrorBody, "description": "No such job, or it expired and was cleaned up."}}


MULTIPART_HINT = "Send the clip as multipart/form-data with a file field named 'video' (curl -F video=@clip.mp4 ...)."


def _validation_sentence(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error.get("loc", ()) if p not in ("body", "query", "path", "form"))
        parts.append(f"{where or 'request'}: {error.get('msg', 'invalid')}")
    return "; ".join(parts) + ". See /docs for the accepted values."


def install_error_handlers(app: FastAPI) -> None:
    """Register the JSON error handlers on ``app``."""

    @app.exception_handler(AppError)
    async def _app_error(_: Request, exc: AppError) -> JSONResponse:
        return app_error_response(exc)

    @app.exception_handler(CheckpointMissingError)
    @app.exception_handler(UnreadableVideoError)
    async def _library_error(_: Request, exc: Exception) -> JSONResponse:
        return app_error_response(as_app_error(exc) or AppError(str(exc)))

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(422, "bad_option", _validation_sentence(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 413:  # raised by app.upload_limit while the body streams in
            return error_response(413, UploadTooLargeError.code, str(exc.detail))
        if exc.status_code == 400:  # the multipart parser's complaints ("Invalid multipart data.")
            return error_response(400, "bad_request", f"{str(exc.detail).rstrip('.')}. {MULTIPART_HINT}")
        return error_response(exc.status_code, "http_error", str(exc.detail))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        return unexpected_error_response(exc)


def unexpected_error_response(exc: Exception) -> JSONResponse:
    """A library error a user caused (mapped to its 4xx), or a server fault: traceback to the log under
    the request id, a 500 naming that id to the client -- never the traceback or a server path."""
    mapped = as_app_error(exc)
    if mapped is not None:
        return app_error_response(mapped)
    request_id = REQUEST_ID.get()
    log.error("unhandled error [request %s]", request_id, exc_info=exc)
    return error_response(500, "internal_error",
                          f"internal error ({type(exc).__name__}); the server log has it under request {request_id}")

"""Every request passes here first: it gets an id and the public-Space headers, and some are
refused at the door, before routing and before their body is read.

- :class:`RequestContext` (outermost): a request id (the client's ``X-Request-ID`` when it is a short
  plain token, else a new one) that every log line, every JSON error and the ``X-Request-ID``
  response header carry; and ``X-Content-Type-Options: nosniff`` on every response, ours or Gradio's,
  so a browser never runs an upload it was told is a video.

Why at the door: a route only runs once FastAPI has parsed (and spooled) the whole multipart body,
so a refusal made there still costs the upload's bandwidth, memory and disk. Two refusals cannot
wait that long:

- :class:`PathGuard`: a path with a ``..`` or ``.`` segment (raw or percent-encoded) never reaches
  a route, ours or Gradio's; it gets the API's JSON 404.
- :class:`Admission`: uploads while the job queue is full, or while ``capacity`` uploads are already
  in flight, get 429 (503 while shutting down) with ``Retry-After``. That bounds what concurrent
  clients can make the server hold at once to ``capacity`` x the upload limit.
"""

from __future__ import annotations

import re
import uuid
from urllib.parse import unquote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import (
    REQUEST_ID, BadPathError, CrossOriginRefusedError, QueueFullError, app_error_response, unexpected_error_response,
)
from app.jobs import JobManager

DOT_SEGMENTS = {".", ".."}
CLIENT_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
SECURITY_HEADERS = ((b"x-content-type-options", b"nosniff"),)


class RequestContext:
    """ASGI middleware: a request id for logs, errors and the response, and the security headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        offered = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        request_id = offered if CLIENT_REQUEST_ID.fullmatch(offered) else uuid.uuid4().hex[:16]
        token = REQUEST_ID.set(request_id)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(n, v) for n, v in SECURITY_HEADERS if n not in names]
                message["headers"] = [*message.get("headers", []), *extra, (b"x-request-id", request_id.encode())]
            await send(message)

        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send_with_headers(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:  # a server fault: logged with its traceback, answered without one
            if started:
                raise
            await unexpected_error_response(exc)(scope, receive, send_with_headers)
        finally:
            REQUEST_ID.reset(token)


def has_dot_segment(path: str) -> bool:
    """Whether any ``/``- or ``\\``-separated segment is ``.`` or ``..``, after percent-decoding twice."""
    for candidate in (path, unquote(path), unquote(unquote(path))):
        if any(part in DOT_SEGMENTS for part in candidate.replace("\\", "/").split("/")):
            return True
    return "\x00" in unquote(unquote(path))


class PathGuard:
    """ASGI middleware answering 404 to any path that tries to climb out of its folder."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            raw = scope.get("raw_path") or b""
            if has_dot_segment(scope.get("path", "")) or has_dot_segment(raw.decode("latin-1")):
                error = BadPathError("no such page: paths may not contain '.' or '..' segments")
                await app_error_response(error)(scope, receive, send)
                return
        await self.app(scope, receive, send)


class Admission:
    """ASGI middleware that sheds upload requests the job pool could not take anyway."""

    def __init__(self, app: ASGIApp, jobs: JobManager, paths: tuple[str, ...], capacity: int) -> None:
        self.app, self.jobs, self.paths, self.capacity = app, jobs, paths, capacity
        self.in_flight = 0  # touched only on the event loop's thread: no lock needed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST" or scope.get("path") not in self.paths:
            await self.app(scope, receive, send)
            return
        if self.jobs.is_full():
            await app_error_response(self.jobs.refusal())(scope, receive, send)
            return
        if self.in_flight >= self.capacity:
            wait = self.jobs.retry_after()
            error = QueueFullError(
                f"{self.in_flight} uploads are already being received or tracked (limit {self.capacity}): "
                f"try again in {wait} s", retry_after=wait,
            )
            await app_error_response(error)(scope, receive, send)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1


class CrossOriginGuard:
    """ASGI middleware for a server with CORS off: a browser's cross-origin preflight for an API route
    is refused here, so no other layer (Gradio answers preflights for any path it is mounted under)
    can grant one. Same-origin pages, curl and scripts never send preflights and are not affected."""

    def __init__(self, app: ASGIApp, api_paths: tuple[str, ...]) -> None:
        self.app, self.api_paths = app, api_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("method") == "OPTIONS":
            headers = dict(scope.get("headers") or [])
            path = scope.get("path", "")
            is_api = any(path == p or path.startswith(p.rstrip("/") + "/") for p in self.api_paths)
            if is_api and b"origin" in headers and b"access-control-request-method" in headers:
                error = CrossOriginRefusedError("cross-origin calls are not enabled on this server "
                                                "(its operator can allow origins with VSDMOT_CORS_ORIGINS)")
                await app_error_response(error)(scope, receive, send)
                return
        await self.app(scope, receive, send)

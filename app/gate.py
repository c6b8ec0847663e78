"""Requests refused at the door, before routing and before their body is read.

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

from urllib.parse import unquote

from starlette.types import ASGIApp, Receive, Scope, Send

from app.errors import BadPathError, QueueFullError, app_error_response
from app.jobs import JobManager

DOT_SEGMENTS = {".", ".."}


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

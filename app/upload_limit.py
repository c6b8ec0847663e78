"""Refuse over-large uploads while they stream in, before they reach the disk.

Why a middleware of our own: the multipart parser spools the whole body to a temporary file
before a route runs, so a size check inside the route comes after the damage. Here the body is
counted chunk by chunk: an announced ``Content-Length`` over the limit is refused at once, and a
chunked body is cut off the moment it passes the limit. Both answers are the API's JSON error.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import UploadTooLargeError, error_response


class UploadSizeLimit:
    """ASGI middleware limiting request bodies of POSTs to ``paths`` to ``limit_bytes``."""

    def __init__(self, app: ASGIApp, limit_bytes: int, paths: tuple[str, ...], limit_text: str) -> None:
        self.app, self.limit_bytes, self.paths, self.limit_text = app, limit_bytes, paths, limit_text

    def _message(self) -> str:
        return (f"the upload is larger than this server's {self.limit_text} limit: cut or re-encode the clip, "
                "or track only its start")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST" or scope.get("path") not in self.paths:
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        announced = headers.get(b"content-length")
        if announced is not None and announced.isdigit() and int(announced) > self.limit_bytes:
            response = error_response(413, UploadTooLargeError.code, self._message())
            await response(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit_bytes:
                    # An HTTPException passes through FastAPI's body parsing unchanged and reaches
                    # the 413 handler in app.errors, which answers with the same JSON as above.
                    raise HTTPException(413, self._message())
            return message

        await self.app(scope, counting_receive, send)

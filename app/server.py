"""FastAPI application factory.

The tracker-backed routes (``POST /track``, jobs) and the Gradio UI are mounted here once the
tracker runtime exists; until then the service starts, answers ``/health`` and says what is missing.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from model import __version__


def create_app() -> FastAPI:
    app = FastAPI(title="VSD-MOT", version=__version__, description="Multi-object tracking in low-quality video")

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok", "version": __version__}

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        return (
            "<html><head><title>VSD-MOT</title></head><body><h1>VSD-MOT</h1>"
            "<p>The tracking demo is being built; the service is up. See <a href='/docs'>/docs</a>.</p>"
            "</body></html>"
        )

    return app

"""Entry point (also Hugging Face Spaces' ``app_file``): one process serving API and UI on $PORT."""

from __future__ import annotations

import os

import uvicorn

from app.server import create_app


def main() -> None:
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    uvicorn.run(create_app(), host=os.environ.get("HOST", "0.0.0.0"), port=int(os.environ.get("PORT", "7860")))


if __name__ == "__main__":
    main()

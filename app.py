"""Entry point (also Hugging Face Spaces' ``app_file``): one process serving API and UI on $PORT."""

from __future__ import annotations

import logging
import os

import uvicorn

from app.config import AppConfig
from app.server import create_app


def main() -> None:
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    config = AppConfig.from_env()
    uvicorn.run(create_app(config), host=config.host, port=config.port)


if __name__ == "__main__":
    main()

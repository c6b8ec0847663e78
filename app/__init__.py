"""The VSD-MOT web service: FastAPI backend with the Gradio UI mounted on it."""

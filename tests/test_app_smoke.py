from fastapi.testclient import TestClient

from app.server import create_app


def test_health_answers() -> None:
    client = TestClient(create_app())
    assert client.get("/health").json()["status"] == "ok"
